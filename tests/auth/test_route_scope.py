"""Scope of every route, generated from ``create_app().url_map``.

``ROUTES`` classifies each (method, endpoint) of the real app: which objects it shows
or acts on, and how their site is found.  The walk then sends every route, as
principals of another county, of another city and as a city-bound administrator
(plus another city's agent and kiosk where the route is theirs), against objects that
belong elsewhere: a county of 巢湖 (``chaohu-lujiang``), the province, or nowhere (a
device without a site).  A route nobody classified fails
:func:`test_every_route_is_classified`, so scope cannot be forgotten later.

What counts as kept in scope:

* ``Listing``: the answer names nothing of elsewhere (the foreign markers below); for a
  listing of site objects a principal of the owning site does see them (so the check is
  not vacuous);
* ``Target`` / ``Body``: the request naming a foreign object in its URL or body is
  refused (403/404, or a form's redirect carrying the error), while the same request
  from a principal of the owning site is not;
* afterwards: no foreign object changed, and no walker left an audit row outside its scope.
"""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask

from ipam import observed
from nms.auth import tokens
from nms.auth.policy import declaration_of
from nms.auth.roles import KIOSK_PERMISSIONS, ROLES, permissions_of_role
from nms.config import ROOT
from nms.configs import store as config_store
from nms.configs.credentials import SshCredential
from nms.configs.fetch import FetchResult
from nms.configs.fetch import Target as ConfigTarget
from nms.events import store as event_store
from probes.common.inventory import load_inventory
from probes.events.model import Event
from tests.auth.helpers import app_db, make_app, make_user
from tests.dashboards import alertworld, synth

OWNER_SITE = "chaohu"  # the city whose county owns the foreign objects
FOREIGN_SITE = "chaohu-lujiang"
DEVICE = "lujiang-int-rtr1"  # down: it has an alert
MAINT_DEVICE = "lujiang-ext-sw1"
LINK = "mstp-lujiang"
UNPLACED = "lab-unplaced"  # a configs-file device without a site
FOREIGN_USER = "far-lujiang-user"
ROOT_USER = "prov-root"
# Anything of these in an answer to a walker is a leak.
MARKERS = ("lujiang", "MARK-FOREIGN", ROOT_USER, UNPLACED, "10.250.")
PLACES = {"another county": "chaohu-juchao", "another city": "hefei"}
CITY_ADMIN = "hefei"
LEAST_FIRST = tuple(reversed(ROLES))  # viewer, county_admin, operator, administrator
HOOK_ENV = alertworld.HOOK_KEY_ENV
SSH_ENV = "NMS_TEST_SCOPE_SSH_PW"


# --- the classification --------------------------------------------------------------------------


@dataclass(frozen=True)
class Listing:
    """Shows objects filtered to the caller's scope (or nothing of any site: ``why``)."""

    path: str
    why: str  # how the rows are filtered
    shows: bool = False  # lists site objects: a principal of the owning site sees a marker
    stream: bool = False  # server-sent events: read the first event only


@dataclass(frozen=True)
class Act:
    """Names one object (URL or body); refused unless the object's site is in scope."""

    site_from: str  # how the view finds the object's site
    requests: tuple[dict[str, Any], ...]  # {"path", "json"|"data"|"body", "owner": "chaohu"|"province"}
    redirect_error: bool = False  # a form refusing by redirecting back with ?error=


@dataclass(frozen=True)
class Skip:
    """Acts on the caller only, or on nothing stored; never sent by the walk."""

    why: str


def _r(path: str, owner: str = OWNER_SITE, **kw: Any) -> dict[str, Any]:
    return {"path": path, "owner": owner, **kw}


def _act(site_from: str, *reqs: dict[str, Any], redirect_error: bool = False) -> Act:
    return Act(site_from, reqs, redirect_error)


def _version_act(path: str) -> Act:
    """A config version of a device of elsewhere, and one of a device without a site."""
    return _act(
        "the version's device's site (none: province only)",
        _r(path.format(vid="{cfg_v2}")),
        _r(path.format(vid="{cfg_unplaced}"), "province"),
    )


NOW = time.time()
CSV_FOREIGN = (
    f"space,prefix,status,site,purpose\n专网,10.250.9.0/24,allocated,{FOREIGN_SITE},MARK-FOREIGN-csv\n"
)
CARVE = {"root": "{pool}", "template": {"county": 24}}

