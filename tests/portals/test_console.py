"""Portal pages and baseline approval in the real app: county scope held on the server,
approval audited (who, when), a defacement cleared only by approving the new page.

Results are made by really checking loopback sites with the agent's prober and stored
through the centre's own ingest path (:func:`nms.portals.store.apply_results`).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from nms import audit
from nms.config import ROOT
from nms.portals import store
from probes.common.inventory import load_inventory
from probes.portals.probe import PortalJob, Prober
from tests.auth.helpers import app_db, make_app, role_client
from tests.portals.pages import HACKER_PAGE, portal
from tests.portals.servers import Reply, Site

OWN, FOREIGN = "hefei-feidong", "chaohu-lujiang"  # portal ids = their county's site id


@pytest.fixture(scope="module")
def inv():
    return load_inventory(ROOT / "inventory.yaml")


@pytest.fixture
def world(tmp_path: Path, inv, database_url: str):
    app = make_app(tmp_path, inventory=inv, database_url=database_url)
    sites = {pid: Site() for pid in (OWN, FOREIGN)}
    for s in sites.values():
        s.routes["/"] = Reply(portal(1))
    yield app, sites
    for s in sites.values():
        s.close()


def check(app, inv, sites, pid: str) -> dict:
    """One real check of the portal's loopback site, stored as ingest stores it."""
    p = inv.portals[pid]
    job = PortalJob(pid, p.site, p.interval_s, p, ((p.url, sites[pid].url("/")),))
    result = asyncio.run(Prober().check(job))
    db = app_db(app)
    try:
        store.apply_results(db, p.agent, [result], inv)
        return next(r for r in store.current(db) if r["portal"] == pid)
    finally:
        db.conn.close()


def test_county_sees_and_approves_only_its_own_portals(world, inv) -> None:
    app, sites = world
    for pid in (OWN, FOREIGN):
        assert check(app, inv, sites, pid)["state"] == "up"  # first page learned as the baseline
    county = role_client(app, "county_admin", OWN)

    listing = county.get("/api/v1/portals").get_json()
    assert [r["id"] for r in listing["portals"]] == [OWN]
    page = county.get("/console/portals").get_data(as_text=True)
    assert "肥东" in page and "庐江" not in page and "lujiang" not in page
    assert county.get(f"/console/portal/{FOREIGN}").status_code == 403
    assert county.get(f"/api/v1/portals/{FOREIGN}").status_code == 403

    sites[FOREIGN].routes["/"] = Reply(portal(2, body=HACKER_PAGE, title="hacked"))
    assert check(app, inv, sites, FOREIGN)["state"] == "tampered"
    refused = county.post(f"/console/portal/{FOREIGN}/approve", data={"reason": "walker"})
    assert refused.status_code == 403
    db = app_db(app)
    try:
        base = store.baseline(db, FOREIGN)
        assert base["approved_by"] == "system"  # the learned one, untouched
        assert not [r for r in audit.query(db) if r["action"] == "portal.baseline" and r["actor"] != "system"]
    finally:
        db.conn.close()


def test_defacement_is_shown_with_its_diff_and_cleared_by_an_audited_approval(world, inv) -> None:
    app, sites = world
    check(app, inv, sites, OWN)
    sites[OWN].routes["/"] = Reply(portal(2, body=HACKER_PAGE, title="hacked"))
    cur = check(app, inv, sites, OWN)
    assert cur["state"] == "tampered" and [f["kind"] for f in cur["findings"]] == ["defaced"]

    viewer = role_client(app, "viewer", OWN)
    page = viewer.get(f"/console/portal/{OWN}").get_data(as_text=True)
    assert "We were here" in page and 'id="approve"' not in page  # the diff, no approval form
    assert viewer.post(f"/console/portal/{OWN}/approve", data={"reason": "x"}).status_code == 403

    county = role_client(app, "county_admin", OWN)
    page = county.get(f"/console/portal/{OWN}").get_data(as_text=True)
    assert 'id="approve"' in page and 'id="timings"' in page
    before = time.time()
    resp = county.post(f"/console/portal/{OWN}/approve", data={"reason": "新版首页 redesign"})
    assert resp.status_code == 303
    db = app_db(app)
    try:
        base = store.baseline(db, OWN)
        assert base["approved_by"] == f"county_admin-{OWN}" and base["approved_ts"] >= before
        assert base["fingerprint"] == cur["fingerprint"]
        row = next(r for r in audit.query(db) if r["action"] == "portal.baseline" and r["actor"] != "system")
        assert (row["action"], row["target"], row["site"]) == ("portal.baseline", f"portal:{OWN}", OWN)
        assert row["reason"] == "新版首页 redesign"
        assert next(r for r in store.current(db) if r["portal"] == OWN)["state"] == "up"
    finally:
        db.conn.close()
    assert check(app, inv, sites, OWN)["state"] == "up"  # the approved page is the new normal


def test_wall_panel_counts_the_169_portals_and_lists_the_tampered(world, inv) -> None:
    app, sites = world
    check(app, inv, sites, OWN)
    check(app, inv, sites, FOREIGN)
    sites[FOREIGN].routes["/"] = Reply(portal(2, body=HACKER_PAGE, title="hacked"))
    check(app, inv, sites, FOREIGN)

    province = role_client(app, "viewer", "anhui")
    panel = province.get("/api/v1/wall").get_json()["portals"]
    assert panel["total"] == 169
    assert panel["counts"] == {"up": 1, "degraded": 0, "tampered": 1, "down": 0, "unknown": 167}
    items = [(i["id"], i["state"], i["findings"]) for i in panel["items"]]
    assert items == [(FOREIGN, "tampered", ["defaced"])]
    wall = province.get("/wall").get_data(as_text=True)
    assert 'data-page="portals"' in wall and "portals" in wall.split('data-pages="')[1].split('"')[0]

    county = role_client(app, "county_admin", OWN)
    mine = county.get("/api/v1/wall").get_json()["portals"]
    assert (mine["total"], mine["counts"]["up"], mine["items"]) == (1, 1, [])
