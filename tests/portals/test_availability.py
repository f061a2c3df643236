"""Availability reports include portals: from the portal's state changes, down only once
two checks running failed, tampered counted as not available; county scope in the API."""

from __future__ import annotations

import time
from pathlib import Path

from nms import availability
from nms.config import ROOT
from nms.portals import store
from probes.common.inventory import load_inventory
from tests.auth.helpers import app_db, make_app, role_client

OWN, FOREIGN = "hefei-feidong", "chaohu-lujiang"
DOWN = {"kind": "down", "detail": "HTTP 503, expected 200", "evidence": {"status": 503}}


def _result(pid: str, ts: float, *findings: dict) -> dict:
    status = 503 if findings else 200
    return {"portal": pid, "ts": ts, "ok": not findings, "url": "http://x/", "status": status,
            "timings_ms": {"total": 12.0}, "findings": list(findings)}  # fmt: skip


def test_portal_availability_over_a_period(tmp_path: Path, database_url: str) -> None:
    inv = load_inventory(ROOT / "inventory.yaml")
    app = make_app(tmp_path, inventory=inv, database_url=database_url)
    t0 = time.time() - 3600
    checks = [
        _result(OWN, t0),  # up
        _result(OWN, t0 + 300, DOWN),  # one failed check: not yet down
        _result(OWN, t0 + 600, DOWN),  # confirmed: down from here
        _result(OWN, t0 + 900, DOWN),
        _result(OWN, t0 + 1200),  # up again
        _result(FOREIGN, t0),
    ]
    db = app_db(app)
    try:
        for r in checks:
            store.apply_results(db, inv.portals[r["portal"]].agent, [r], inv)
        assert store.apply_results(db, "hefei", checks[:2], inv) == 0  # a re-sent batch changes nothing
        rows = {r["subject"]: r for r in availability.report(db, t0, t0 + 3000, inv, kinds=["portal"])}
    finally:
        db.conn.close()
    assert len(rows) == 169  # every portal of the inventory, checked or not
    own = rows[OWN]
    assert (own["down_s"], own["up_s"], own["outages"], own["network"]) == (600.0, 2400.0, 1, "external")
    assert own["availability_pct"] == 80.0
    assert rows[FOREIGN]["up_s"] == 3000.0
    assert rows["anhui-www"]["unknown_s"] == 3000.0 and rows["anhui-www"]["availability_pct"] is None

    county = role_client(app, "county_admin", OWN)
    resp = county.get(f"/api/v1/availability?kind=portal&from={t0:.0f}&to={t0 + 3000:.0f}")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert [r["subject"] for r in resp.get_json()["rows"]] == [OWN]
    page = county.get(f"/reports/availability?kind=portal&from={t0:.0f}&to={t0 + 3000:.0f}")
    assert OWN in page.get_data(as_text=True) and FOREIGN not in page.get_data(as_text=True)