ROUTES: dict[str, Listing | Act | Skip] = {
    # --- sign-in, own account -----------------------------------------------------------------
    "GET auth.login": Listing("/login", "the sign-in form: no subject"),
    "POST auth.login": Skip("signs in: acts on no stored subject"),
    "POST auth.logout": Skip("ends the caller's own sessions"),
    "GET auth.whoami": Listing("/api/v1/whoami", "the caller itself"),
    "GET auth.own_password": Listing("/account/password", "the caller's own form"),
    "POST auth.own_password": Skip("changes the caller's own password (checked against it)"),
    # --- administration: accounts, tokens, audit, access ------------------------------------
    "GET auth.admin_users": Listing("/admin/users", "accounts bound inside the scope", shows=True),
    "POST auth.admin_users": _act(
        "the new account's site, and its role no wider than the creator's",
        _r(
            "/admin/users",
            data={"name": "walker-made", "role": "viewer", "site": FOREIGN_SITE, "password": "p" * 14},
        ),
    ),
    "POST auth.admin_user_change": _act(
        "the account's site (and role), then the new site",
        _r(f"/admin/users/{FOREIGN_USER}", data={"op": "disable"}),
        _r(f"/admin/users/{FOREIGN_USER}", data={"op": "reset"}),
        _r(f"/admin/users/{ROOT_USER}", "province", data={"op": "update", "role": "viewer"}),
    ),
    "GET auth.admin_tokens": Listing("/admin/tokens", "tokens whose reach lies inside the scope", shows=True),
    "POST auth.admin_tokens": _act(
        "the token's reach: the user's scope, the agent's sites, the kiosk's site (none = province)",
        _r("/admin/tokens", data={"kind": "agent", "subject": OWNER_SITE}),
        _r("/admin/tokens", "province", data={"kind": "user", "subject": ROOT_USER}),
        _r("/admin/tokens", "province", data={"kind": "kiosk"}),
        _r("/admin/tokens", data={"kind": "kiosk", "site": FOREIGN_SITE}),
    ),
    "POST auth.admin_token_revoke": _act(
        "the token's reach",
        _r("/admin/tokens/{tok_agent}/revoke"),
        _r("/admin/tokens/{tok_kiosk}/revoke", "province"),
        _r("/admin/tokens/{tok_root}/revoke", "province"),
    ),
    "GET auth.admin_audit": Listing("/admin/audit", "rows filed under a site of the scope", shows=True),
    "GET auth.admin_audit_csv": Listing(
        "/admin/audit.csv", "rows filed under a site of the scope", shows=True
    ),
    "GET auth.admin_access": _act(
        "the site asked about / the user's site",
        _r(f"/admin/access?site={FOREIGN_SITE}"),
        _r(f"/admin/access?user={ROOT_USER}", "province"),
    ),
    "GET auth.admin_access_json": _act(
        "the site asked about / the user's site",
        _r(f"/admin/access.json?site={FOREIGN_SITE}"),
        _r(f"/admin/access.json?user={FOREIGN_USER}"),
    ),
    # --- alerts and maintenance ---------------------------------------------------------------
    "GET alerts.maintenance_page": Listing(
        "/alerts/maintenance", "windows whose subject's site is in scope", shows=True
    ),
    "POST alerts.maintenance_form": _act(
        "the subject's site (device, link, site)",
        _r(
            "/alerts/maintenance",
            data={
                "subject_kind": "device",
                "subject_id": DEVICE,
                "start": "2020-01-01 00:00",
                "end": "2020-01-02 00:00",
            },
        ),
        redirect_error=True,
    ),
    "POST alerts.maintenance_end_form": _act(
        "the window's subject's site", _r("/alerts/maintenance/{window}/end"), redirect_error=True
    ),
    "GET alerts.list_alerts": Listing("/api/v1/alerts", "alert rows of the scope's sites", shows=True),
    "GET alerts.get_alert": _act("the alert row's site", _r("/api/v1/alerts/{alert}")),
    "POST alerts.ack": _act("the alert row's site", _r("/api/v1/alerts/{alert}/ack", json={"note": "x"})),
    "POST alerts.unack": _act("the alert row's site", _r("/api/v1/alerts/{alert}/unack", json={"note": "x"})),
    "POST alerts.assign": _act(
        "the alert row's site", _r("/api/v1/alerts/{alert}/assign", json={"assignee": "walker"})
    ),
    "POST alerts.comment": _act(
        "the alert row's site", _r("/api/v1/alerts/{alert}/comment", json={"text": "x"})
    ),
    "POST alerts.silence": _act(
        "the alert row's site", _r("/api/v1/alerts/{alert}/silence", json={"minutes": 30, "reason": "x"})
    ),
    "GET alerts.list_notifications": Listing(
        "/api/v1/alerts/notifications", "notifications of alerts in scope", shows=True
    ),
    "GET alerts.rules": Listing("/api/v1/alerts/rules", "rule definitions: no site data"),
    "GET alerts.list_maintenance": Listing(
        "/api/v1/maintenance", "windows whose subject's site is in scope", shows=True
    ),
    "POST alerts.add_maintenance": _act(
        "the subject's site",
        _r(
            "/api/v1/maintenance",
            json={"subject_kind": "device", "subject_id": DEVICE, "start": NOW, "end": NOW + 60},
        ),
        _r(
            "/api/v1/maintenance",
            json={"subject_kind": "site", "subject_id": FOREIGN_SITE, "start": NOW, "end": NOW + 60},
        ),
    ),
    "DELETE alerts.end_maintenance": _act("the window's subject's site", _r("/api/v1/maintenance/{window}")),
    # --- centre API: state, events, series, availability ------------------------------------
    "GET centre_api.current_state": Listing("/api/v1/state", "state rows of the scope's sites", shows=True),
    "GET centre_api.list_events": Listing("/api/v1/events", "events of subjects in scope", shows=True),
    "GET centre_api.series": _act("the device's inventory site", _r(f"/api/v1/series?device={DEVICE}")),
    "GET centre_api.availability_json": Listing("/api/v1/availability", "subjects in scope", shows=True),
    "GET centre_api.availability_csv": Listing("/api/v1/availability.csv", "subjects in scope", shows=True),
    "GET centre_api.availability_page": Listing("/reports/availability", "subjects in scope", shows=True),
    "POST ingest.ingest": _act(
        "the token's agent and the inventory sites of the devices it polls",
        _r("/api/v1/ingest", json="{batch_foreign_agent}", owner_json="{batch_owner}"),
        _r("/api/v1/ingest", json="{batch_foreign_device}", owner_json="{batch_owner}"),
    ),
    "GET agent_config.agent_config": _act(
        "the token's agent: its own assignment only", _r(f"/api/v1/agents/{OWNER_SITE}/config")
    ),
    "GET eventlog.search": Listing(
        "/api/v1/eventlog", "event_log rows of the scope's sites, in the query", shows=True
    ),
    "GET eventlog.export_csv": Listing(
        "/api/v1/eventlog.csv", "event_log rows of the scope's sites, in the query", shows=True
    ),
    # --- configuration backups ----------------------------------------------------------------
    "GET configs.api_devices": Listing(
        "/api/v1/configs/devices", "config status rows of the scope", shows=True
    ),
    "GET configs.api_versions": _act(
        "config_status.site of the device (none: province only)",
        _r(f"/api/v1/configs/devices/{DEVICE}/versions"),
        _r(f"/api/v1/configs/devices/{UNPLACED}/versions", "province"),
    ),
    "GET configs.api_version": _version_act("/api/v1/configs/versions/{vid}"),
    "GET configs.api_export": _version_act("/api/v1/configs/versions/{vid}/export"),
    "GET configs.api_export_raw": _version_act("/api/v1/configs/versions/{vid}/export/raw"),
    "GET configs.api_diff": _act(
        "both versions' device's site", _r("/api/v1/configs/diff?a={cfg_v1}&b={cfg_v2}")
    ),
    "GET configs.api_events": Listing("/api/v1/configs/events", "events of devices in scope", shows=True),
    "POST configs.api_fetch": _act(
        "the configs file's site of each device named (none: province only)",
        _r("/api/v1/configs/fetch", json={"devices": [DEVICE]}),
        _r("/api/v1/configs/fetch", "province", json={"devices": [UNPLACED]}),
    ),
    "GET configs.page_index": Listing("/configs/", "devices in scope", shows=True),
    "GET configs.page_device": _act(
        "config_status.site of the device",
        _r(f"/configs/device/{DEVICE}"),
        _r(f"/configs/device/{UNPLACED}", "province"),
    ),
    "GET configs.page_version": _version_act("/configs/version/{vid}"),
    "GET configs.page_diff": _act("both versions' device's site", _r("/configs/diff?a={cfg_v1}&b={cfg_v2}")),
    "POST configs.page_fetch": _act(
        "the configs file's site of each device named",
        _r("/configs/fetch", data={"device": DEVICE}),
        _r("/configs/fetch", "province", data={"device": UNPLACED}),
    ),
    # --- dashboards -----------------------------------------------------------------------------
    "GET dashboards.home": Listing("/", "a redirect to the caller's start page"),
    "GET dashboards.echarts_js": Listing("/dashboards/vendor/echarts.min.js", "a library: no data"),
    "GET dashboards.static": Skip("static files carry no data"),
    "GET dashboards.wall": Listing("/wall", "the page shell; data comes from /api/v1/wall"),
    "GET dashboards.wall_data": Listing("/api/v1/wall", "devices and links of the scope", shows=True),
    "GET dashboards.wall_stream": Listing(
        "/api/v1/wall/stream", "the same document as /api/v1/wall", shows=True, stream=True
    ),
    "GET dashboards.wall_outline": Listing("/api/v1/wall/outline", "city boundaries: public geography"),
    "GET dashboards.console_index": Listing("/console", "devices of the scope", shows=True),
    "GET dashboards.console_problems": Listing("/console/problems", "alerts of the scope", shows=True),
    "GET dashboards.console_alerts": Listing("/console/alerts", "alerts of the scope", shows=True),
    "GET dashboards.console_alert": _act("the alert row's site", _r("/console/alerts/{alert}")),
    "POST dashboards.console_alert_action": _act(
        "the alert row's site", _r("/console/alerts/{alert}/ack", data={"note": "x"})
    ),
    "GET dashboards.console_device": _act("the device's inventory site", _r(f"/console/device/{DEVICE}")),
    "GET dashboards.console_link": _act("either end's device site", _r(f"/console/link/{LINK}")),
    "GET dashboards.console_series": _act(
        "the device's inventory site", _r(f"/api/v1/console/series?device={DEVICE}")
    ),
    "GET dashboards.county": Listing("/county", "the caller's own area (the province's is a summary)"),
    # --- IPAM -----------------------------------------------------------------------------------
    "GET ipam_api.openapi": Listing("/api/v1/ipam/openapi.json", "the API description: no data"),
    "GET ipam_api.spaces": Listing("/api/v1/ipam/spaces", "address spaces: no site"),
    "GET ipam_api.list_prefixes": Listing(
        "/api/v1/ipam/prefixes", "prefixes of the scope's sites", shows=True
    ),
    "POST ipam_api.add_prefix": _act(
        "the site in the body",
        _r("/api/v1/ipam/prefixes", json={"space": "专网", "prefix": "10.250.8.0/24", "site": FOREIGN_SITE}),
        _r("/api/v1/ipam/prefixes", "province", json={"space": "专网", "prefix": "10.250.7.0/24"}),
    ),
    "GET ipam_api.get_prefix": _act("the prefix's site", _r("/api/v1/ipam/prefixes/{prefix}")),
    "PATCH ipam_api.patch_prefix": _act(
        "the prefix's site", _r("/api/v1/ipam/prefixes/{prefix}", json={"purpose": "walker"})
    ),
    "POST ipam_api.release_prefix": _act(
        "the prefix's site",
        _r("/api/v1/ipam/prefixes/{prefix}/release", json={"reason": "x"}, owner_role="administrator"),
    ),
    "POST ipam_api.activate_prefix": _act("the prefix's site", _r("/api/v1/ipam/prefixes/{prefix}/activate")),
    "GET ipam_api.prefix_addresses": _act(
        "the prefix's site", _r("/api/v1/ipam/prefixes/{prefix}/addresses")
    ),
    "GET ipam_api.pool_utilisation": _act("the pool's site", _r("/api/v1/ipam/pools/{pool}/utilisation")),
    "GET ipam_api.pool_map": _act("the pool's site", _r("/api/v1/ipam/pools/{pool}/map")),
    "GET ipam_api.pool_free": _act("the pool's site", _r("/api/v1/ipam/pools/{pool}/free")),
    "POST ipam_api.pool_allocate": _act(
        "the pool's site", _r("/api/v1/ipam/pools/{pool}/allocate", json={"prefix_length": 28})
    ),
    "GET ipam_api.site_pools": _act(
        "the site in the URL (@require site_arg)", _r(f"/api/v1/ipam/sites/{FOREIGN_SITE}/pools")
    ),
    "GET ipam_api.list_requests": Listing(
        "/api/v1/ipam/requests", "requests of the scope's sites", shows=True
    ),
    "POST ipam_api.create_request": _act(
        "the site in the body",
        _r(
            "/api/v1/ipam/requests",
            json={
                "site": FOREIGN_SITE,
                "space": "专网",
                "family": 4,
                "purpose": "walker",
                "justification": "walker",
                "hosts": 10,
            },
        ),
    ),
    "GET ipam_api.get_request": _act("the request's site", _r("/api/v1/ipam/requests/{request}")),
    "POST ipam_api.approve_request": _act(
        "the request's site", _r("/api/v1/ipam/requests/{request}/approve", json={"reason": "x"})
    ),
    "POST ipam_api.amend_request": _act(
        "the request's site", _r("/api/v1/ipam/requests/{request}/amend", json={"reason": "x", "hosts": 20})
    ),
    "POST ipam_api.reject_request": _act(
        "the request's site", _r("/api/v1/ipam/requests/{request}/reject", json={"reason": "x"})
    ),
    "GET ipam_api.notifications": Listing("/api/v1/ipam/notifications", "the caller's own notifications"),
    "POST ipam_api.notifications_seen": Skip("marks the caller's own notifications read"),
    "POST ipam_api.reconcile_view": _act(
        "the site of each observation",
        _r(
            "/api/v1/ipam/reconcile",
            json={
                "space": "专网",
                "observations": [{"device": DEVICE, "site": FOREIGN_SITE, "address": "10.250.0.5"}],
            },
        ),
    ),
    "GET ipam_api.findings_view": Listing(
        "/api/v1/ipam/findings", "findings of the scope's sites", shows=True
    ),
    "GET ipam.reconcile_page": Listing("/ipam/reconcile", "findings of the scope's sites", shows=True),
    "POST ipam_api.dismiss_finding": _act(
        "the sites where the finding was seen",
        _r("/api/v1/ipam/findings/dismiss", json={"key": "{finding}", "reason": "x"}),
    ),
    "POST ipam_api.accept_finding": _act(
        "the sites where the finding was seen", _r("/api/v1/ipam/findings/accept", json={"key": "{finding2}"})
    ),
    "POST ipam.finding_decide": _act(
        "the sites where the finding was seen",
        _r("/ipam/findings/decide", data={"key": "{finding}", "action": "dismiss", "reason": "x"}),
    ),
    "POST ipam_api.plan_check": _act("the root pool's site", _r("/api/v1/ipam/plan/check", json=CARVE)),
    "POST ipam_api.plan_carve": _act("the root pool's site", _r("/api/v1/ipam/plan/carve", json=CARVE)),
    "GET ipam_api.export": Listing("/api/v1/ipam/export.csv", "prefixes of the scope's sites", shows=True),
    "POST ipam_api.import_view": _act(
        "the site of every row", _r("/api/v1/ipam/import", body=CSV_FOREIGN, content_type="text/csv")
    ),
    "POST ipam_api.add_address": _act(
        "the site of the range holding the address",
        _r("/api/v1/ipam/addresses", json={"space": "专网", "address": "10.250.0.9", "device": "walker"}),
    ),
    "GET ipam.index": Listing("/ipam/", "pools and requests of the scope", shows=True),
    "GET ipam.queue": Listing("/ipam/queue", "requests of the scope", shows=True),
    "GET ipam.pool": _act("the pool's site", _r("/ipam/pools/{pool}")),
    "POST ipam.submit_request": _act(
        "the site in the form",
        _r(
            "/ipam/requests",
            data={
                "site": FOREIGN_SITE,
                "space": "专网",
                "family": "4",
                "purpose": "walker",
                "justification": "walker",
                "hosts": "10",
            },
        ),
    ),
    "POST ipam.decide": _act(
        "the request's site", _r("/ipam/requests/{request}/decide", data={"action": "reject", "reason": "x"})
    ),
    "POST ipam.release": _act(
        "the prefix's site",
        _r("/ipam/prefixes/{prefix}/release", data={"reason": "x"}, owner_role="administrator"),
    ),
    "GET static": Skip("static files carry no data"),
    # --- government portals ---------------------------------------------------------------------
    "GET portals.page_index": Listing("/console/portals", "portals of the scope's sites", shows=True),
    "GET portals.api_list": Listing("/api/v1/portals", "portals of the scope's sites", shows=True),
    "GET portals.page_portal": _act("the portal's inventory site", _r(f"/console/portal/{FOREIGN_SITE}")),
    "GET portals.api_portal": _act("the portal's inventory site", _r(f"/api/v1/portals/{FOREIGN_SITE}")),
    "POST portals.page_approve": _act(
        "the portal's inventory site", _r(f"/console/portal/{FOREIGN_SITE}/approve", data={"reason": "x"})
    ),
    "GET portals.static": Skip("static files carry no data"),
}


