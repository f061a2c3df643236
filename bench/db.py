"""The centre's database on both engines: ingest, IPAM allocation, state read; ten provinces on PostgreSQL.

One run measures, on a SQLite file and on a throwaway *durable* PostgreSQL 15 cluster
(``tests/support/pgcluster.PgCluster.start(durable=True)``: fsync on, PostgreSQL's defaults):

1. **Ingest**: ``--minutes`` minutes of the whole province of ``inventory.yaml`` (every device,
   ``--ifaces`` interfaces each), one batch per agent per minute as the agents send them,
   through ``nms.pipeline.ingest_batch`` with the inventory (validation, samples + seq in
   the metrics transaction, the state machine in the centre's, address tables).  Polls/s
   over the minutes after the first (the first one creates every subject), and where the
   time goes: samples, state (load of every subject, derive, save) and the rest.
2. **IPAM**: ``--allocs`` next-free allocations of /29 in a /16 pool (one writer transaction
   each, audit row and free-space index included): p50/p99.
3. **Whole-province state read**: ``nms.state.current`` (what the wall reads), median of 5.
4. **Ten provinces, two centres (PostgreSQL)**: the question of issue 19 is whether two
   centres on one PostgreSQL take ten provinces' agents (10,000 devices) within a 60 s
   interval.  Each province is its own database on the one cluster (its own writer lock,
   its own state: a state update re-derives one province, not ten); two centre processes,
   each with a pool per province, take half of every province's agents.  After a warm-up
   minute (every subject new) the bench times one minute of all ten provinces' batches,
   interleaved as they arrive, and prints where each centre's time went.  First it times
   one province's minute by the two centres at once, against one centre alone.

Every timing is wall time on a shared machine (the load average before and after is printed).
Run: ``python bench/db.py [--minutes 3] [--ifaces 12] [--allocs 300] [--engines sqlite,postgresql]``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ipam import allocate as ipam_allocate  # noqa: E402
from ipam import observed  # noqa: E402
from ipam import store as ipam_store  # noqa: E402
from ipam.addresses import parse_prefix  # noqa: E402
from nms import pipeline, state  # noqa: E402
from nms.config import Settings  # noqa: E402
from nms.schema import migrate, open_migrated  # noqa: E402
from probes.common.inventory import load_inventory  # noqa: E402

PROVINCES = 10
INTERVAL_S = 60.0


# ---- where the time goes ----------------------------------------------------------------------


class Timers:
    """Seconds spent in a few functions of the ingest path (wrapped while the bench runs)."""

    WRAPPED = (
        (pipeline, "store_batch", "samples (metrics transaction)"),
        (state, "apply_batch", "state update (whole transaction)"),
        (state, "load", "  state: load every subject"),
        (state, "derive", "  state: derive"),
        (state, "save", "  state: save"),
        (observed, "record_batch", "address tables (IPAM)"),
    )

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextlib.contextmanager
    def installed(self) -> Iterator[Timers]:
        saved = [(mod, name, getattr(mod, name)) for mod, name, _ in self.WRAPPED]
        for (mod, name, label), (_, _, fn) in zip(self.WRAPPED, saved, strict=True):
            setattr(mod, name, self._wrap(fn, label))
        try:
            yield self
        finally:
            for mod, name, fn in saved:
                setattr(mod, name, fn)

    def _wrap(self, fn: Callable[..., Any], label: str) -> Callable[..., Any]:
        def timed(*args: Any, **kw: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kw)
            finally:
                self.seconds[label] += time.perf_counter() - t

        return timed


# ---- the province's polls ---------------------------------------------------------------------


def interface_names(dev: Any, n: int) -> list[str]:
    names = list(dev.interfaces)[:n]
    return names + [f"GigabitEthernet9/0/{k}" for k in range(n - len(names))]


def poll_of(dev: Any, names: list[str], minute: int, ts: float) -> dict[str, Any]:
    """One poll as an agent sends it: counters growing by minute, a few ports down."""
    itfs = [
        {
            "index": i + 1, "name": n, "admin": "up", "oper": "down" if i % 5 == 4 else "up",
            "in_octets": (minute + 1) * 750_000 * (i + 1), "out_octets": (minute + 1) * 300_000 * (i + 1),
            "in_ucast_pkts": (minute + 1) * 1000, "out_ucast_pkts": (minute + 1) * 600, "in_errors": 0,
            "out_errors": 0, "in_discards": minute, "out_discards": 0, "in_bps": 100_000.0 * (i + 1),
            "out_bps": 40_000.0 * (i + 1), "speed_bps": 1_000_000_000,
        }
        for i, n in enumerate(names)
    ]  # fmt: skip
    return {
        "device": dev.name, "ts": ts, "ok": True, "error": None, "duration_s": 0.4, "profile": "auto",
        "identity": {"uptime_s": 86400.0 + 60 * minute}, "interfaces": itfs,
        "health": {"cpu_pct": 20.0, "mem_pct": 45.0, "temperature_c": 40.0},
        "sessions": None, "tunnels": [], "sdh": [], "icmp": None,
    }  # fmt: skip


def batches(inv: Any, agents: list[str], minute: int, t0: float, ifaces: int) -> list[tuple[str, dict]]:
    ts = t0 + 60 * minute
    out = []
    for agent in agents:
        polls = [poll_of(d, interface_names(d, ifaces), minute, ts) for d in inv.devices_of_agent(agent)]
        out.append((agent, {"agent": agent, "epoch": "bench", "seq": minute + 1, "samples": polls}))
    return out


def work(inv: Any, agents: list[str], minutes: range, t0: float, ifaces: int) -> list[tuple[float, str, Any]]:
    """(receive time, agent, batch) of ``minutes`` of ``agents``, built before any timing."""
    return [(t0 + 60 * m + 5, a, b) for m in minutes for a, b in batches(inv, agents, m, t0, ifaces)]


def ingest(settings: Settings, inv: Any, todo: list[tuple[float, str, dict]],
           timers: Timers | None = None) -> tuple[int, float]:  # fmt: skip
    """Ingest the batches; (polls, seconds inside ingest_batch)."""
    mdb, cdb = open_migrated(settings, "metrics"), open_migrated(settings, "centre")
    polls, spent = 0, 0.0
    try:
        with timers.installed() if timers else contextlib.nullcontext():
            for now, agent, body in todo:
                t = time.perf_counter()
                pipeline.ingest_batch(mdb, cdb, agent, body, inv, now=now)
                spent += time.perf_counter() - t
                polls += len(body["samples"])
    finally:
        mdb.close()
        cdb.close()
    return polls, spent


# ---- the measurements -------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(p * len(s)))] * 1000


def bench_ipam(settings: Settings, n: int) -> list[float]:
    db = open_migrated(settings, "centre")
    try:
        space = ipam_store.space_id(db, "专网")
        pool = ipam_store.add(db, space, parse_prefix("10.200.0.0/16"), status="container", actor="bench",
                              is_pool=True, site="anhui")  # fmt: skip
        times = []
        for _ in range(n):
            t = time.perf_counter()
            ipam_allocate.allocate(db, pool.id, actor="bench", plen=29)
            times.append(time.perf_counter() - t)
        return times
    finally:
        db.close()


def bench_read(settings: Settings) -> tuple[float, int]:
    db = open_migrated(settings, "centre")
    try:
        times, n = [], 0
        for _ in range(5):
            t = time.perf_counter()
            cur = state.current(db)
            times.append(time.perf_counter() - t)
            n = sum(len(v) for v in cur.values())
        return statistics.median(times), n
    finally:
        db.close()


def _centre_process(urls: list[str], data_dir: str, inv_path: str, agents: list[str], minute: int, t0: float,
                    ifaces: int, ready: Any, out: Any) -> None:  # fmt: skip
    """One centre process serving ``agents`` of every province in ``urls`` (one database each):
    warms up on minute ``minute`` (subjects, id caches, pools), then ingests minute
    ``minute + 1``, the provinces' batches interleaved as they would arrive."""
    inv = load_inventory(Path(inv_path))
    provinces = [
        Settings(data_dir=Path(data_dir) / f"p{i}", inventory_path=Path(inv_path), database_url=url)
        for i, url in enumerate(urls)
    ]
    for ps in provinces:
        ingest(ps, inv, work(inv, agents, range(minute, minute + 1), t0, ifaces))
    todo = [
        (ps, item)
        for item in work(inv, agents, range(minute + 1, minute + 2), t0, ifaces)
        for ps in provinces
    ]
    dbs = {ps.database_url: (open_migrated(ps, "metrics"), open_migrated(ps, "centre")) for ps in provinces}
    timers = Timers()
    polls = 0
    ready.wait()  # both centres start together
    t, cpu = time.perf_counter(), time.process_time()
    try:
        with timers.installed():
            for ps, (now, agent, body) in todo:
                mdb, cdb = dbs[ps.database_url]
                pipeline.ingest_batch(mdb, cdb, agent, body, inv, now=now)
                polls += len(body["samples"])
        out.put((polls, time.perf_counter() - t, time.process_time() - cpu, dict(timers.seconds), len(todo)))
    finally:
        for mdb, cdb in dbs.values():
            mdb.close()
            cdb.close()


