"""Next free /N in a pool: stream the pool's children in address order, stop at a fit.

No IPSet of the pool is ever built: the gaps between sorted children *are* the free
space, read straight off the (space, family, parent, network) index.  First-fit
starts at the pool's ``free_hint`` (everything before it is known full), last-fit
streams downwards from the top, best-fit reads every gap and takes the smallest
aligned free block that holds the request.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import sqlite_utils

from ipam import store
from ipam.addresses import BITS, Block, align_up, encode, parse_plen, plen_for_hosts, split_range
from ipam.errors import BadInput, Conflict, IpamError
from ipam.store import Prefix
from nms.db import transaction


def _children(conn: Any, pool: Prefix, start: int, descending: bool = False) -> Iterator[tuple[int, int]]:
    """(network, last) of the pool's children from ``start``, lazily: SQLite steps the index."""
    if descending:
        sql = ("SELECT network, last FROM ipam_prefixes WHERE space_id=? AND family=? AND parent_id=?"
               " AND network<=? ORDER BY network DESC")
    else:
        sql = ("SELECT network, last FROM ipam_prefixes WHERE space_id=? AND family=? AND parent_id=?"
               " AND network>=? ORDER BY network")
    for network, last in conn.execute(sql, (pool.space_id, pool.family, pool.id, encode(start))):
        yield int.from_bytes(network, "big"), int.from_bytes(last, "big")


def gaps(conn: Any, pool: Prefix, start: int | None = None) -> Iterator[tuple[int, int]]:
    """Free ranges [low, high] of the pool in address order."""
    cursor = pool.network if start is None else max(start, pool.network)
    if cursor != pool.network:  # a hint may fall inside a child: start after that child
        left = store.sibling_at_or_below(conn, pool.space_id, pool.family, pool.id, cursor)
        if left is not None and left.last >= cursor:
            cursor = left.last + 1
    for network, last in _children(conn, pool, cursor):
        if network > cursor:
            yield cursor, network - 1
        cursor = max(cursor, last + 1)
    if cursor <= pool.last:
        yield cursor, pool.last


def _gaps_down(conn: Any, pool: Prefix) -> Iterator[tuple[int, int]]:
    cursor = pool.last
    for network, last in _children(conn, pool, pool.last, descending=True):
        if last < cursor:
            yield last + 1, cursor
        cursor = min(cursor, network - 1)
    if cursor >= pool.network:
        yield pool.network, cursor


def free_blocks(conn: Any, pool: Prefix) -> Iterator[Block]:
    """The pool's free space as the fewest CIDR blocks, in address order."""
    for low, high in gaps(conn, pool):
        yield from split_range(low, high, pool.family)


def find_free(conn: Any, pool: Prefix, plen: int, policy: str | None = None) -> tuple[int | None, int | None]:
    """(network of the block to allocate or None, new free_hint or None)."""
    size = 1 << (BITS[pool.family] - plen)
    policy = policy or pool.policy
    if policy == "first":
        full_to = pool.free_hint if pool.free_hint is not None else pool.network
        start = max(full_to, pool.fit_hints.get(plen, pool.network))
        first_low = None
        for low, high in gaps(conn, pool, start):
            if first_low is None:
                first_low = low
            cand = align_up(low, size)
            if cand + size - 1 <= high:
                hint = None
                if start == full_to:  # the scan began at the known-full mark: the first gap is the new one
                    hint = min(cand + size if cand == first_low else first_low, pool.last)
                return cand, hint
        return None, None
    if policy == "last":
        for low, high in _gaps_down(conn, pool):
            cand = (high + 1 - size) // size * size
            if cand >= low:
                return cand, None
        return None, None
    if policy == "best":
        best: Block | None = None
        blocks = (b for low, high in gaps(conn, pool, pool.free_hint)  # nothing is free below the hint
                  for b in split_range(low, high, pool.family))
        for block in blocks:
            if block.plen <= plen and (best is None or block.plen > best.plen):
                best = block
                if best.plen == plen:
                    break  # an exact fit cannot be beaten; lowest address wins ties
        return (best.network if best else None), None
    raise BadInput("policy", f"unknown allocation policy {policy!r}")


def _save_fit_hints(conn: Any, pool: Prefix, plen: int, network: int) -> None:
    """After first-fit put a /plen at ``network``: no free /plen (or larger) starts below it.

    A larger free aligned block below would hold a free /plen, which the scan would
    have taken; so hints of larger sizes rise to ``network`` too (only if present).
    """
    size = 1 << (BITS[pool.family] - plen)
    fits = dict(pool.fit_hints)
    fits[plen] = max(fits.get(plen, 0), min(network + size, pool.last))
    for other in fits:
        if other < plen:
            fits[other] = max(fits[other], network)
    conn.execute("UPDATE ipam_prefixes SET fit_hints=? WHERE id=?",
                 (json.dumps({str(k): v for k, v in sorted(fits.items())}), pool.id))


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
        network, hint = find_free(conn, pool, n, policy)
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
        if hint is not None:
            conn.execute("UPDATE ipam_prefixes SET free_hint=? WHERE id=?", (encode(hint), pool.id))
        if (policy or pool.policy) == "first":
            _save_fit_hints(conn, pool, n, network)
        if idempotency_key:
            conn.execute("INSERT INTO ipam_idempotency (key, actor, params, prefix_id, ts)"
                         " VALUES (?,?,?,?,?)",
                         (idempotency_key, actor, params, prefix.id, time.time()))
        return prefix, True