def _routes(app: Flask) -> dict[str, str]:
    """'METHOD endpoint' -> rule, for every route of the app."""
    out = {}
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out[f"{method} {rule.endpoint}"] = rule.rule
    return out


def _permission(app: Flask, key: str) -> str:
    endpoint = key.split(" ", 1)[1]
    if endpoint == "static" or endpoint.endswith(".static"):
        return "public"
    declared = declaration_of(app.view_functions[endpoint])
    assert declared is not None, key
    return declared[0]


# --- the world: objects elsewhere, principals here ------------------------------------------------


@dataclass
class World:
    app: Flask
    ids: dict[str, Any]
    bearer: dict[str, str] = field(default_factory=dict)  # principal name -> raw token


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _batch(agent: str, device: str, inv: Any, seq: int) -> dict[str, Any]:
    polls = [p for p in synth.polls(inv, time.time()) if p["device"] == device]
    return {"agent": agent, "seq": seq, "samples": polls}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, module_database_url: str) -> Iterator[World]:
    tmp: Path = tmp_path_factory.mktemp("route-scope")
    inv = load_inventory(ROOT / "inventory.yaml")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(HOOK_ENV, "scope-test-key")
        mp.setenv(SSH_ENV, "not-used-pw")
        mp.delenv("NMS_CONFIGS_FILE", raising=False)
        app = make_app(tmp, inventory=inv, database_url=module_database_url)
        app.config["PROPAGATE_EXCEPTIONS"] = False
        settings = app.config["NMS_SETTINGS"]
        settings.data_dir.mkdir(parents=True, exist_ok=True)  # on PostgreSQL no database file made it
        (settings.data_dir / "configs.yaml").write_text(
            yaml.safe_dump(
                {
                    "ssh_credentials": {"lab": {"username": "netops", "password_env": SSH_ENV}},
                    "devices": {
                        DEVICE: {
                            "credential": "lab",
                            "device_type": "huawei",
                            "host": "127.0.0.1",
                            "port": _dead_port(),
                        },
                        UNPLACED: {
                            "credential": "lab",
                            "device_type": "huawei",
                            "host": "127.0.0.1",
                            "port": _dead_port(),
                        },
                    },
                }
            ),
            encoding="utf-8",
        )
        with app.app_context():
            synth.ingest(settings, inv, synth.polls(inv, time.time() - 90), 1)
            synth.ingest(settings, inv, synth.polls(inv, time.time(), down_devices=[DEVICE]), 2)
        alerts = alertworld.raise_alerts(app, inv)
        world = World(app, {"alert": alerts[f"device-down:{DEVICE}"]["id"]})
        db = app_db(app)
        try:
            _people(db, world)
            _objects(db, world, inv)
        finally:
            db.conn.close()
        yield world


