"""Fixtures of the dashboard tests."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from flask import Flask

from probes.common.inventory import load_inventory
from probes.common.inventory_model import Inventory
from tests.auth.helpers import app_db, make_app, make_token
from tests.dashboards import synth

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def full_inventory() -> Inventory:
    return load_inventory(ROOT / "inventory.yaml")


def fill(app: Flask, inv: Inventory, seq: int, ago: float = 0.0, **faults) -> None:
    """One synthetic round of polls for every device, ``ago`` seconds back (``down_links=`` ...)."""
    synth.ingest(app.config["NMS_SETTINGS"], inv, synth.polls(inv, time.time() - ago, **faults), seq)


@pytest.fixture
def wall_app(tmp_path: Path, full_inventory: Inventory, database_url: str) -> Flask:
    """The real app on the shipped inventory, every device polled once, one SDH link and a county down."""
    app = make_app(tmp_path, inventory=full_inventory, database_url=database_url)
    fill(app, full_inventory, 1, ago=60)
    fill(app, full_inventory, 2, down_links=["sdh-huaibei"], down_devices=["suixi-int-rtr1"])
    return app


def kiosk_client(app: Flask, site: str | None = None):
    db = app_db(app)
    try:
        raw = make_token(db, "kiosk", site=site)
    finally:
        db.conn.close()
    client = app.test_client()
    resp = client.get(f"/wall?kiosk={raw}")
    assert resp.status_code == 302
    return client, raw


@pytest.fixture
def alert_app(
    tmp_path: Path, full_inventory: Inventory, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> Flask:
    """The real app with real alerts: the engine evaluated over a state history on the shipped inventory.

    A minute ago sdh-huaibei was cut and the city router bengbu-int-rtr1 died; now mstp-feidong
    is down too.  Roots: ``link-down:sdh-huaibei`` and ``device-down:bengbu-int-rtr1``
    (critical, older; bengbu's county links folded under it) and
    ``access-link-down:mstp-feidong`` (major, newer); one failed webhook attempt logged.
    """
    from tests.dashboards import alertworld

    monkeypatch.setenv(alertworld.HOOK_KEY_ENV, "dash-test-key")
    app = make_app(tmp_path, inventory=full_inventory, database_url=database_url)
    dead = ["bengbu-int-rtr1"]
    fill(app, full_inventory, 1, ago=90)
    fill(app, full_inventory, 2, ago=60, down_links=["sdh-huaibei"], down_devices=dead)
    fill(app, full_inventory, 3, down_links=["sdh-huaibei", "mstp-feidong"], down_devices=dead)
    app.config["TEST_ALERTS"] = alertworld.raise_alerts(app, full_inventory)
    return app
