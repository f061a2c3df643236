"""8 processes x 100 allocations from one pool (first-, last- and best-fit mixed): every prefix
distinct, none overlapping, and the pool's free-space index equal to its recomputed free space."""

from __future__ import annotations

import ipaddress
import multiprocessing as mp

from ipam import freespace, store
from ipam.addresses import parse_prefix
from ipam.allocate import allocate, free_blocks
from nms.config import Settings
from nms.db import connect

WORKERS, EACH = 8, 100


def _worker(settings: Settings, pool_id: int, worker: int, start: mp.Event) -> None:
    db = connect(settings, "centre")
    start.wait()
    for i in range(EACH):
        allocate(db, pool_id, actor=f"w{worker}", plen=24 + (i % 3), purpose=f"w{worker}-{i}",
                 policy=("first", "last", "best")[(worker + i) % 3])
    db.conn.close()


def test_eight_processes_allocate_800_distinct_prefixes(db, settings):
    pool = store.add(db, store.space_id(db, "专网"), parse_prefix("10.0.0.0/8"), status="container",
                     actor="test", is_pool=True, site="anhui")
    ctx = mp.get_context("fork")
    start = ctx.Event()
    procs = [ctx.Process(target=_worker, args=(settings, pool.id, w, start))
             for w in range(WORKERS)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    rows = db.execute("SELECT network, last, plen FROM ipam_prefixes WHERE parent_id=? ORDER BY network",
                      (pool.id,)).fetchall()
    assert len(rows) == WORKERS * EACH
    nets = [ipaddress.ip_network(f"{ipaddress.IPv4Address(int.from_bytes(n, 'big'))}/{p}")
            for n, _l, p in rows]
    assert len(set(nets)) == WORKERS * EACH
    for a, b in zip(nets, nets[1:], strict=False):
        assert not a.overlaps(b), (a, b)
    fresh = store.get(db, pool.id)
    assert fresh.n_children == WORKERS * EACH
    assert fresh.used == sum(n.num_addresses for n in nets)
    assert freespace.indexed_blocks(db.conn, fresh) == list(free_blocks(db.conn, fresh))
    audits = db.execute("SELECT count(*) FROM audit_log WHERE action='ipam.prefix.create'").fetchone()[0]
    assert audits == WORKERS * EACH + 1


def _retrier(settings: Settings, pool_id: int, start: mp.Event, out: mp.Queue) -> None:
    db = connect(settings, "centre")
    start.wait()
    prefix, created = allocate(db, pool_id, actor="retry", plen=24, idempotency_key="req-7")
    out.put((prefix.id, created))
    db.conn.close()


def test_retried_request_with_one_key_allocates_once(db, settings):
    pool = store.add(db, store.space_id(db, "外网"), parse_prefix("172.16.0.0/12"), status="container",
                     actor="test", is_pool=True)
    ctx = mp.get_context("fork")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_retrier, args=(settings, pool.id, start, out))
             for _ in range(6)]
    for p in procs:
        p.start()
    start.set()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(60)
    assert len({pid for pid, _ in results}) == 1
    assert sorted(created for _, created in results) == [False] * 5 + [True]
    assert store.get(db, pool.id).n_children == 1