def _people(db: Any, world: World) -> None:
    """Walkers (each role at each place) and owners (each role at the owning city and the province)."""
    for site in (*PLACES.values(), OWNER_SITE, "anhui"):
        for role in ROLES:
            name = f"{role}.{site}"
            make_user(db, name, role, site)
            world.bearer[name] = tokens.create(db, "user", name, actor="test", label="walker")[1]
    make_user(db, FOREIGN_USER, "viewer", FOREIGN_SITE)
    make_user(db, ROOT_USER, "administrator", "anhui")
    world.bearer["agent.hefei"] = tokens.create(db, "agent", "hefei", actor="test", label="walker")[1]
    world.bearer["kiosk.hefei"] = tokens.create(db, "kiosk", site="hefei", actor="test", label="walker")[1]
    world.bearer["agent.chaohu"] = tokens.create(db, "agent", OWNER_SITE, actor="test", label="walker")[1]
    ids = world.ids
    ids["tok_agent"] = tokens.create(db, "agent", OWNER_SITE, actor="test", label="MARK-FOREIGN-agent")[0].id
    ids["tok_kiosk"] = tokens.create(db, "kiosk", actor="test", label="MARK-FOREIGN-kiosk")[0].id
    ids["tok_root"] = tokens.create(db, "user", ROOT_USER, actor="test", label="MARK-FOREIGN-root")[0].id


