"""The audit log (append-only, filters, CSV) and the who-can-see-what report."""

from __future__ import annotations

import csv
import io

import pytest
import sqlite_utils
from flask import Flask

from nms import audit
from nms.auth import users
from nms.db import IntegrityErrors
from tests.auth.helpers import COUNTY, OTHER_COUNTY, PROVINCE, login, make_token, make_user


def test_append_only(db: sqlite_utils.Database) -> None:
    audit.record(db, "a", "x.y", "t:1")
    # SQLite's RAISE(ABORT) and the PostgreSQL trigger both raise an integrity violation.
    with pytest.raises(IntegrityErrors, match="append-only"):
        db.execute("UPDATE audit_log SET actor = 'b'")
    with pytest.raises(IntegrityErrors, match="append-only"):
        db.execute("DELETE FROM audit_log")


def test_account_changes_audited_with_before_after_and_reason(app: Flask, db: sqlite_utils.Database) -> None:
    make_user(db, "root", "administrator", PROVINCE)
    admin = login(app.test_client(), "root")
    admin.post(
        "/admin/users",
        data={
            "name": "wang",
            "role": "viewer",
            "site": COUNTY,
            "password": "p" * 14,
            "reason": "new county staff",
        },
    )
    admin.post(
        "/admin/users/wang",
        data={"op": "update", "role": "county_admin", "site": COUNTY, "reason": "promoted"},
    )
    rows = audit.query(db, target="user:wang")
    assert [r["action"] for r in rows] == ["user.update", "user.create"]
    upd = rows[0]
    assert upd["actor"] == "root" and upd["source_ip"] == "127.0.0.1" and upd["reason"] == "promoted"
    assert '"role": "viewer"' in upd["before"] and '"role": "county_admin"' in upd["after"]
    assert rows[1]["reason"] == "new county staff"


def test_audit_page_filters_and_csv(app: Flask, db: sqlite_utils.Database) -> None:
    make_user(db, "root", "administrator", PROVINCE)
    make_user(db, "ops", "operator", PROVINCE)
    admin = login(app.test_client(), "root")
    make_token(db, "kiosk")
    page = admin.get("/admin/audit?action=token.").get_data(as_text=True)
    assert "token.create" in page and "login.success" not in page
    resp = admin.get("/admin/audit.csv?actor=root")
    assert resp.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert rows and all(r["actor"] == "root" for r in rows)
    assert rows[0]["action"] == "login.success" and rows[0]["time_utc"].endswith("+00:00")
    assert admin.get("/admin/audit?since=yesterday").status_code == 400
    assert "since: expected a date" in admin.get("/admin/audit.csv?since=2026-13-01").get_data(as_text=True)
    ops = login(app.test_client(), "ops")
    assert ops.get("/admin/audit").status_code == 403
    assert ops.get("/admin/audit.csv").status_code == 403


def test_csv_defuses_formulas(db: sqlite_utils.Database) -> None:
    audit.record(db, '=HYPERLINK("x")', "login.failure", "user:=1+1")
    text = audit.to_csv(audit.query(db))
    assert "'=HYPERLINK" in text and "user:=1+1" in text


def test_filters_and_listings_answer_alike_on_both_engines(db: sqlite_utils.Database) -> None:
    audit.record(db, "a", "user.create", "user:Bob_1", site=COUNTY)
    audit.record(db, "a", "user.create", "user:bobX1", site=OTHER_COUNTY)
    assert [r["target"] for r in audit.query(db, target="USER:bob_")] == ["user:Bob_1"]  # "_" is literal
    assert [r["target"] for r in audit.query(db, action="User.", sites={COUNTY})] == ["user:Bob_1"]
    assert audit.query(db, sites=set()) == []  # an empty scope sees nothing
    for name in ("b", "_x", "a", "A"):
        make_user(db, name, "viewer", COUNTY)
    assert [u.name for u in users.list_users(db)] == ["A", "_x", "a", "b"]  # by code point, as SQLite


def test_who_can_see_what(app: Flask, db: sqlite_utils.Database) -> None:
    make_user(db, "root", "administrator", PROVINCE)
    make_user(db, "feidong", "county_admin", COUNTY)
    make_user(db, "lujiang", "county_admin", OTHER_COUNTY)
    make_user(db, "hefei-ops", "operator", "hefei")
    make_token(db, "kiosk")
    make_token(db, "agent", "hefei")
    admin = login(app.test_client(), "root")
    report = admin.get(f"/admin/access.json?site={COUNTY}").json
    names = {u["name"]: u for u in report["users"]}
    assert set(names) == {"root", "feidong", "hefei-ops"}
    assert "ipam.request" in names["feidong"]["permissions"]
    assert "alerts.ack" in names["hefei-ops"]["permissions"]
    assert {t["kind"] for t in report["tokens"]} == {"kiosk", "agent"}
    other = admin.get(f"/admin/access.json?site={OTHER_COUNTY}").json
    assert {u["name"] for u in other["users"]} == {"root", "lujiang"}
    assert {t["kind"] for t in other["tokens"]} == {"kiosk"}  # the hefei agent does not cover lujiang
    user = admin.get("/admin/access.json?user=hefei-ops").json
    assert user["sites"] == ["hefei", "hefei-changfeng", "hefei-feidong"]
    assert admin.get("/admin/access.json?user=nobody").status_code == 404
    assert admin.get("/admin/access.json").status_code == 400
    page = admin.get(f"/admin/access?site={COUNTY}").get_data(as_text=True)
    assert "feidong" in page and "lujiang" not in page
    assert login(app.test_client(), "feidong").get("/admin/access.json?site=x").status_code == 403
