"""Issue #24, findings 1-3: what a city-bound administrator and county operators could reach
beyond their scope, replayed over HTTP against the real app and the shipped address plan
(``inventory.yaml``: province ``anhui``, cities ``hefei`` and ``chaohu`` with their agents).

Each test failed before scope covered administration, audit and unplaced devices.
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils
from flask import Flask
from flask.testing import FlaskClient

from nms import audit
from nms.auth import subjects, tokens, users
from nms.auth.policy import Principal, covers, covers_all
from nms.auth.roles import permissions_of_role
from nms.auth.scope import scope_of_site
from nms.configs import store
from nms.configs.credentials import SshCredential
from nms.configs.fetch import FetchResult, Target
from nms.schema import create_schema
from tests.auth.helpers import app_db, bearer, login, make_app, make_token, make_user

PROVINCE, CITY, OTHER_CITY = "anhui", "hefei", "chaohu"
CITY_COUNTY, OTHER_COUNTY = "hefei-feidong", "chaohu-lujiang"


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[tuple[Flask, sqlite_utils.Database]]:
    """Ten accounts in two cities and the province, the shipped inventory, agent tokens of both cities."""
    app = make_app(tmp_path, database_url=database_url)  # the project's inventory.yaml
    db = app_db(app)
    for name, role, site in (
        ("admin", "administrator", PROVINCE),
        ("hf-admin", "administrator", CITY),
        ("ch-admin", "administrator", OTHER_CITY),
        ("hf-ops", "operator", CITY),
        ("ch-ops", "operator", OTHER_CITY),
        ("fd-ops", "operator", CITY_COUNTY),
        ("lj-ops", "operator", OTHER_COUNTY),
        ("fd-county", "county_admin", CITY_COUNTY),
        ("lj-county", "county_admin", OTHER_COUNTY),
        ("prov-ops", "operator", PROVINCE),
    ):
        make_user(db, name, role, site)
    yield app, db
    db.conn.close()


def _client(app: Flask, name: str) -> FlaskClient:
    return login(app.test_client(), name)


def _token_ids(db: sqlite_utils.Database) -> set[int]:
    return {t.id for t in tokens.list_tokens(db)}


# --- finding 1: token administration has no scope ---------------------------------------------


def test_city_admin_cannot_mint_a_token_for_the_province_administrator(world) -> None:
    app, db = world
    city = _client(app, "hf-admin")
    before = _token_ids(db)
    resp = city.post("/admin/tokens", data={"kind": "user", "subject": "admin"})
    assert resp.status_code == 403, resp.status_code
    assert "nms_" not in resp.get_data(as_text=True)
    assert _token_ids(db) == before
    # nor for a peer of the other city, nor for an account of a wider site in its own role
    assert city.post("/admin/tokens", data={"kind": "user", "subject": "ch-ops"}).status_code == 403
    assert city.post("/admin/tokens", data={"kind": "user", "subject": "prov-ops"}).status_code == 403
    # inside its scope it still can, and the token is no wider than the account
    ok = city.post("/admin/tokens", data={"kind": "user", "subject": "fd-ops"})
    assert ok.status_code == 201
    raw = re.search(r'id="shown-secret">(nms_[^<]+)<', ok.get_data(as_text=True)).group(1)
    who = app.test_client().get("/api/v1/whoami", headers=bearer(raw)).get_json()["principal"]
    assert who["name"] == "fd-ops" and who["site"] == CITY_COUNTY


def test_city_admin_cannot_mint_an_agent_token_of_another_city(world) -> None:
    app, db = world
    city = _client(app, "hf-admin")
    before = _token_ids(db)
    assert city.post("/admin/tokens", data={"kind": "agent", "subject": OTHER_CITY}).status_code == 403
    assert city.post("/admin/tokens", data={"kind": "agent", "subject": "province"}).status_code == 403
    assert city.post("/admin/tokens", data={"kind": "agent", "subject": "no-such-agent"}).status_code == 403
    assert _token_ids(db) == before
    assert city.post("/admin/tokens", data={"kind": "agent", "subject": CITY}).status_code == 201


def test_city_admin_cannot_mint_a_province_or_other_city_kiosk(world) -> None:
    app, db = world
    city = _client(app, "hf-admin")
    before = _token_ids(db)
    assert city.post("/admin/tokens", data={"kind": "kiosk"}).status_code == 403
    assert city.post("/admin/tokens", data={"kind": "kiosk", "site": OTHER_CITY}).status_code == 403
    assert _token_ids(db) == before
    assert city.post("/admin/tokens", data={"kind": "kiosk", "site": CITY_COUNTY}).status_code == 201


def test_city_admin_cannot_revoke_or_list_tokens_of_elsewhere(world) -> None:
    app, db = world
    foreign = {
        "agent-chaohu": tokens.create(db, "agent", OTHER_CITY, actor="test", label="LBL-agent-chaohu"),
        "kiosk-province": tokens.create(db, "kiosk", actor="test", label="LBL-kiosk-province"),
        "user-admin": tokens.create(db, "user", "admin", actor="test", label="LBL-user-admin"),
    }
    own = tokens.create(db, "agent", CITY, actor="test", label="LBL-agent-hefei")
    city = _client(app, "hf-admin")
    page = city.get("/admin/tokens").get_data(as_text=True)
    assert "LBL-agent-hefei" in page
    for name, (token, _raw) in foreign.items():
        assert f"LBL-{name}" not in page
        assert city.post(f"/admin/tokens/{token.id}/revoke").status_code in (403, 404)
        assert tokens.get(db, token.id).revoked_ts is None
    # the other city's agent keeps reporting
    agent_raw = foreign["agent-chaohu"][1]
    who = app.test_client().get("/api/v1/whoami", headers=bearer(agent_raw))
    assert who.status_code == 200 and who.get_json()["principal"]["name"] == OTHER_CITY
    assert city.post(f"/admin/tokens/{own[0].id}/revoke").status_code == 200
    assert tokens.get(db, own[0].id).revoked_ts is not None


def test_city_admin_accounts_stay_inside_scope_and_role(world) -> None:
    app, db = world
    city = _client(app, "hf-admin")

    def add(name: str, role: str, site: str) -> int:
        data = {"name": name, "role": role, "site": site, "password": "p" * 14}
        return city.post("/admin/users", data=data).status_code

    assert add("x1", "viewer", OTHER_COUNTY) == 403
    assert add("x2", "administrator", PROVINCE) == 403
    for op in ({"op": "disable"}, {"op": "reset"}, {"op": "update", "role": "viewer"}):
        assert city.post("/admin/users/admin", data=op).status_code == 403
        assert city.post("/admin/users/ch-ops", data=op).status_code == 403
    # no widening of an own-scope account (or itself) to the province
    assert city.post("/admin/users/fd-ops", data={"op": "update", "site": PROVINCE}).status_code == 403
    assert city.post("/admin/users/hf-admin", data={"op": "update", "site": PROVINCE}).status_code == 403
    rows = {r["name"]: r for r in db.query("SELECT name, site, disabled FROM auth_users")}
    assert rows["fd-ops"]["site"] == CITY_COUNTY and rows["hf-admin"]["site"] == CITY
    assert not rows["admin"]["disabled"] and "x1" not in rows and "x2" not in rows
    assert add("x3", "viewer", CITY_COUNTY) == 201


# --- finding 2: audit log and access reports are not scoped -----------------------------------


def test_city_admin_reads_only_its_scope_of_the_audit_log(world) -> None:
    app, db = world
    root = _client(app, "admin")
    root.post(
        "/admin/users",
        data={
            "name": "far-user",
            "role": "viewer",
            "site": OTHER_COUNTY,
            "password": "p" * 14,
            "reason": "MARK-FAR",
        },
    )
    root.post(
        "/admin/users",
        data={
            "name": "near-user",
            "role": "viewer",
            "site": CITY_COUNTY,
            "password": "p" * 14,
            "reason": "MARK-NEAR",
        },
    )
    ipam = root.post(
        "/api/v1/ipam/prefixes",
        json={"space": "专网", "prefix": "10.250.0.0/24", "site": OTHER_COUNTY, "reason": "MARK-IPAM"},
    )
    assert ipam.status_code == 201, ipam.get_json()
    audit.record(db, "someone", "odd.thing", "unplaced", reason="MARK-NOSITE")  # no site: province only
    city = _client(app, "hf-admin")
    page = city.get("/admin/audit").get_data(as_text=True)
    assert "MARK-NEAR" in page
    for mark in ("MARK-FAR", "MARK-IPAM", "MARK-NOSITE"):
        assert mark not in page
    resp = city.get("/admin/audit.csv")
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    reasons = {r["reason"] for r in rows}
    assert "MARK-NEAR" in reasons and not reasons & {"MARK-FAR", "MARK-NOSITE"}
    assert all(r["site"] and r["site"].startswith(CITY) for r in rows)
    full = root.get("/admin/audit.csv").get_data(as_text=True)
    assert all(m in full for m in ("MARK-FAR", "MARK-NEAR", "MARK-IPAM", "MARK-NOSITE"))


def test_city_admin_access_report_is_scoped(world) -> None:
    app, _db = world
    city = _client(app, "hf-admin")
    assert city.get(f"/admin/access.json?site={OTHER_CITY}").status_code == 404
    assert city.get(f"/admin/access.json?site={OTHER_COUNTY}").status_code == 404
    assert city.get("/admin/access.json?user=admin").status_code == 404
    assert city.get("/admin/access.json?user=ch-ops").status_code == 404
    report = city.get(f"/admin/access.json?site={CITY_COUNTY}").get_json()
    names = {u["name"] for u in report["users"]}
    assert {"fd-ops", "hf-admin"} <= names and not names & {"admin", "prov-ops"}
    assert report["hidden"] >= 2  # the province's accounts reach here too, unnamed
    assert city.get("/admin/access.json?user=fd-ops").get_json()["user"]["site"] == CITY_COUNTY
    assert "admin" in {
        u["name"]
        for u in _client(app, "admin").get(f"/admin/access.json?site={CITY_COUNTY}").get_json()["users"]
    }


# --- finding 3: config backups of a device without a site --------------------------------------


def test_unplaced_device_config_is_the_provinces(world) -> None:
    app, db = world
    target = Target("lab-unplaced", "127.0.0.1", 22, "huawei", SshCredential("netops", "x"), site=None)
    text = "sysname lab-unplaced\nsnmp-agent community read cipher %^%#Secret-Community%^%#\n"
    outcome = store.record(
        db, target, FetchResult("lab-unplaced", True, content=text, started=time.time()), "test"
    )
    vid = outcome.version_id
    for name in ("lj-ops", "fd-ops", "hf-ops", "hf-admin"):
        who = _client(app, name)
        assert who.get("/api/v1/configs/devices/lab-unplaced/versions").status_code == 403, name
        raw = who.get(f"/api/v1/configs/versions/{vid}/export/raw")
        assert raw.status_code == 403 and "Secret-Community" not in raw.get_data(as_text=True), name
        assert who.get(f"/api/v1/configs/versions/{vid}").status_code == 403, name
        assert "lab-unplaced" not in who.get("/api/v1/configs/devices").get_data(as_text=True)
    prov = _client(app, "prov-ops")
    assert prov.get("/api/v1/configs/devices/lab-unplaced/versions").status_code == 200
    assert "Secret-Community" in prov.get(f"/api/v1/configs/versions/{vid}/export/raw").get_data(as_text=True)


def test_token_for_unknown_agent_reaches_nothing_but_the_province_sees_it(world) -> None:
    app, db = world
    raw = make_token(db, "agent", "ghost")
    assert "ghost" not in _client(app, "hf-admin").get("/admin/tokens").get_data(as_text=True)
    assert "ghost" in _client(app, "admin").get("/admin/tokens").get_data(as_text=True)
    assert app.test_client().get("/api/v1/whoami", headers=bearer(raw)).status_code == 200


# --- the rules underneath ---------------------------------------------------------------------


def _principal(site: str | None, permissions: frozenset[str]) -> Principal:
    from tests.auth.helpers import tiny_inventory

    return Principal("user", "p", "administrator", site, permissions, scope_of_site(site, tiny_inventory()))


def test_nobody_grants_a_role_wider_than_their_own() -> None:
    """A principal holding accounts.admin but not every permission (a narrower future role)
    may not create or manage an operator; inside its scope it may grant what it holds."""
    narrow = _principal("hefei", permissions_of_role("county_admin") | {"accounts.admin"})
    subjects.check_grant(narrow, "county_admin", "hefei-feidong")
    with pytest.raises(subjects.OutOfScope, match="permissions you do not have"):
        subjects.check_grant(narrow, "operator", "hefei-feidong")
    with pytest.raises(subjects.OutOfScope, match="outside your scope"):
        subjects.check_grant(narrow, "viewer", "chaohu")
    op = users.User(1, "op", "operator", "hefei-feidong", False, 0, 0.0, 0.0)
    with pytest.raises(subjects.OutOfScope):
        subjects.check_user(narrow, op)


def test_subjects_without_a_site_are_the_provinces() -> None:
    city = _principal("hefei", permissions_of_role("administrator"))
    province = _principal("anhui", permissions_of_role("administrator"))
    assert covers(city, "hefei-feidong") and not covers(city, "chaohu") and not covers(city, None)
    assert covers(province, None) and covers(province, "chaohu")
    assert covers_all(city, frozenset({"hefei", "hefei-feidong"}))
    assert not covers_all(city, None) and not covers_all(city, frozenset())  # province / unknown reach
    assert covers_all(province, None) and covers_all(province, frozenset())


def test_an_old_audit_log_gains_the_site_column_and_its_rows_stay_province_only(tmp_path: Path) -> None:
    db = sqlite_utils.Database(tmp_path / "old.db")
    db.execute(
        "CREATE TABLE audit_log (id INTEGER PRIMARY KEY, ts REAL NOT NULL, actor TEXT NOT NULL,"
        " source_ip TEXT, action TEXT NOT NULL, target TEXT NOT NULL, before TEXT, after TEXT, reason TEXT)"
    )
    db.execute("INSERT INTO audit_log (ts, actor, action, target) VALUES (1, 'old', 'user.create', 'user:x')")
    create_schema(db)  # what the centre's start does to an old database
    audit.record(db, "new", "user.create", "user:y", site="hefei-feidong")
    assert [r["actor"] for r in audit.query(db, sites={"hefei", "hefei-feidong"})] == ["new"]
    assert {r["actor"] for r in audit.query(db)} == {"old", "new"}
    assert audit.query(db, sites=set()) == []