def _objects(db: Any, world: World, inv: Any) -> None:
    """Foreign objects made through the real API by their owners; config versions as a fetch stores them."""
    root = world.app.test_client()
    auth = {"Authorization": f"Bearer {world.bearer['administrator.anhui']}"}

    def post(path: str, body: dict[str, Any], who: dict[str, str] = auth) -> dict[str, Any]:
        resp = root.post(path, json=body, headers=who)
        assert resp.status_code in (200, 201), (path, resp.status_code, resp.get_data(as_text=True))
        return resp.get_json()

    ids = world.ids
    ids["window"] = post(
        "/api/v1/maintenance",
        {
            "subject_kind": "device",
            "subject_id": MAINT_DEVICE,
            "start": NOW - 3600,
            "end": NOW + 86400,
            "reason": "MARK-FOREIGN-maint",
        },
    )["id"]
    ids["pool"] = post(
        "/api/v1/ipam/prefixes",
        {
            "space": "专网",
            "prefix": "10.250.0.0/16",
            "site": FOREIGN_SITE,
            "pool": True,
            "status": "container",
            "purpose": "MARK-FOREIGN-pool",
        },
    )["id"]
    ids["prefix"] = post(
        f"/api/v1/ipam/pools/{ids['pool']}/allocate", {"prefix_length": 24, "purpose": "MARK-FOREIGN-alloc"}
    )["id"]
    post("/api/v1/ipam/addresses", {"space": "专网", "address": "10.250.0.5", "device": DEVICE})
    arp = [{"address": f"10.250.77.{i}", "mac": f"02:00:00:00:77:0{i}"} for i in (7, 8)]
    observed.record(db, DEVICE, FOREIGN_SITE, "专网", {"interface": [], "arp": arp, "lldp": []}, NOW)
    ids["finding"], ids["finding2"] = (f"unknown|专网|10.250.77.{i}|{FOREIGN_SITE}" for i in (7, 8))
    county = {"Authorization": f"Bearer {world.bearer['county_admin.chaohu']}"}
    ids["request"] = post(
        "/api/v1/ipam/requests",
        {
            "site": FOREIGN_SITE,
            "space": "专网",
            "family": 4,
            "purpose": "MARK-FOREIGN-req",
            "justification": "x",
            "hosts": 10,
        },
        county,
    )["id"]
    cred = SshCredential("netops", "x")
    versions = []
    for device, site, text in (
        (DEVICE, FOREIGN_SITE, "sysname lujiang\nsnmp-agent community read MARK-FOREIGN-v1\n"),
        (DEVICE, FOREIGN_SITE, "sysname lujiang\nsnmp-agent community read MARK-FOREIGN-v2\n"),
        (UNPLACED, None, "sysname lab\nsnmp-agent community read MARK-FOREIGN-unplaced\n"),
    ):
        target = ConfigTarget(device, "127.0.0.1", 22, "huawei", cred, site=site)
        result = FetchResult(device, True, content=text, started=time.time())
        versions.append(config_store.record(db, target, result, "test").version_id)
    ids["cfg_v1"], ids["cfg_v2"], ids["cfg_unplaced"] = versions
    trap = Event(NOW, "127.34.0.9", DEVICE, "link-down", "Pos1/0/0", "major", "MARK-FOREIGN-ev", b"", "trap")
    event_store.store(db, OWNER_SITE, "e", 1, [trap.as_dict()], {DEVICE: FOREIGN_SITE}, NOW)
    _portal(db, inv)
    ids["batch_foreign_agent"] = _batch(OWNER_SITE, DEVICE, inv, 100)
    ids["batch_foreign_device"] = _batch("hefei", DEVICE, inv, 101)
    ids["batch_owner"] = _batch(OWNER_SITE, DEVICE, inv, 102)