def two_centres(urls: list[str], base: Settings, inv: Any, minute: int, t0: float,
                ifaces: int) -> tuple[float, float, list]:  # fmt: skip
    """Minute ``minute + 1`` of the provinces in ``urls``, their agents split between two centre
    processes: (warm-up seconds, wall seconds, each centre's figures)."""
    agents = sorted(inv.agents)
    halves = [agents[0::2], agents[1::2]]
    ctx = multiprocessing.get_context("spawn")  # a fork would share the parent's pooled connections
    ready, out = ctx.Barrier(len(halves) + 1), ctx.Queue()
    common = (urls, str(base.data_dir), str(base.inventory_path))
    procs = [ctx.Process(target=_centre_process, args=(*common, h, minute, t0, ifaces, ready, out))
             for h in halves]  # fmt: skip
    warm = time.perf_counter()
    for p in procs:
        p.start()
    ready.wait(timeout=1800)
    warm_s, t = time.perf_counter() - warm, time.perf_counter()
    results = [out.get(timeout=1800) for _ in procs]
    wall = time.perf_counter() - t
    for p in procs:
        p.join(30)
    return warm_s, wall, results


def run_engine(label: str, settings: Settings, inv: Any, args: argparse.Namespace) -> dict[str, Any]:
    print(f"\n== {label}", flush=True)
    migrate(settings)
    agents = sorted(inv.agents)
    t0 = float(int(time.time() // 60) * 60 - 3600)
    timers = Timers()
    first_polls, first_s = ingest(settings, inv, work(inv, agents, range(0, 1), t0, args.ifaces))
    polls, spent = ingest(settings, inv, work(inv, agents, range(1, args.minutes), t0, args.ifaces), timers)
    minute_s = spent / max(1, args.minutes - 1)
    print(f"ingest, first minute (every subject new): {first_polls} polls in {first_s:.2f} s")
    print(f"ingest, steady: {polls} polls ({args.ifaces} interfaces each, {len(agents)} batches a minute) in "
          f"{spent:.2f} s = {polls / spent:.0f} polls/s; one province-minute {minute_s:.2f} s")  # fmt: skip
    for what, s in timers.seconds.items():
        print(f"  {what:<36} {s / max(1, args.minutes - 1):7.3f} s a minute ({100 * s / spent:4.1f} %)")
    try:
        alloc = bench_ipam(settings, args.allocs)
        print(
            f"IPAM: {len(alloc)} allocations of /29: p50 {pct(alloc, 0.5):.2f} ms"
            f"  p99 {pct(alloc, 0.99):.2f} ms"
        )
    except Exception as exc:  # noqa: BLE001 - a module not yet on this engine: say so, measure the rest
        print(f"IPAM: FAILED on this engine: {type(exc).__name__}: {exc}")
    read_s, subjects = bench_read(settings)
    print(f"whole-province state read (nms.state.current, {subjects} subjects): {read_s * 1000:.1f} ms")
    return {"minute_s": minute_s, "timers": dict(timers.seconds), "minutes": max(1, args.minutes - 1),
            "t0": t0, "spent": spent}  # fmt: skip


def ten_provinces(
    cluster: Any, base: Settings, inv: Any, args: argparse.Namespace, one: dict[str, Any]
) -> None:
    """Ten provinces, each its own database on the one PostgreSQL (so its own writer lock and
    its own state), their agents split between two centre processes: one minute, measured."""
    devices = PROVINCES * len(inv.devices)
    print(f"\n== ten provinces ({devices} devices, one database each) on PostgreSQL, two centres", flush=True)
    _warm, wall1, res1 = two_centres([base.database_url], base, inv, args.minutes, one["t0"], args.ifaces)
    print(f"first, one province-minute by two centres at once: {sum(r[0] for r in res1)} polls in "
          f"{wall1:.2f} s wall (one centre alone: {one['minute_s']:.2f} s)")  # fmt: skip
    urls = [cluster.create_database(f"province{i:02d}") for i in range(PROVINCES)]
    for url in urls:
        migrate(dataclasses.replace(base, database_url=url))
    load = os.getloadavg()[0]
    warm, wall, results = two_centres(urls, base, inv, 0, one["t0"], args.ifaces)
    print(f"warm-up (every province's first minute: every subject new): {warm:.1f} s")
    polls = sum(r[0] for r in results)
    verdict = "within" if wall <= INTERVAL_S else f"{wall / INTERVAL_S:.1f}x over"
    print(f"ten provinces' minute by two centres: {polls} polls, {sum(r[4] for r in results)} batches in "
          f"**{wall:.1f} s wall** of a {INTERVAL_S:.0f} s interval -> {verdict}; "
          f"one province alone by one centre: {one['minute_s']:.2f} s "
          f"(x{PROVINCES} = {PROVINCES * one['minute_s']:.1f} s); "
          f"load average before the warm-up {load:.2f}")  # fmt: skip
    for i, r in enumerate(results):
        parts = ", ".join(f"{k.strip()} {v:.2f} s" for k, v in r[3].items())
        print(f"  centre {i + 1}: {r[1]:.1f} s wall / {r[2]:.1f} s CPU in the centre process; {parts}")
    # What one database for all ten would cost instead: every state update loads and derives
    # every subject of the database under its one writer lock (measured per province above).
    per_min = {k: v / one["minutes"] for k, v in one["timers"].items()}
    load_derive = per_min.get("  state: load every subject", 0) + per_min.get("  state: derive", 0)
    one_db, per_db = PROVINCES * PROVINCES * load_derive, PROVINCES * load_derive
    print(f"(one database for all ten instead: each state update would load and derive all ten provinces' "
          f"subjects under the one lock, about {one_db:.0f} s of load+derive a minute instead of "
          f"{per_db:.0f} s -- an estimate from the province run, not measured)")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=3, help="minutes of the province ingested (default 3)")
    parser.add_argument("--ifaces", type=int, default=12, help="interfaces per device (default 12)")
    parser.add_argument("--allocs", type=int, default=300, help="IPAM allocations timed (default 300)")
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--inventory", type=Path, default=ROOT / "inventory.yaml")
    args = parser.parse_args(argv)
    inv = load_inventory(args.inventory)
    print(f"bench/db.py: {len(inv.devices)} devices, {len(inv.agents)} agents; load average before: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs (a shared machine: "
          "wall times include the other users)")  # fmt: skip
    start, cpu = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory(prefix="nms-bench-db-") as tmp:
        base = Settings(data_dir=Path(tmp) / "sqlite", inventory_path=args.inventory, database_url="")
        if "sqlite" in args.engines:
            run_engine("SQLite (WAL files)", base, inv, args)
        if "postgresql" in args.engines:
            from tests.support.pgcluster import PgCluster

            cluster = PgCluster.start(durable=True)
            try:
                url = cluster.create_database("bench")
                pg = dataclasses.replace(base, data_dir=Path(tmp) / "pg", database_url=url)
                one = run_engine("PostgreSQL 15 (durable throwaway cluster, loopback TCP)", pg, inv, args)
                ten_provinces(cluster, pg, inv, args, one)
            finally:
                from nms.dbpg import close_pools

                close_pools()
                cluster.stop()
    took = f"{time.perf_counter() - start:.0f} s wall, {time.process_time() - cpu:.0f} s CPU in this process"
    print(f"\ntotal {took}; load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
