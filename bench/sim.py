"""Benchmark: how many simulated devices this machine serves, and at what CPU cost.

Starts the whole province from inventory.yaml (``python -m probes.sim serve``), then
polls every device once per round the way the agent does every 60 s (gufo-snmp
bulk walks of system + ifTable + ifXTable, v2c or v3 authPriv as the inventory
says) and prints: devices served, start-up time, simulator RSS, varbinds served
per second, and simulator CPU seconds per round, i.e. per minute of real polling
(CPU % of one core).  Rounds run back to back (a "simulated" 60 s interval).

    python bench/sim.py [--inventory inventory.yaml] [--rounds 3] [--devices GLOB]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import gufo.snmp as g  # noqa: E402
from gufo.snmp.aio.client import SnmpSession  # noqa: E402

from probes.common.inventory import load_inventory  # noqa: E402
from probes.common.secrets import resolve  # noqa: E402
from probes.sim import run_subprocess  # noqa: E402
from probes.snmp.gufo_client import make_user  # noqa: E402

WALKS = ("1.3.6.1.2.1.1", "1.3.6.1.2.1.2.2", "1.3.6.1.2.1.31.1.1")
ENV = {"NMS_SNMP_COMMUNITY": "bench-community", "NMS_SNMP_V3_AUTH": "bench-auth-key",
       "NMS_SNMP_V3_PRIV": "bench-priv-key"}


def proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def session_for(inv, name: str, port: int) -> SnmpSession:  # noqa: ANN001
    cred = resolve(inv.credentials[inv.devices[name].credential])
    kw = dict(addr=inv.sim_address(name), port=port, timeout=5.0, max_repetitions=40, recv_buffer=1 << 20)
    if cred.version == "v3":
        return SnmpSession(user=make_user(cred), **kw)
    return SnmpSession(community=cred.community, **kw)


async def poll_round(sessions: dict[str, SnmpSession], concurrency: int) -> tuple[int, int]:
    sem = asyncio.Semaphore(concurrency)
    varbinds = 0
    failed = 0

    async def one(s: SnmpSession) -> None:
        nonlocal varbinds, failed
        async with sem:
            try:
                for oid in WALKS:
                    async for _ in s.getbulk(oid):
                        varbinds += 1
            except (g.SnmpError, TimeoutError, OSError):
                failed += 1

    await asyncio.gather(*(one(s) for s in sessions.values()))
    return varbinds, failed


async def bench(args: argparse.Namespace, port: int, pid: int) -> None:
    inv = load_inventory(args.inventory)
    names = sorted(inv.devices)
    if args.devices:
        import fnmatch

        names = [n for n in names if fnmatch.fnmatchcase(n, args.devices)]
    sessions = {n: session_for(inv, n, port) for n in names}
    t = time.time()
    cpu0 = proc_cpu(pid)
    await asyncio.gather(*(s.refresh() for s in sessions.values()))  # v3 engine discovery
    print(f"v3 discovery: {time.time() - t:.1f} s, simulator CPU {proc_cpu(pid) - cpu0:.2f} s")
    for r in range(1, args.rounds + 1):
        cpu0, t0 = proc_cpu(pid), time.time()
        vbs, failed = await poll_round(sessions, args.concurrency)
        wall, cpu = time.time() - t0, proc_cpu(pid) - cpu0
        print(f"round {r}: {len(sessions) - failed}/{len(sessions)} devices polled, {vbs} varbinds in "
              f"{wall:.1f} s wall ({vbs / wall:,.0f} varbinds/s served); simulator CPU {cpu:.2f} s per "
              f"round = {cpu / 60 * 100:.1f}% of one core at a 60 s interval; "
              f"{vbs / cpu if cpu else 0:,.0f} varbinds per simulator CPU-second")
    print(f"simulator RSS after polling: {proc_rss_mb(pid):.0f} MB")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--inventory", default=str(ROOT / "inventory.yaml"))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--devices", default=None, help="glob of device names to poll (default all)")
    p.add_argument("--concurrency", type=int, default=100)
    p.add_argument("--wan-delay-ms", default="auto")
    args = p.parse_args()
    for k, v in ENV.items():
        os.environ.setdefault(k, v)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    t = time.time()
    with run_subprocess(args.inventory, port=0, wan_delay_ms=args.wan_delay_ms) as sim:
        print(f"devices served: {sim.devices} on port {sim.port} (WAN delay {args.wan_delay_ms})")
        print(f"start-up: {sim.startup_s:.2f} s inside the simulator, {time.time() - t:.2f} s to ready "
              f"(incl. interpreter start); RSS {proc_rss_mb(sim.process.pid):.0f} MB, "
              f"start-up CPU {proc_cpu(sim.process.pid):.2f} s")
        asyncio.run(bench(args, sim.port, sim.process.pid))
    return 0


if __name__ == "__main__":
    sys.exit(main())
