"""Walk EVERY route of the real app as every kind of principal and check the gate's answer.

The expectation is computed here, independently of nms.auth: from the route's
declared permission, the matrix as the issue states it, and the site tree.  A route
registered by any module, now or later, is covered without editing this file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.routing import Rule

from nms.auth.policy import declaration_of
from tests.auth.helpers import (
    COUNTY,
    OTHER_COUNTY,
    PROVINCE,
    TEST_PASSWORD,
    app_db,
    make_app,
    make_token,
    make_user,
    tiny_inventory,
)

VIEWER = {"status.read", "metrics.read", "alerts.read", "reports.read", "ipam.read"}
ALL = {
    "status.read",
    "metrics.read",
    "alerts.read",
    "alerts.ack",
    "reports.read",
    "ipam.read",
    "ipam.request",
    "ipam.approve",
    "ipam.admin",
    "configs.read",
    "configs.fetch",
    "accounts.admin",
    "audit.read",
    "portals.approve",
}
MATRIX = {
    "viewer": VIEWER,
    "county_admin": VIEWER | {"ipam.request", "portals.approve"},
    "operator": VIEWER | {"alerts.ack", "ipam.approve", "configs.read", "configs.fetch", "portals.approve"},
    "administrator": ALL,
    "agent": {"ingest.write"},
    "kiosk": {"status.read", "metrics.read", "alerts.read"},
}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass
class Who:
    label: str
    kind: str  # anonymous, user, agent, kiosk
    role: str | None = None  # matrix key
    sites: set[str] | None = None  # None = every site
    cookie: str | None = None
    csrf: str | None = None
    bearer: str | None = None


def undeclared_routes(app: Flask) -> list[str]:
    """Routes whose view declares no permission (static files are public by design)."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        if declaration_of(app.view_functions[rule.endpoint]) is None:
            out.append(f"{rule.rule} ({rule.endpoint})")
    return out


def expected_allowed(who: Who, permission: str, site: str | None, method: str) -> bool:
    if who.kind == "kiosk" and method in UNSAFE:
        return False  # the wall display changes nothing, not even a sign-in
    if permission == "public":
        return True
    if who.kind == "anonymous":
        return False
    if permission == "authenticated":
        return who.kind == "user"
    if permission not in MATRIX[who.role or who.kind]:
        return False
    return site is None or who.sites is None or site in who.sites


def url_for_rule(rule: Rule, site_arg: str | None, site: str) -> str:
    values = {}
    for arg in rule.arguments:
        conv = type(rule._converters[arg]).__name__  # noqa: SLF001 - the converter says int or string
        if arg == site_arg:
            values[arg] = site
        elif conv in ("IntegerConverter", "FloatConverter"):
            values[arg] = 1
        elif conv == "PathConverter":
            values[arg] = "x/y"
        elif conv == "UUIDConverter":
            values[arg] = "00000000-0000-0000-0000-000000000000"
        else:
            values[arg] = "no-such-thing"
    _, path = rule.build(values, append_unknown=False)  # type: ignore[misc]
    return path


def _add_scoped_probe_routes(app: Flask) -> None:
    """Scoped routes (page and API) so the walk always exercises site scope, whoever else has one."""
    from nms.auth import require

    @require("status.read", site_arg="site")
    def probe_page(site: str) -> str:
        return f"status of {site}"

    @require("ipam.request", site_arg="site")
    def probe_api(site: str) -> dict[str, str]:
        return {"requested_at": site}

    app.add_url_rule("/test-probe/<site>/status", "test_probe_page", probe_page)
    app.add_url_rule("/api/v1/test-probe/<site>/request", "test_probe_api", probe_api, methods=["POST"])


