"""A device added to a county in the centre's inventory.yaml is polled within two minutes,
with nothing restarted: real ``nms serve`` (watching the file), the real agent pulling its
assignment (no inventory of its own), the simulated devices on loopback."""

from __future__ import annotations

import json
import os
import re
import time

import pytest

from nms import audit
from nms.inventory_changes import ACTION
from nms.schema import open_migrated
from probes.common.inventory import load_inventory
from probes.sim.province import SimulatedProvince
from tests.agent.conftest import INTERVAL
from tests.centre.test_inventory_reload import AGENT, NEW_DEVICE, county_inventories
from tests.support.processes import SNMP_SECRETS, Agent, Centre, wait_for

PICK_UP_S = 120.0


@pytest.mark.slow  # long end-to-end scenario: CI's slow tier (make test-slow)
def test_device_added_to_a_county_is_polled_within_two_minutes_without_restart(tmp_path, monkeypatch):
    for key, value in SNMP_SECRETS.items():
        monkeypatch.setenv(key, value)
    inv_path = tmp_path / "inventory.yaml"
    before, after = county_inventories(inv_path)
    inv_path.write_text(after, encoding="utf-8")
    sim = SimulatedProvince(load_inventory(inv_path), port=0).start()  # the device exists on the network
    inv_path.write_text(before, encoding="utf-8")  # ... but not yet in the centre's inventory
    (tmp_path / "centre").mkdir()
    centre = Centre(tmp_path / "centre", inv_path, extra_args=["--inventory-every", "1"])
    centre.start()
    agent = Agent(
        tmp_path,
        None,
        AGENT,
        centre.url,
        centre.agent_token(AGENT),
        sim.port,
        ["--interval-override", INTERVAL, "--config-interval", "10"],
    )
    agent.start()
    try:
        wait_for(lambda: agent.polls(ok=True), 30, "the agent polling its pulled assignment")
        assert NEW_DEVICE not in {p["device"] for p in agent.polls()}
        pids = (centre.proc.pid, agent.proc.pid)
        # first a broken edit: refused by the running centre with file:line, nothing handed out
        inv_path.write_text(after.replace(f"name: {NEW_DEVICE}", f"name: {NEW_DEVICE}\n  port: 0", 1))
        wait_for(
            lambda: "refused, the centre keeps the last valid one" in centre.log.read_text(), 20, "refusal"
        )
        assert re.search(
            rf"{re.escape(str(inv_path))}:\d+: devices\[{NEW_DEVICE}\]\.port", centre.log.read_text()
        )
        tmp = inv_path.with_name("inventory.yaml.new")  # as an editor or deployment tool saves it
        tmp.write_text(after, encoding="utf-8")
        os.replace(tmp, inv_path)
        changed_at = time.time()
        wait_for(
            lambda: any(p["device"] == NEW_DEVICE and p["ok"] for p in agent.polls()),
            PICK_UP_S,
            f"{NEW_DEVICE} polled",
        )
        took = time.time() - changed_at
        assert took < PICK_UP_S
        wait_for(lambda: centre.device_series(NEW_DEVICE), 30, f"{NEW_DEVICE}'s samples at the centre")
        assert (centre.proc.pid, agent.proc.pid) == pids and centre.proc.poll() is None
        assert agent.proc.poll() is None
        db = open_migrated(centre.settings())
        try:
            rows = audit.query(db, action=ACTION)
        finally:
            db.conn.close()
        assert rows and json.loads(rows[0]["after"])["changes"] == {"devices": {"added": [NEW_DEVICE]}}
        assert len(agent.events("configuration received")) == 2  # the first, then the valid change only
        assert rows[0]["actor"].startswith("file:")
    finally:
        agent.kill()
        centre.stop()
        sim.stop()
