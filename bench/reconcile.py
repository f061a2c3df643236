#!/usr/bin/env python3
"""Benchmark: reconciliation of the whole simulated province, and bad input at scale.

1. The simulator serves every router and firewall of inventory.yaml (in this process, on
   loopback); the agent's poller reads their address, ARP and LLDP tables once; four
   deliberate discrepancies are switched on first (unknown, duplicate, mismatch, cabling).
2. The centre side, timed: store every device's tables (:func:`ipam.observed.record`) into a
   fresh database holding the shipped address plan, then compute every finding
   (:func:`ipam.findings.findings`).  Target: under 5 s together.
3. Bad input: one ARP table of 100,000 rows (with garbage, addresses outside every space
   and repeated rows mixed in) stored and reconciled; counts printed.

    python bench/reconcile.py
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import time
from pathlib import Path

import sqlite_utils

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ipam import csvio, findings, observed  # noqa: E402
from nms.schema import create_schema  # noqa: E402
from probes.common.inventory import load_inventory  # noqa: E402
from probes.poller import Poller  # noqa: E402
from probes.sim import SimulatedProvince  # noqa: E402
from probes.sim.province import resolve_credentials  # noqa: E402
from probes.snmp import Target  # noqa: E402

ENV = {"NMS_SNMP_COMMUNITY": "bench-community", "NMS_SNMP_V3_AUTH": "bench-auth-key-1",
       "NMS_SNMP_V3_PRIV": "bench-priv-key-1"}


def plan_db(inv) -> sqlite_utils.Database:  # noqa: ANN001
    db = sqlite_utils.Database(sqlite3.connect(":memory:", isolation_level=None))
    create_schema(db)
    text = (ROOT / "ipam" / "data" / "address_plan.csv").read_text(encoding="utf-8")
    csvio.import_csv(db, text, actor="bench", known_sites=set(inv.sites))
    return db


async def poll_all(prov: SimulatedProvince, inv, names: list[str]) -> list[dict]:  # noqa: ANN001
    creds = resolve_credentials(inv)
    poller = Poller(max_in_flight=128, budget_s=60)

    async def one(name: str) -> dict:
        host, port = prov.address(name)
        target = Target(host=host, port=port, credential=creds[inv.devices[name].credential], name=name,
                        timeout=5, retries=2)
        return await poller.poll(target)

    return await asyncio.gather(*(one(n) for n in names))


def main() -> int:
    for k, v in ENV.items():
        os.environ.setdefault(k, v)
    inv = load_inventory(ROOT / "inventory.yaml")
    names = sorted(n for n, d in inv.devices.items() if d.role in ("router", "firewall"))
    t0 = time.perf_counter()
    prov = SimulatedProvince(inv, port=0, devices=names, wan_delay="0").start()
    print(f"simulator: {len(names)} routers and firewalls built in {time.perf_counter() - t0:.1f} s")
    try:
        rtr = next(n for n in names if inv.devices[n].role == "router" and "-int-" in n)
        link = next(lid for lid, lk in inv.links.items()
                    if {inv.devices[lk.a.device].role, inv.devices[lk.b.device].role} == {"router"})
        for action, arg in (("addr-unknown", rtr), ("addr-duplicate", rtr), ("addr-mismatch", rtr),
                            ("lldp-miscabled", link)):
            prov.fault(action, arg)
        t0 = time.perf_counter()
        results = asyncio.run(poll_all(prov, inv, names))
        poll_s = time.perf_counter() - t0
    finally:
        prov.stop()
    ok = [r for r in results if r["ok"] and r.get("addresses") is not None]
    rows = sum(r["addresses"]["rows"] for r in ok)
    print(f"poll (agent side, not part of the target): {len(ok)}/{len(results)} devices, {rows} table rows"
          f" in {poll_s:.2f} s")

    db = plan_db(inv)
    t0 = time.perf_counter()
    stored = observed.record_batch(db, ok, inv)
    store_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = findings.findings(db, inv, None)
    find_s = time.perf_counter() - t0
    total = store_s + find_s
    print(f"reconciliation of the province: store {stored} devices' tables {store_s:.2f} s + findings"
          f" {find_s:.2f} s = {total:.2f} s (target < 5 s) -> {'PASS' if total < 5 else 'FAIL'}")
    print("  findings:", ", ".join(f"{k} {n}" for k, n in out["counts"].items()))

    # bad input at scale: one ARP table of 100,000 rows
    big = [{"address": f"10.{34 + i // 60000}.{i // 250 % 250}.{1 + i % 250}", "mac": f"02:00:{i:08x}"[:17],
            "ifname": "GigabitEthernet0/0/1"} for i in range(100_000)]
    for i in range(0, 100_000, 1000):
        big[i] = {"address": "not-an-address", "mac": "x"}
    for i in range(500, 100_000, 1000):
        big[i] = {"address": f"192.168.{i // 1000 % 250}.{i % 250}", "mac": "02:00:00:00:00:01"}
    big += big[1:2001]  # 2,000 repeated rows
    db = plan_db(inv)
    t0 = time.perf_counter()
    tables = {"interface": [], "arp": big, "lldp": []}
    counts = observed.record(db, rtr, inv.devices[rtr].site, "专网", tables, time.time())
    rec_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    big_out = findings.findings(db, inv, None)
    big_s = time.perf_counter() - t0
    print(f"ARP table of {len(big)} rows: stored {counts.stored} in {rec_s:.2f} s (unreadable {counts.bad},"
          f" outside every space {counts.outside}, repeated {counts.duplicates}); findings {big_s:.2f} s"
          f" ({', '.join(f'{k} {n}' for k, n in big_out['counts'].items() if n)})")
    return 0 if total < 5 else 1


if __name__ == "__main__":
    sys.exit(main())
