"""IPAM benchmark: fill a v4 /8 and a v6 /32 with 100,000 allocations each.

Prints p50/p99 of next-free allocation (one BEGIN IMMEDIATE transaction each, audit
row included) and of reading pool utilisation, and beside them netaddr IPSet's time
for the same questions (pool minus children, first fitting block; size of the set),
measured at a few fill levels because IPSet redoes the whole pool every time.

    python bench/ipam.py [--count 100000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import netaddr  # noqa: E402

from ipam import store  # noqa: E402
from ipam.addresses import parse_prefix, to_text  # noqa: E402
from ipam.allocate import allocate  # noqa: E402
from nms.config import Settings  # noqa: E402
from nms.schema import open_migrated  # noqa: E402

CASES = (("IPv4", "10.0.0.0/8", (26, 27, 28, 28)), ("IPv6", "2001:db8::/32", (52, 56, 56, 60)))


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] * 1000


def ipset_next_free(pool: netaddr.IPNetwork, children: list[netaddr.IPNetwork], plen: int) -> str | None:
    free = netaddr.IPSet([pool]) - netaddr.IPSet(children)
    for cidr in free.iter_cidrs():
        if cidr.prefixlen <= plen:
            return str(netaddr.IPNetwork(f"{cidr.network}/{plen}"))
    return None


def run(label: str, cidr: str, sizes: tuple[int, ...], count: int, db) -> None:
    pool = store.add(db, store.space_id(db, "专网"), parse_prefix(cidr), status="container", actor="bench",
                     is_pool=True, site="anhui")
    checkpoints = {count // 100, count // 10, count // 2, count}
    alloc_t: list[float] = []
    util_t: list[float] = []
    children: list[netaddr.IPNetwork] = []
    ipset_rows = []
    for i in range(1, count + 1):
        plen = sizes[i % len(sizes)]
        t0 = time.perf_counter()
        prefix, _ = allocate(db, pool.id, actor="bench", plen=plen)
        alloc_t.append(time.perf_counter() - t0)
        children.append(netaddr.IPNetwork(f"{to_text(prefix.network, prefix.family)}/{prefix.plen}"))
        t0 = time.perf_counter()
        store.utilisation(store.get(db, pool.id))
        util_t.append(time.perf_counter() - t0)
        if i in checkpoints:
            net = netaddr.IPNetwork(cidr)
            t0 = time.perf_counter()
            ipset_next_free(net, children, sizes[(i + 1) % len(sizes)])
            t_free = time.perf_counter() - t0
            t0 = time.perf_counter()
            netaddr.IPSet(children).size / net.size
            t_util = time.perf_counter() - t0
            ipset_rows.append((i, t_free * 1000, t_util * 1000))
    u = store.utilisation(store.get(db, pool.id))
    print(f"\n{label} pool {cidr}: {count} allocations of /{'/'.join(map(str, sorted(set(sizes))))},"
          f" {u['assigned_pct']}% assigned")
    print(f"  next-free allocation (first-fit, 1 txn + audit): p50 {pct(alloc_t, .5):.3f} ms"
          f"  p99 {pct(alloc_t, .99):.3f} ms  max {max(alloc_t) * 1000:.1f} ms"
          f"  mean {statistics.mean(alloc_t) * 1000:.3f} ms")
    print(f"  pool utilisation (counter row):                  p50 {pct(util_t, .5):.3f} ms"
          f"  p99 {pct(util_t, .99):.3f} ms")
    for n, t_free, t_util in ipset_rows:
        print(f"  netaddr IPSet at {n:>6} children: next-free {t_free:9.1f} ms  utilisation {t_util:9.1f} ms")
    # the other policies: on the packed pool, then after releasing every 10th block (fragmented)
    for state in ("packed", "fragmented"):
        if state == "fragmented":
            ids = [r[0] for r in db.execute("SELECT id FROM ipam_prefixes WHERE parent_id=? ORDER BY network",
                                            (pool.id,))]
            for pid in ids[::10]:
                store.delete(db, pid, actor="bench")
        for policy in ("first", "last", "best"):
            times = []
            for _ in range(50):
                t0 = time.perf_counter()
                allocate(db, pool.id, actor="bench", plen=sizes[0], policy=policy)
                times.append(time.perf_counter() - t0)
            print(f"  {policy:>5}-fit, {state:>10} pool (50 allocations): p50 {pct(times, .5):8.3f} ms"
                  f"  p99 {pct(times, .99):8.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = open_migrated(Settings(data_dir=Path(tmp)), "centre")
        for label, cidr, sizes in CASES:
            run(label, cidr, sizes, args.count, db)


if __name__ == "__main__":
    main()