def _portal(db: Any, inv: Any) -> None:
    """The county's portal, checked twice: learned, then changed (so there is a page to approve)."""
    from dataclasses import asdict

    from nms.portals import store as portal_store
    from probes.portals.baseline import Baseline
    from probes.portals.page import Masks, parse

    p = inv.portals[FOREIGN_SITE]
    for i, text in enumerate(("MARK-FOREIGN-portal 庐江县人民政府", "MARK-FOREIGN-portal changed")):
        html = f"<html><head><title>庐江 {i}</title></head><body><p>{text}</p></body></html>"
        page = parse(html, p.url, Masks())
        snap = asdict(Baseline.learn(p.url, p.url, page, [], []))
        result = {"portal": p.id, "ts": NOW - 60 + i, "ok": True, "url": p.url, "final_url": p.url,
                  "status": 200, "fingerprint": snap["fingerprint"], "snapshot": snap, "findings": []}
        portal_store.apply_results(db, p.agent, [result], inv)


# --- principals per route --------------------------------------------------------------------------


def _least_role(permission: str) -> str:
    if permission in ("public", "authenticated"):
        return "viewer"
    return next((r for r in LEAST_FIRST if permission in permissions_of_role(r)), "administrator")


def walkers(permission: str, method: str) -> list[tuple[str, str]]:
    """(label, principal name): another county, another city, the city administrator, and
    another city's agent / kiosk when the route is theirs."""
    if permission == "ingest.write":
        return [("another city's agent", "agent.hefei")]
    role = _least_role(permission)
    out = [(f"{label} ({role})", f"{role}.{site}") for label, site in PLACES.items()]
    out.append(("city administrator", f"administrator.{CITY_ADMIN}"))
    if permission in KIOSK_PERMISSIONS and method == "GET":
        out.append(("another city's kiosk", "kiosk.hefei"))
    return out


