"""Issue 19's race: 8 processes x 100 IPAM allocations over HTTP through two centres -> no duplicate.

Two real ``nms serve`` processes share one database (PostgreSQL; on SQLite, one data
directory), eight worker processes each ask for 100 blocks from one pool through the REST
API, alternating centres.  Every allocation must succeed once, no two blocks may overlap,
the pool's counters and free-space index must agree with its children, and the audit log
must hold exactly one entry per allocation.
"""

from __future__ import annotations

import ipaddress
import json
import multiprocessing as mp
import time
import urllib.error
import urllib.request
from pathlib import Path

from ipam import freespace, store
from ipam.addresses import parse_prefix
from ipam.allocate import free_blocks
from nms.config import Settings
from nms.schema import open_migrated
from tests.auth.helpers import make_token, make_user
from tests.support.processes import Centre, write_inventory

WORKERS, EACH = 8, 100
POOL = "10.0.0.0/12"  # room for all 800 blocks: every failure would be a race, not a full pool


def _post(url: str, token: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def _worker(centres: list[str], pool_id: int, token: str, worker: int) -> list[tuple[int, dict, float]]:
    """100 allocations, alternating centres; (status, answer, seconds) of each."""
    out = []
    for i in range(EACH):
        url = f"{centres[(worker + i) % len(centres)]}/api/v1/ipam/pools/{pool_id}/allocate"
        body = {"prefix_length": 24 + i % 3, "purpose": f"w{worker}-{i}",
                "policy": ("first", "last", "best")[(worker + i) % 3]}
        t0 = time.perf_counter()
        status, answer = _post(url, token, body)
        out.append((status, answer, time.perf_counter() - t0))
    return out


def _start_centres(settings: Settings, tmp_path: Path) -> list[Centre]:
    """Two ``nms serve`` on one database: one PostgreSQL, or one SQLite data directory."""
    inventory = write_inventory(tmp_path / "inventory.yaml")
    centres = []
    for n in range(2):
        data_dir = tmp_path / f"centre{n}" if settings.database_url else settings.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        centre = Centre(data_dir, inventory)
        centre.env["NMS_DATABASE_URL"] = settings.database_url
        centre.log = tmp_path / f"centre{n}.log"
        centres.append(centre)
    return centres


def test_eight_processes_allocate_through_two_centres_without_duplicates(settings, tmp_path):
    db = open_migrated(settings, "centre")
    try:
        pool = store.add(db, store.space_id(db, "专网"), parse_prefix(POOL), status="container",
                         actor="test", is_pool=True, site="anhui")
        make_user(db, "admin1", "administrator", "anhui")
        token = make_token(db, "user", "admin1")
    finally:
        db.conn.close()
    centres = _start_centres(settings, tmp_path)
    try:
        for centre in centres:
            centre.start()
        urls = [c.url for c in centres]
        t0 = time.monotonic()
        with mp.get_context("fork").Pool(WORKERS) as workers:
            results = workers.starmap(_worker, [(urls, pool.id, token, w) for w in range(WORKERS)])
        elapsed = time.monotonic() - t0
    finally:
        for centre in centres:
            centre.stop()
    answers = [(status, answer) for per_worker in results for status, answer, _ in per_worker]
    refused = [(s, a) for s, a in answers if s != 201]
    assert not refused, refused[:5]
    assert len(answers) == WORKERS * EACH

    nets = sorted((ipaddress.ip_network(a["prefix"]) for _, a in answers),
                  key=lambda n: (int(n.network_address), n.prefixlen))
    assert len(set(nets)) == WORKERS * EACH
    for a, b in zip(nets, nets[1:], strict=False):  # sorted by start: any overlap shows between neighbours
        assert not a.overlaps(b), (a, b)
    assert all(n.subnet_of(ipaddress.ip_network(POOL)) for n in nets)

    db = open_migrated(settings, "centre")
    try:
        fresh = store.get(db, pool.id)
        stored = {ipaddress.ip_network(c.cidr) for c in store.children(db.conn, fresh)}
        assert stored == set(nets)
        assert fresh.n_children == WORKERS * EACH and fresh.used == sum(n.num_addresses for n in nets)
        assert freespace.indexed_blocks(db.conn, fresh) == list(free_blocks(db.conn, fresh))
        audited = [r[0] for r in db.execute(
            "SELECT target FROM audit_log WHERE action='ipam.prefix.create' AND actor='admin1'")]
    finally:
        db.conn.close()
    assert sorted(audited) == sorted(f"ipam:prefix:{pool.space_id}:{n}" for n in nets)
    seconds = sorted(t for per_worker in results for *_, t in per_worker)
    print(f"\n{settings.database_url and 'postgresql' or 'sqlite'}: {len(nets)} allocations through two "
          f"centres in {elapsed:.1f} s; p50 {seconds[len(seconds) // 2] * 1000:.0f} ms,"
          f" p99 {seconds[int(len(seconds) * 0.99)] * 1000:.0f} ms")