def _session_of(app: Flask, name: str) -> tuple[str, str]:
    """(session cookie, csrf token) after a real sign-in through /login."""
    client = app.test_client()
    client.get("/login")
    with client.session_transaction() as s:
        token = s["csrf"]
    resp = client.post(
        "/login", data={"name": name, "password": TEST_PASSWORD, "csrf_token": token}, csrf=False
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    with client.session_transaction() as s:
        csrf = s["csrf"]
    cookie = client.get_cookie("nms_session")
    assert cookie is not None
    return cookie.value, csrf


@pytest.fixture(scope="module")
def walked_app(tmp_path_factory: pytest.TempPathFactory, module_database_url: str) -> tuple[Flask, list[Who]]:
    tmp: Path = tmp_path_factory.mktemp("acl")
    app = make_app(tmp, tiny_inventory(), database_url=module_database_url)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a crashing view still shows the gate let it through
    _add_scoped_probe_routes(app)
    tree = tiny_inventory()
    db = app_db(app)
    people: list[Who] = []
    for role in ("viewer", "county_admin", "operator", "administrator"):
        for site in (COUNTY, PROVINCE) if role == "administrator" else (COUNTY,):
            name = f"{role}-{site}"
            make_user(db, name, role, site)
            cookie, csrf = _session_of(app, name)
            sites = None if site == PROVINCE else tree.subtree(site)
            people.append(Who(f"{role}@{site}", "user", role, sites, cookie=cookie, csrf=csrf))
    for _ in range(3):  # ids 1..3: the walk's POST /admin/tokens/1/revoke hits one of these
        make_token(db, "kiosk")
    make_user(db, "token-owner", "county_admin", COUNTY)
    people.append(
        Who(
            "county_admin-token",
            "user",
            "county_admin",
            {COUNTY},
            bearer=make_token(db, "user", "token-owner"),
        )
    )
    people.append(
        Who("agent", "agent", None, {"hefei", "hefei-feidong"}, bearer=make_token(db, "agent", "hefei"))
    )
    kiosk = make_token(db, "kiosk")
    people.append(Who("kiosk-bearer", "kiosk", None, None, bearer=kiosk))
    client = app.test_client()
    resp = client.get(f"/login?kiosk={kiosk}")
    assert resp.status_code == 302 and "kiosk=" not in resp.headers["Location"]
    with client.session_transaction() as s:
        kiosk_csrf = s["csrf"]
    people.append(
        Who(
            "kiosk-session",
            "kiosk",
            None,
            None,
            cookie=client.get_cookie("nms_session").value,
            csrf=kiosk_csrf,
        )
    )
    client = app.test_client()
    client.get("/login")  # an anonymous visitor has a session with a CSRF token, nothing else
    with client.session_transaction() as s:
        anon_csrf = s["csrf"]
    people.append(
        Who("anonymous", "anonymous", cookie=client.get_cookie("nms_session").value, csrf=anon_csrf)
    )
    db.conn.close()
    return app, people


def test_every_route_declares_a_permission(walked_app: tuple[Flask, list[Who]]) -> None:
    app, _ = walked_app
    assert undeclared_routes(app) == []


def test_every_route_as_every_principal(walked_app: tuple[Flask, list[Who]]) -> None:
    app, people = walked_app
    failures: list[str] = []
    checked = 0
    scope_refusals = 0  # refusals caused by site scope alone
    # Sign-out ends the walker's sessions server-side, so it goes last.
    rules = sorted(app.url_map.iter_rules(), key=lambda r: r.endpoint == "auth.logout")
    for rule in rules:
        declared = declaration_of(app.view_functions[rule.endpoint])
        if declared is None:
            continue  # reported by test_every_route_declares_a_permission
        permission, site_arg = declared
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            permission, site_arg = "public", None
        sites = (COUNTY, OTHER_COUNTY) if site_arg else (COUNTY,)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            for site in sites:
                path = url_for_rule(rule, site_arg, site)
                for who in people:
                    checked += 1
                    if (
                        site_arg
                        and who.kind != "anonymous"
                        and expected_allowed(who, permission, None, method)
                        and not expected_allowed(who, permission, site, method)
                    ):
                        scope_refusals += 1
                    problem = _check(app, who, method, path, permission, site if site_arg else None)
                    if problem:
                        failures.append(f"{method} {path} [{permission}] as {who.label}: {problem}")
    assert checked > 0 and scope_refusals > 0
    assert not failures, f"{len(failures)} of {checked} checks failed:\n" + "\n".join(failures[:60])


def _check(app: Flask, who: Who, method: str, path: str, permission: str, site: str | None) -> str | None:
    client = app.test_client()
    headers = {}
    if who.cookie:
        client.set_cookie("nms_session", who.cookie)
        if method in UNSAFE and who.csrf:
            headers["X-CSRF-Token"] = who.csrf
    if who.bearer:
        headers["Authorization"] = f"Bearer {who.bearer}"
    logging.disable(logging.CRITICAL)  # views answering garbage input may log errors; not this test's concern
    try:
        resp = client.open(path, method=method, headers=headers, csrf=False)
    finally:
        logging.disable(logging.NOTSET)
    resp.close()  # never read the body: some routes stream forever (server-sent events)
    decision = resp.headers.get("X-NMS-Auth")
    allowed = expected_allowed(who, permission, site, method)
    if allowed:
        if decision != "allow":
            return f"expected authorised, got {resp.status_code} decision={decision}"
        return None
    if decision != "deny":
        return f"expected refused, got {resp.status_code} decision={decision}"
    if who.kind == "anonymous":
        if path.startswith("/api/"):
            return None if resp.status_code == 401 else f"anonymous API: expected 401, got {resp.status_code}"
        return (
            None
            if _to_login(resp)
            else f"anonymous page: expected redirect to /login, got {resp.status_code}"
        )
    return None if resp.status_code == 403 else f"expected 403, got {resp.status_code}"


def _to_login(resp) -> bool:  # type: ignore[no-untyped-def]
    return resp.status_code == 302 and resp.headers.get("Location", "").startswith("/login")


def test_undeclared_route_fails_the_suite_and_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, database_url: str
) -> None:
    app = make_app(tmp_path, database_url=database_url)
    app.add_url_rule("/forgot-to-declare", "forgot", lambda: "secret data")
    assert undeclared_routes(app) == ["/forgot-to-declare (forgot)"]
    db = app_db(app)
    make_user(db, "root", "administrator", PROVINCE)
    client = app.test_client()
    from tests.auth.helpers import login

    login(client, "root")
    with caplog.at_level(logging.ERROR, logger="nms.auth.enforce"):
        resp = client.get("/forgot-to-declare")
    assert resp.status_code == 403
    assert "secret data" not in resp.get_data(as_text=True)
    assert any("no @require declaration" in r.getMessage() for r in caplog.records)
    # and the walk's oracle would flag it: the gate answers "undeclared", never "allow"
    assert resp.headers["X-NMS-Auth"] == "undeclared"
