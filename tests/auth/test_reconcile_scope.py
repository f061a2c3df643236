"""Reconciliation findings are scoped on the server: a county sees and decides only its own.

The routes themselves (permission per role) are walked by test_access_control.py; here the
*rows*: each county's devices report a discrepancy, and what each principal gets back.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils
from flask import Flask

from ipam import csvio, observed
from nms import audit
from nms.config import ROOT
from tests.auth.helpers import app_db, login, make_app, make_user

FEIDONG, LUJIANG = "hefei-feidong", "chaohu-lujiang"


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[tuple[Flask, sqlite_utils.Database]]:
    app = make_app(tmp_path, database_url=database_url)  # the project's inventory.yaml
    db = app_db(app)
    inv = app.config.get("NMS_INVENTORY")
    text = (ROOT / "ipam" / "data" / "address_plan.csv").read_text(encoding="utf-8")
    csvio.import_csv(db, text, actor="t", known_sites=None if inv is None else set(inv.sites))
    now = time.time()
    for device, site, stranger, mgmt in (("feidong-int-rtr1", FEIDONG, "10.250.7.7", "10.34.7.1"),
                                         ("lujiang-int-rtr1", LUJIANG, "10.250.93.93", "10.34.93.1")):
        observed.record(db, device, site, "专网", {
            "interface": [{"address": mgmt, "plen": 24, "ifname": "GigabitEthernet0/0/0"}],
            "arp": [{"address": stranger, "mac": "02:00:00:00:00:77", "ifname": "GigabitEthernet0/0/0"}],
            "lldp": []}, now)
    for name, role, site in (("admin", "administrator", "anhui"), ("fd-county", "county_admin", FEIDONG),
                             ("fd-ops", "operator", FEIDONG), ("lj-county", "county_admin", LUJIANG)):
        make_user(db, name, role, site)
    yield app, db
    db.conn.close()


def _findings(app: Flask, who: str) -> list[dict]:
    resp = login(app.test_client(), who).get("/api/v1/ipam/findings")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()["findings"]


def test_each_county_reads_only_its_own_findings(world) -> None:
    app, _db = world
    assert {f["address"] for f in _findings(app, "admin")} == {"10.250.7.7", "10.250.93.93"}
    assert [(f["address"], f["site"]) for f in _findings(app, "fd-county")] == [("10.250.7.7", FEIDONG)]
    assert [(f["address"], f["site"]) for f in _findings(app, "lj-county")] == [("10.250.93.93", LUJIANG)]
    page = login(app.test_client(), "fd-county").get("/ipam/reconcile")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "10.250.7.7" in body and "10.250.93.93" not in body and "lujiang" not in body
    assert "纳入规划 Accept" not in body  # a county administrator may not decide


def test_a_county_operator_decides_its_own_findings_only(world) -> None:
    app, db = world
    ops = login(app.test_client(), "fd-ops")
    theirs = next(f for f in _findings(app, "admin") if f["site"] == LUJIANG)
    mine = next(f for f in _findings(app, "admin") if f["site"] == FEIDONG)
    refused = ops.post("/api/v1/ipam/findings/dismiss", json={"key": theirs["key"], "reason": "not ours"})
    assert refused.status_code == 403 and "scope" in refused.get_json()["error"]
    no_reason = ops.post("/api/v1/ipam/findings/dismiss", json={"key": mine["key"]})
    assert no_reason.status_code == 422 and no_reason.get_json()["field"] == "reason"
    county = login(app.test_client(), "fd-county")
    assert county.post("/api/v1/ipam/findings/dismiss",
                       json={"key": mine["key"], "reason": "x"}).status_code == 403  # no ipam.approve
    page = ops.get("/ipam/reconcile").get_data(as_text=True)
    assert "纳入规划 Accept" in page
    form = {"key": mine["key"], "action": "accept", "reason": "camera"}
    done = ops.post("/ipam/findings/decide", data=form)
    assert done.status_code == 302
    assert _findings(app, "fd-county") == []
    entry = audit.query(db, action="ipam.finding.accept")[0]
    assert (entry["actor"], entry["site"], entry["reason"]) == ("fd-ops", FEIDONG, "camera")
    assert [f["site"] for f in _findings(app, "admin")] == [LUJIANG]