def owner(permission: str, place: str, role: str | None = None) -> str:
    """A principal of the objects' own site (or of the province, for objects without one)."""
    if permission == "ingest.write":
        return "agent.chaohu"
    return f"{role or _least_role(permission)}.{'anhui' if place == 'province' else OWNER_SITE}"


# --- sending ---------------------------------------------------------------------------------------


def _fill(value: Any, ids: dict[str, Any]) -> Any:
    if isinstance(value, str):
        if value.startswith("{") and value.endswith("}") and value[1:-1] in ids:
            return ids[value[1:-1]]
        return value.format(**ids) if "{" in value else value
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


def send(
    world: World, who: str, method: str, req: dict[str, Any], stream: bool = False
) -> tuple[int, str, str]:
    """(status, body text, Location) of one request as ``who`` (by its bearer token)."""
    client = world.app.test_client()
    kwargs: dict[str, Any] = {"headers": {"Authorization": f"Bearer {world.bearer[who]}"}}
    for key in ("json", "data"):
        if key in req:
            kwargs[key] = _fill(req[key], world.ids)
    if "body" in req:
        kwargs["data"] = req["body"]
        kwargs["content_type"] = req["content_type"]
    logging.disable(logging.CRITICAL)
    try:
        resp = client.open(_fill(req["path"], world.ids), method=method, buffered=not stream, **kwargs)
    finally:
        logging.disable(logging.NOTSET)
    if stream and resp.status_code == 200:
        text = ""
        for chunk in resp.response:
            text += chunk.decode() if isinstance(chunk, bytes) else chunk
            if "\n\n" in text and "data:" in text:
                break
        resp.close()
        return resp.status_code, text, ""
    text = resp.get_data(as_text=True)
    resp.close()
    return resp.status_code, text, resp.headers.get("Location", "")


def refused(status: int, location: str, rule: Act) -> bool:
    if status in (403, 404):
        return True
    return rule.redirect_error and 300 <= status < 400 and "error=" in location


# --- the tests --------------------------------------------------------------------------------------


def test_every_route_is_classified(world: World) -> None:
    routes = _routes(world.app)
    unclassified = sorted(set(routes) - set(ROUTES))
    stale = sorted(set(ROUTES) - set(routes))
    assert not unclassified, "routes nobody classified for scope (add them to ROUTES):\n" + "\n".join(
        f"{k} {routes[k]}" for k in unclassified
    )
    assert not stale, f"ROUTES names routes the app no longer has: {stale}"
    for key, rule in ROUTES.items():
        why = rule.why if isinstance(rule, Listing | Skip) else rule.site_from
        assert why.strip(), f"{key}: say how its objects' site is found"


def test_an_unclassified_route_fails_the_classification(world: World, tmp_path: Path) -> None:
    from nms.auth import require

    app = make_app(tmp_path)

    @require("status.read")
    def newcomer() -> str:
        return "x"

    app.add_url_rule("/api/v1/newcomer/<int:thing>", "newcomer", newcomer)
    assert "GET newcomer" in set(_routes(app)) - set(ROUTES)


