"""IPAM benchmark: fill a v4 /8 and a v6 /32 with 100,000 allocations each, then every policy.

Prints p50/p99 of next-free allocation (one BEGIN IMMEDIATE transaction each, audit
row and free-space index update included; wall time, and the thread's CPU time) for
first-, last- and best-fit, in the packed pool and again after releasing every 10th
block (fragmented), and of reading pool utilisation; beside them netaddr IPSet's time
for the same questions (pool minus children, then the block the policy picks; size
of the set).  IPSet has no index to keep, so its figure is building the free set plus
the pick (and the pick alone).

centre.db's log is checkpointed by :class:`nms.walcheck.Checkpointer` in the background,
as under ``nms serve``; ``--checkpoints inline`` runs without it and with SQLite's default
``wal_autocheckpoint`` (the centre before that change: a commit checkpoints every 1000
pages), ``both`` runs each pool both ways, one after the other, to compare within one run.
"tail commit" is the share of the slowest 1% of allocations' wall time spent in COMMIT
(where an inline checkpoint is paid).

    python bench/ipam.py [--count 100000] [--each 2000] [--dir DIR] [--checkpoints background|inline|both]
        [--pools IPv4|IPv6|both]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import netaddr  # noqa: E402

from ipam import store  # noqa: E402
from ipam.addresses import parse_prefix, to_text  # noqa: E402
from ipam.allocate import allocate, reindex  # noqa: E402
from nms.config import Settings  # noqa: E402
from nms.schema import open_migrated  # noqa: E402
from nms.walcheck import Checkpointer  # noqa: E402

CHUNK = 500  # with --checkpoints both, the two databases take turns every CHUNK allocations
CASES = (("IPv4", "10.0.0.0/8", (26, 27, 28, 28)), ("IPv6", "2001:db8::/32", (52, 56, 56, 60)))
POLICIES = ("first", "last", "best")


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] * 1000


def ipset_pick(free: netaddr.IPSet, plen: int, policy: str) -> str | None:
    """What each policy asks, answered from an IPSet of the free space."""
    fits = [c for c in free.iter_cidrs() if c.prefixlen <= plen]
    if not fits:
        return None
    if policy == "first":
        return f"{fits[0].network}/{plen}"
    size = 1 << ((32 if fits[0].version == 4 else 128) - plen)
    if policy == "last":
        return f"{netaddr.IPAddress(fits[-1].last + 1 - size, fits[-1].version)}/{plen}"
    best = max(fits, key=lambda c: (c.prefixlen, -c.first))
    return f"{best.network}/{plen}"


def ipset_timed(pool: str, children: list[netaddr.IPNetwork], plen: int, policy: str) -> tuple[float, float]:
    """(ms to build pool minus children and pick, ms to pick alone)."""
    t0 = time.perf_counter()
    free = netaddr.IPSet([pool]) - netaddr.IPSet(children)
    t1 = time.perf_counter()
    ipset_pick(free, plen, policy)
    t2 = time.perf_counter()
    return (t2 - t0) * 1000, (t2 - t1) * 1000


def _timed(fn: Callable[[], object], cpu: list[float] | None = None) -> tuple[float, object]:
    """(wall seconds, result); with ``cpu``, this thread's CPU seconds are appended to it.

    On a machine shared with other work the wall tail is mostly waiting for a core or
    the disk; the CPU time is what the allocation itself costs.
    """
    c0, t0 = time.thread_time(), time.perf_counter()
    out = fn()
    wall = time.perf_counter() - t0
    if cpu is not None:
        cpu.append(time.thread_time() - c0)
    return wall, out


class CommitClock:
    """Times the COMMIT of each transaction on ``db`` (``nms.db.transaction`` runs it on the handle)."""

    def __init__(self, db) -> None:
        self.last = 0.0
        execute = db.execute

        def timed(sql: str, *args: object) -> object:
            if sql != "COMMIT":
                return execute(sql, *args)
            t0 = time.perf_counter()
            try:
                return execute(sql, *args)
            finally:
                self.last = time.perf_counter() - t0

        db.execute = timed

    def timed(self, fn: Callable[[], object], cpu: list[float], commits: list[float]) -> tuple[float, object]:
        """:func:`_timed`, and the seconds its COMMIT took appended to ``commits``."""
        self.last = 0.0
        out = _timed(fn, cpu)
        commits.append(self.last)
        return out


def tail_commit(times: list[float], commits: list[float]) -> float:
    """Percent of the slowest 1% of samples' wall time that was COMMIT."""
    k = max(1, len(times) // 100)
    slow = sorted(range(len(times)), key=times.__getitem__)[-k:]
    return 100 * sum(commits[i] for i in slow) / sum(times[i] for i in slow)


def _net(prefix: store.Prefix) -> netaddr.IPNetwork:
    return netaddr.IPNetwork(f"{to_text(prefix.network, prefix.family)}/{prefix.plen}")


def run(label: str, cidr: str, sizes: tuple[int, ...], count: int, each: int, db, clock: CommitClock,
        say: Callable[[str], object] = print) -> Iterator[None]:
    """One pool's bench, printing through ``say``; it yields every :data:`CHUNK` allocations or releases."""
    pool = store.add(db, store.space_id(db, "专网"), parse_prefix(cidr), status="container", actor="bench",
                     is_pool=True, site="anhui")
    checkpoints = {count // 100, count // 10, count // 2, count}
    alloc_t: list[float] = []
    alloc_cpu: list[float] = []
    alloc_commit: list[float] = []
    util_t: list[float] = []
    children: dict[int, netaddr.IPNetwork] = {}
    ipset_rows = []
    for i in range(1, count + 1):
        plen = sizes[i % len(sizes)]
        dt, (prefix, _) = clock.timed(lambda plen=plen: allocate(db, pool.id, actor="bench", plen=plen),
                                      alloc_cpu, alloc_commit)
        alloc_t.append(dt)
        children[prefix.id] = _net(prefix)
        dt, _ = _timed(lambda: store.utilisation(store.get(db, pool.id)))
        util_t.append(dt)
        if i % CHUNK == 0:
            yield
        if i in checkpoints:
            build_pick, _ = ipset_timed(cidr, list(children.values()), sizes[(i + 1) % len(sizes)], "first")
            t_util, _ = _timed(lambda: netaddr.IPSet(children.values()).size / netaddr.IPNetwork(cidr).size)
            ipset_rows.append((i, build_pick, t_util * 1000))
    u = store.utilisation(store.get(db, pool.id))
    say(f"\n{label} pool {cidr}: {count} allocations of /{'/'.join(map(str, sorted(set(sizes))))},"
          f" {u['assigned_pct']}% assigned")
    say(f"  fill, first-fit (1 txn + audit + index): p50 {pct(alloc_t, .5):.3f} ms"
          f"  p99 {pct(alloc_t, .99):.3f} ms  max {max(alloc_t) * 1000:.1f} ms"
          f"  mean {statistics.mean(alloc_t) * 1000:.3f} ms;"
          f" CPU p50 {pct(alloc_cpu, .5):.3f} ms  p99 {pct(alloc_cpu, .99):.3f} ms;"
          f" tail commit {tail_commit(alloc_t, alloc_commit):.0f}%")
    say(f"  pool utilisation (counter row):         p50 {pct(util_t, .5):.3f} ms"
          f"  p99 {pct(util_t, .99):.3f} ms")
    for n, t_free, t_util in ipset_rows:
        say(f"  netaddr IPSet at {n:>6} children: next-free {t_free:9.1f} ms  utilisation {t_util:9.1f} ms")
    say(f"  {'':>5}  {'pool':>10}  {'n':>5}  {'p50 ms':>8}  {'p99 ms':>8}  {'max ms':>7}"
          f"  {'CPU p50':>8}  {'CPU p99':>8}  {'tail commit':>11}"
          "  | IPSet same query: build+pick, pick alone (ms)")
    for state in ("packed", "fragmented"):
        if state == "fragmented":
            ids = [r[0] for r in db.execute("SELECT id FROM ipam_prefixes WHERE parent_id=? ORDER BY network",
                                            (pool.id,))]
            rel_t = []
            for pid in ids[::10]:
                dt, _ = _timed(lambda pid=pid: store.delete(db, pid, actor="bench"))
                rel_t.append(dt)
                children.pop(pid, None)
                if len(rel_t) % CHUNK == 0:
                    yield
            say(f"  release every 10th block ({len(rel_t)} releases): p50 {pct(rel_t, .5):.3f} ms"
                  f"  p99 {pct(rel_t, .99):.3f} ms")
        for policy in POLICIES:
            times: list[float] = []
            cpu: list[float] = []
            commits: list[float] = []
            for i in range(each):
                dt, (prefix, _) = clock.timed(lambda i=i, policy=policy: allocate(
                    db, pool.id, actor="bench", plen=sizes[i % len(sizes)], policy=policy), cpu, commits)
                times.append(dt)
                children[prefix.id] = _net(prefix)
                if (i + 1) % CHUNK == 0:
                    yield
            build_pick, pick = ipset_timed(cidr, list(children.values()), sizes[0], policy)
            say(f"  {policy:>5}  {state:>10}  {each:>5}  {pct(times, .5):8.3f}  {pct(times, .99):8.3f}"
                  f"  {max(times) * 1000:7.1f}  {pct(cpu, .5):8.3f}  {pct(cpu, .99):8.3f}"
                  f"  {tail_commit(times, commits):10.0f}%"
                  f"  | {build_pick:8.1f}, {pick:7.1f}")
    dt, out = _timed(lambda: reindex(db, {pool.id}))
    say(f"  rebuilding the pool's index from scratch ({len(children)} children, {out['free_blocks']}"
          f" free blocks): {dt * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="allocations filling each pool")
    parser.add_argument("--each", type=int, default=2000, help="allocations per policy and pool state")
    parser.add_argument("--dir", help="where the database goes (default: the system's temporary directory)")
    parser.add_argument("--checkpoints", choices=("background", "inline", "both"), default="background",
                        help="who checkpoints centre.db's log (default: a background thread, as nms serve)")
    parser.add_argument("--pools", choices=("IPv4", "IPv6", "both"), default="both",
                        help="which pools to bench (default both)")
    args = parser.parse_args()
    cases = [c for c in CASES if args.pools in ("both", c[0])]
    modes = ("inline", "background") if args.checkpoints == "both" else (args.checkpoints,)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        dbs = {}
        for mode in modes:
            settings = Settings(data_dir=Path(tmp) / mode)
            settings.data_dir.mkdir()
            db = open_migrated(settings, "centre")
            if mode == "inline":
                db.execute("PRAGMA wal_autocheckpoint=1000")
                dbs[mode] = (db, CommitClock(db), None)
            else:
                dbs[mode] = (db, CommitClock(db), Checkpointer(settings).start())
        print(f"centre.db log checkpoints: {' and '.join(modes)}")
        for label, cidr, sizes in cases:
            lines: dict[str, list[str]] = {mode: [f"\n[checkpoints: {mode}]"] for mode in modes}
            runs = {mode: run(label, cidr, sizes, args.count, args.each, *dbs[mode][:2],
                              say=print if len(modes) == 1 else lines[mode].append) for mode in modes}
            while runs:  # take turns, so both see the same moments of a shared machine
                for mode in list(runs):
                    if next(runs[mode], "done") == "done":
                        del runs[mode]
                    if len(modes) > 1:  # the background checkpointer's round ends here, not in the other turn
                        time.sleep(0.2)
            if len(modes) > 1:
                print("\n".join(line for mode in modes for line in lines[mode]))
        for db, _, checkpointer in dbs.values():
            if checkpointer is not None:
                checkpointer.stop()
            db.conn.close()


if __name__ == "__main__":
    main()
