"""Memory use excludes the page cache, as an operator reading "memory 99%" would expect."""

from __future__ import annotations

import asyncio

from probes.common.inventory import load_inventory
from probes.poller import Poller
from probes.sim import SimulatedProvince
from probes.snmp import Credential, Target
from tests.conftest import ROOT

# The simulated Sangfor firewall answers from a real Sangfor walk (snmpsim-data): UCD-SNMP says
# total 3,953,896 kB, available 44,728, buffers 394,844, cached 912,876; hrStorageRam says
# 3,909,360 of 3,953,896 used (98.9 %) because it counts buffers and cache.
EXPECTED = 100.0 * (3953896 - 44728 - 394844 - 912876) / 3953896  # 65.8 %


def test_a_linux_based_firewall_reports_memory_without_its_page_cache():
    inv = load_inventory(ROOT / "inventory.yaml")
    device = min((d for d in inv.devices.values() if d.vendor == "sangfor"), key=lambda d: d.name)
    keys = {"auth_key": "mem-test-auth-1", "priv_key": "mem-test-priv-1"}
    creds = {name: Credential(version=c.version, community="mem-test", user=c.user or "",
                              auth_proto=c.auth_proto, priv_proto=c.priv_proto, **keys)
             for name, c in inv.credentials.items()}
    with SimulatedProvince(inv, port=0, devices=[device.name], credentials=creds) as sim:
        host, port = sim.address(device.name)
        target = Target(host, port, creds[device.credential], timeout=2.0, retries=1, name=device.name)
        result = asyncio.run(Poller().poll(target))
    assert result["ok"], result["error"]
    assert abs(result["health"]["mem_pct"] - EXPECTED) < 0.1, result["health"]