def test_listings_show_nothing_of_elsewhere(world: World) -> None:
    failures = []
    checked = 0
    for key, rule in ROUTES.items():
        if not isinstance(rule, Listing):
            continue
        method = key.split(" ", 1)[0]
        permission = _permission(world.app, key)
        for label, who in walkers(permission, method):
            status, text, _ = send(world, who, method, {"path": rule.path}, rule.stream)
            checked += 1
            if status >= 400 and status != 404:
                failures.append(f"{key} as {label}: {status}")
            leaked = [m for m in MARKERS if m in text]
            if leaked:
                failures.append(f"{key} as {label}: shows {leaked} ({rule.why})")
        if rule.shows:  # not vacuous: the owners of those objects see them here
            status, text, _ = send(
                world, owner(permission, "province"), method, {"path": rule.path}, rule.stream
            )
            if not any(m in text for m in MARKERS):
                failures.append(f"{key}: the province sees no foreign marker either ({status})")
    assert checked > 0
    assert not failures, "\n".join(failures)


def test_acting_on_objects_of_elsewhere_is_refused(world: World) -> None:
    failures = []
    checked = 0
    for key, rule in sorted(ROUTES.items()):
        if not isinstance(rule, Act):
            continue
        method = key.split(" ", 1)[0]
        permission = _permission(world.app, key)
        for req in rule.requests:
            sent = json.dumps(_fill(req, world.ids), ensure_ascii=False)  # an echo of the request is no leak
            for label, who in walkers(permission, method):
                status, text, location = send(world, who, method, req)
                checked += 1
                if not refused(status, location, rule):
                    failures.append(f"{key} {req['path']} as {label}: not refused ({status}: {text[:120]!r})")
                elif any(m in text and m not in sent for m in ("MARK-FOREIGN", "10.250.")):
                    failures.append(f"{key} {req['path']} as {label}: refused but shows foreign data")
    assert checked > 0
    assert not failures, "\n".join(failures)


def test_owners_are_not_refused_where_walkers_were(world: World) -> None:
    """The refusals above are the scope's: the same requests from the owning site pass the scope check."""
    failures = []
    for key, rule in sorted(ROUTES.items()):
        if not isinstance(rule, Act):
            continue
        method = key.split(" ", 1)[0]
        permission = _permission(world.app, key)
        for req in rule.requests:
            who = owner(permission, req["owner"], req.get("owner_role"))
            mine = {**req, "json": req["owner_json"]} if "owner_json" in req else req
            status, text, location = send(world, who, method, mine)
            if refused(status, location, rule) or status == 401:
                failures.append(f"{key} {req['path']} as {who}: refused ({status}: {text[:160]!r})")
    assert not failures, "\n".join(failures)


def _digest(world: World) -> dict[str, str]:
    """Every foreign object as stored (volatile bookkeeping columns left out)."""
    db = app_db(world.app)
    ids = world.ids
    queries = {
        "alert": ("SELECT * FROM alert_alerts WHERE id = ?", (ids["alert"],)),
        "window": ("SELECT * FROM maint_windows WHERE id = ?", (ids["window"],)),
        "prefixes": ("SELECT * FROM ipam_prefixes WHERE site = ? ORDER BY id", (FOREIGN_SITE,)),
        "request": ("SELECT * FROM ipam_requests WHERE id = ?", (ids["request"],)),
        "tokens": (
            "SELECT id, kind, subject, site, revoked_ts FROM auth_tokens WHERE label LIKE 'MARK-FOREIGN%'"
            " ORDER BY id",
            (),
        ),
        "users": (
            "SELECT name, role, site, disabled, password_hash FROM auth_users WHERE name IN (?, ?)",
            (FOREIGN_USER, ROOT_USER),
        ),
        "configs": ("SELECT device, last_attempt FROM config_status ORDER BY device", ()),
        "portal": ("SELECT * FROM portal_baselines WHERE portal = ?", (FOREIGN_SITE,)),
    }
    try:
        return {
            name: hashlib.sha256(json.dumps(list(db.query(sql, args)), default=str).encode()).hexdigest()
            for name, (sql, args) in queries.items()
        }
    finally:
        db.conn.close()


def _walker_audit_rows(world: World) -> list[dict[str, Any]]:
    """Audit rows written by a walker about something outside that walker's scope."""
    from nms.auth.scope import scope_of_site

    inv = world.app.config["NMS_INVENTORY"]
    scope = {f"{role}.{site}": scope_of_site(site, inv) for site in PLACES.values() for role in ROLES}
    scope["agent.hefei"] = frozenset(inv.agents["hefei"].sites)
    db = app_db(world.app)
    try:
        rows = list(db.query("SELECT actor, action, target, site FROM audit_log"))
    finally:
        db.conn.close()
    out = []
    for row in rows:
        actor = row["actor"].removeprefix("user:").removeprefix("agent:")
        if actor in scope and row["action"] not in ("login.success", "logout"):
            reach = scope[actor]
            if reach is not None and row["site"] not in reach:
                out.append(row)
    return out


def test_nothing_of_elsewhere_changed(world: World) -> None:
    before = _digest(world)
    for key, rule in sorted(ROUTES.items()):
        if not isinstance(rule, Act):
            continue
        method = key.split(" ", 1)[0]
        for req in rule.requests:
            for _label, who in walkers(_permission(world.app, key), method):
                send(world, who, method, req)
    time.sleep(0.5)  # a fetch wrongly started in the background would have touched config_status by now
    assert _digest(world) == before
    assert _walker_audit_rows(world) == []
