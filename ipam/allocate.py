"""Next free /N in a pool, picked from the pool's free-space index (:mod:`ipam.freespace`).

The index holds the pool's free space as its maximal CIDR blocks keyed by prefix
length, so every policy costs one index step per length between the pool's and the
request's, however packed or fragmented the pool is; inserting the block recuts the
index around it in the same transaction.
"""

from __future__ import annotations

import json
import time
from typing import Any

import sqlite_utils

from ipam import freespace, store
from ipam.addresses import Block, parse_plen, plen_for_hosts
from ipam.errors import BadInput, Conflict, IpamError
from ipam.freespace import free_blocks
from ipam.store import Prefix
from nms.db import transaction

__all__ = ["allocate", "find_free", "free_blocks"]  # free_blocks: the API's /free reads it here


def find_free(conn: Any, pool: Prefix, plen: int, policy: str | None = None) -> int | None:
    """Network of the block the policy picks, or None when no free /plen is left.

    first: lowest free aligned /plen; last: highest; best: in the smallest free CIDR
    block that holds it (lowest such block on ties).  Builds the index if missing.
    """
    policy = policy or pool.policy
    if policy not in ("first", "last", "best"):
        raise BadInput("policy", f"unknown allocation policy {policy!r}")
    freespace.ensure(conn, pool)
    return freespace.find(conn, pool, plen, policy)


def reindex(db: sqlite_utils.Database, pool_ids: set[int] | None = None) -> dict[str, int]:
    """Rebuild the free-space index of every container (or of ``pool_ids``) from the tree.

    For databases from before the index, after imports and after anything edited the
    tables by hand; allocation also rebuilds a missing pool index by itself.
    """
    conn, pools = db.conn, 0
    rows = 0
    with transaction(db):
        if pool_ids is None:
            targets = store.query(db, None, status="container", limit=-1)
        else:
            targets = [p for p in (store.get(conn, i) for i in sorted(pool_ids)) if p.status == "container"]
        for pool in targets:
            rows += freespace.rebuild(conn, pool)
            pools += 1
    return {"pools": pools, "free_blocks": rows}


def _request_plen(pool: Prefix, plen: object = None, hosts: object = None) -> int:
    if plen is None and hosts is None:
        raise BadInput("prefix_length", "give a prefix length or a number of hosts")
    n = parse_plen(plen, pool.family) if plen is not None else plen_for_hosts(hosts, pool.family)
    if n < pool.plen:
        raise BadInput("prefix_length", f"/{n} is larger than the pool {pool.cidr}")
    if n == pool.plen:
        raise BadInput("prefix_length", f"/{n} is the whole pool {pool.cidr}; ask for a smaller block")
    return n


def allocate(db: sqlite_utils.Database, pool_id: int, *, actor: str, plen: object = None,
             hosts: object = None, status: str = "allocated", site: str | None = None, purpose: str = "",
             idempotency_key: str | None = None, request_id: int | None = None,
             hold_until: float | None = None, policy: str | None = None, reason: str | None = None,
             is_pool: bool = False, source_ip: str | None = None) -> tuple[Prefix, bool]:
    """Allocate the next free block in one short write transaction.

    Returns (prefix, created); a repeated ``idempotency_key`` with the same parameters
    returns the first result with ``created`` False instead of allocating again.
    """
    store.check_status(status)
    if policy is not None:
        store.check_policy(policy)
    conn = db.conn
    with transaction(db):
        pool = store.get(conn, pool_id)
        if pool.status != "container":
            raise Conflict(f"{pool.cidr} is {pool.status}, not a container; allocate from a pool", "pool")
        n = _request_plen(pool, plen, hosts)
        params = json.dumps({"pool": pool_id, "plen": n, "status": status, "site": site, "purpose": purpose},
                            sort_keys=True, ensure_ascii=False)
        if idempotency_key:
            row = conn.execute("SELECT params, prefix_id FROM ipam_idempotency WHERE key=?",
                               (idempotency_key,)).fetchone()
            if row is not None:
                if row[0] != params:
                    raise Conflict("idempotency_key was already used for a different allocation",
                                   "idempotency_key")
                return store.get(conn, row[1]), False
        network = find_free(conn, pool, n, policy)
        if network is None:
            raise Conflict(f"pool {pool.cidr} has no free /{n} left "
                           f"({store.utilisation(pool)['assigned_pct']}% assigned)", "prefix_length")
        block = Block(pool.family, network, n)
        # last line of defence before the UNIQUE constraint: the neighbour must not overlap
        left = store.sibling_at_or_below(conn, pool.space_id, pool.family, pool.id, block.last)
        if left is not None and left.last >= block.network:
            raise IpamError(f"internal error: {block} would overlap {left.cidr}")
        prefix = store.insert_child(conn, pool, pool.space_id, block, status=status, actor=actor,
                                    site=site if site is not None else pool.site, purpose=purpose,
                                    request_id=request_id, hold_until=hold_until, reason=reason,
                                    is_pool=is_pool and status == "container",
                                    source_ip=source_ip)
        if idempotency_key:
            conn.execute("INSERT INTO ipam_idempotency (key, actor, params, prefix_id, ts)"
                         " VALUES (?,?,?,?,?)",
                         (idempotency_key, actor, params, prefix.id, time.time()))
        return prefix, True
