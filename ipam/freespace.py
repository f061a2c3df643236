"""Free space of every container: recomputed from the tree, and kept as an index by size.

The free space of a container is the gaps between its (disjoint, sorted) children.
Cut each gap into its fewest CIDR blocks and every block is a *maximal* free aligned
block; aligned blocks nest or are disjoint, so any free aligned /n lies in exactly
one of them.  Hence with the blocks in ``ipam_free`` keyed (pool, prefix length,
network), each policy is one index step per prefix length:

* first-fit: the lowest network among blocks of length <= n;
* last-fit: the highest (block's last address + 1 - size of a /n);
* best-fit: the lowest block of the longest length <= n (the smallest that holds it).

The index is changed only by :mod:`ipam.store` inside the transaction that changes the
children, and only around the change: the gaps between the changed block's neighbours
are recut and the difference written (a few rows).  A container is listed in
``ipam_free_pools`` once its index is built; one that is not (a database from before
the index, a leaf turned container) is rebuilt from the tree when first allocated from.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ipam.addresses import BITS, Block, decode, encode, split_range

if TYPE_CHECKING:
    from ipam.store import Prefix

_CHILDREN = ("SELECT network, last FROM ipam_prefixes WHERE space_id=? AND family=? AND parent_id=?"
             " AND network>=? AND network<=? ORDER BY network")
# per prefix length from the pool's to the request's: lowest and highest free block of that length
_PER_LENGTH = """
    WITH RECURSIVE len(n) AS (SELECT CAST(? AS INTEGER) UNION ALL SELECT n + 1 FROM len WHERE n < ?)
    SELECT n,
           (SELECT network FROM ipam_free WHERE pool_id=? AND plen=n ORDER BY network LIMIT 1),
           (SELECT network FROM ipam_free WHERE pool_id=? AND plen=n ORDER BY network DESC LIMIT 1)
    FROM len"""


def gaps(conn: Any, pool: Prefix, low: int | None = None,
         high: int | None = None) -> Iterator[tuple[int, int]]:
    """Free ranges [low, high] of the pool in address order, streamed from the tree.

    ``low``/``high`` narrow the walk; ``low`` must not fall inside a child.
    """
    cursor = pool.network if low is None else low
    end = pool.last if high is None else high
    rows = conn.execute(_CHILDREN, (pool.space_id, pool.family, pool.id, encode(cursor), encode(end)))
    for network_b, last_b in rows:
        network = decode(network_b)
        if network > cursor:
            yield cursor, network - 1
        cursor = max(cursor, decode(last_b) + 1)
    if cursor <= end:
        yield cursor, end


def free_blocks(conn: Any, pool: Prefix) -> Iterator[Block]:
    """The pool's free space as the fewest CIDR blocks, in address order (full recomputation)."""
    for low, high in gaps(conn, pool):
        yield from split_range(low, high, pool.family)


def indexed_blocks(conn: Any, pool: Prefix) -> list[Block]:
    """What the index holds for the pool, in address order."""
    rows = conn.execute("SELECT network, plen FROM ipam_free WHERE pool_id=? ORDER BY network", (pool.id,))
    return [Block(pool.family, decode(n), plen) for n, plen in rows]


def is_built(conn: Any, pool_id: int) -> bool:
    return conn.execute("SELECT 1 FROM ipam_free_pools WHERE pool_id=?", (pool_id,)).fetchone() is not None


def rebuild(conn: Any, pool: Prefix) -> int:
    """Index the pool's free space from scratch (caller holds the transaction); rows written."""
    forget(conn, pool.id)
    rows = [(pool.id, encode(b.network), b.plen) for b in free_blocks(conn, pool)]
    conn.executemany("INSERT INTO ipam_free (pool_id, network, plen) VALUES (?,?,?)", rows)
    conn.execute("INSERT INTO ipam_free_pools (pool_id) VALUES (?)", (pool.id,))
    return len(rows)


def ensure(conn: Any, pool: Prefix) -> None:
    """Build the pool's index if it is missing."""
    if not is_built(conn, pool.id):
        rebuild(conn, pool)


def forget(conn: Any, pool_id: int) -> None:
    """Drop a container's index (it was deleted or is no longer a container)."""
    conn.execute("DELETE FROM ipam_free WHERE pool_id=?", (pool_id,))
    conn.execute("DELETE FROM ipam_free_pools WHERE pool_id=?", (pool_id,))


def _neighbour(conn: Any, pool: Prefix, value: int, below: bool) -> tuple[int, int] | None:
    """(network, last) of the pool's child starting just below / just above ``value``."""
    op, order = ("<", "DESC") if below else (">", "")
    row = conn.execute(
        f"SELECT network, last FROM ipam_prefixes WHERE space_id=? AND family=? AND parent_id=?"
        f" AND network{op}? ORDER BY network {order} LIMIT 1",
        (pool.space_id, pool.family, pool.id, encode(value))).fetchone()
    return (decode(row[0]), decode(row[1])) if row else None


def refresh(conn: Any, pool: Prefix, low: int, high: int) -> None:
    """The pool's children changed in [low, high] (one inserted, wrapped or removed): recut the gaps there.

    The affected span runs from the end of the child before ``low`` to the start of the
    child after ``high``; every free block that changed lies in it, and it holds at most
    the changed block itself, so it is cut into at most two gaps of O(bits) blocks each.
    A pool whose index is not built is left alone (it is rebuilt when next used).
    """
    if not is_built(conn, pool.id):
        return
    left = _neighbour(conn, pool, low, below=True)
    right = _neighbour(conn, pool, high, below=False)
    span_low = left[1] + 1 if left else pool.network
    span_high = right[0] - 1 if right else pool.last
    old = {(decode(n), plen) for n, plen in conn.execute(
        "SELECT network, plen FROM ipam_free WHERE pool_id=? AND network>=? AND network<=?",
        (pool.id, encode(span_low), encode(span_high)))}
    new = {(b.network, b.plen) for lo, hi in gaps(conn, pool, span_low, span_high)
           for b in split_range(lo, hi, pool.family)}
    gone = old - new
    if gone:
        conn.executemany("DELETE FROM ipam_free WHERE pool_id=? AND network=?",
                         [(pool.id, encode(n)) for n, _ in gone])
    if new - old:
        conn.executemany("INSERT INTO ipam_free (pool_id, network, plen) VALUES (?,?,?)",
                         [(pool.id, encode(n), plen) for n, plen in new - old])


def find(conn: Any, pool: Prefix, plen: int, policy: str) -> int | None:
    """Network of the /plen the policy picks from the index, or None if no free block holds one."""
    bits = BITS[pool.family]
    size = 1 << (bits - plen)
    rows = [(n, decode(lo), decode(hi)) for n, lo, hi in
            conn.execute(_PER_LENGTH, (pool.plen, plen, pool.id, pool.id)) if lo is not None]
    if not rows:
        return None
    if policy == "first":
        return min(lo for _, lo, _ in rows)
    if policy == "last":
        return max(hi + (1 << (bits - n)) - size for n, _, hi in rows)
    return max(rows)[1]  # best: the longest length that holds the request, its lowest block
