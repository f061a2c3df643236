"""Fixtures of the agent's integration tests: one city of the simulated province and the centre."""

from __future__ import annotations

import pytest

from probes.common.inventory import load_inventory
from probes.sim.province import SimulatedProvince
from tests.support.processes import SNMP_SECRETS, Centre, write_inventory

AGENT = "chaohu"
INTERVAL = "1.2"  # > 1 s: the centre keys samples by whole seconds
# Firewalls, switches and the cipher machine of one city: v2c and v3, five devices.
ROLES = ("firewall", "switch", "cipher")


@pytest.fixture
def province(tmp_path, monkeypatch):
    """Inventory subset (one city), the simulated province serving it, the centre running."""
    for key, value in SNMP_SECRETS.items():
        monkeypatch.setenv(key, value)
    inv_path = write_inventory(tmp_path / "inventory.yaml", site="chaohu", agent=AGENT, roles=ROLES)
    inventory = load_inventory(inv_path)
    sim = SimulatedProvince(inventory, port=0).start()
    (tmp_path / "centre").mkdir()
    centre = Centre(tmp_path / "centre", inv_path)
    centre.start()
    token = centre.agent_token(AGENT)
    yield {"inventory": inventory, "path": inv_path, "sim": sim, "centre": centre, "token": token}
    centre.stop()
    sim.stop()
