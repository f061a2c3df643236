"""The prefix tree: lookups, inserts, deletes and updates, each one short transaction.

Invariants kept here (and nowhere else): every prefix lies inside its parent, which
is a container; siblings never overlap; ``used``/``n_children`` of a container count
its direct children and ``alloc`` every non-container below it, so utilisation is a
single-row read; every container's free-space index (:mod:`ipam.freespace`) is
recut around each inserted or removed child in the same transaction.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from ipam import freespace
from ipam.addresses import BITS, Block, decode, encode, to_text
from ipam.errors import BadInput, Conflict, NotFound
from ipam.schema import POLICIES, STATUSES
from nms import audit
from nms.db import Database, is_integrity_error, transaction

COLUMNS = (
    "id, space_id, family, network, last, plen, parent_id, status, is_pool, policy, site, purpose,"
    " request_id, hold_until, created_at, created_by, used, alloc, n_children"
)


@dataclass
class Prefix:
    id: int
    space_id: int
    family: int
    network: int
    plen: int
    parent_id: int
    status: str
    is_pool: bool
    policy: str
    site: str | None
    purpose: str
    request_id: int | None
    hold_until: float | None
    created_at: float
    created_by: str
    used: int
    alloc: int
    n_children: int

    @property
    def block(self) -> Block:
        return Block(self.family, self.network, self.plen)

    @property
    def last(self) -> int:
        return self.block.last

    @property
    def size(self) -> int:
        return self.block.size

    @property
    def cidr(self) -> str:
        return self.block.cidr

    def audit_view(self) -> dict[str, Any]:
        """What the audit log keeps of a prefix: the facts, not the counters."""
        d = {k: v for k, v in asdict(self).items() if k not in ("used", "alloc", "n_children")}
        d["network"] = to_text(self.network, self.family)
        d["prefix"] = self.cidr
        return d


def from_row(row: tuple) -> Prefix:
    (pid, space_id, family, network, _last, plen, parent_id, status, is_pool, policy, site, purpose,
     request_id, hold_until, created_at, created_by, used, alloc, n_children) = row
    return Prefix(pid, space_id, family, decode(network), plen, parent_id, status, bool(is_pool), policy,
                  site, purpose, request_id, hold_until, created_at, created_by, int(used), int(alloc),
                  n_children)


# -- spaces -------------------------------------------------------------------------

def space_id(db: Database, name: object, field: str = "space") -> int:
    row = db.execute("SELECT id FROM ipam_spaces WHERE name = ?", (str(name),)).fetchone()
    if row is None:
        names = [r[0] for r in db.execute("SELECT name FROM ipam_spaces ORDER BY id")]
        raise BadInput(field, f"unknown address space {name!r}; expected one of {', '.join(names)}")
    return int(row[0])


def spaces(db: Database) -> list[dict[str, Any]]:
    """Every address space: id, name, description."""
    rows = db.execute("SELECT id, name, description FROM ipam_spaces ORDER BY id").fetchall()
    return [{"id": i, "name": n, "description": d} for i, n, d in rows]


def address_count(db: Database, prefix_id: int) -> int:
    """How many addresses are recorded in a leaf range."""
    return db.execute("SELECT count(*) FROM ipam_addresses WHERE prefix_id=?", (prefix_id,)).fetchone()[0]


def space_names(db: Database) -> dict[int, str]:
    return {int(i): n for i, n in db.execute("SELECT id, name FROM ipam_spaces")}


# -- lookups ------------------------------------------------------------------------

def has_prefixes(db: Database) -> bool:
    """Whether any prefix is recorded (the demo loads the shipped plan into an empty IPAM only)."""
    return db.execute("SELECT 1 FROM ipam_prefixes LIMIT 1").fetchone() is not None


def get(db: Any, prefix_id: int) -> Prefix:
    row = db.execute(f"SELECT {COLUMNS} FROM ipam_prefixes WHERE id = ?", (prefix_id,)).fetchone()
    if row is None:
        raise NotFound(f"prefix {prefix_id} not found", "id")
    return from_row(row)


def find(db: Database, space: int, block: Block) -> Prefix | None:
    row = db.execute(
        f"SELECT {COLUMNS} FROM ipam_prefixes WHERE space_id=? AND family=? AND network=? AND plen=?",
        (space, block.family, encode(block.network), block.plen),
    ).fetchone()
    return from_row(row) if row else None


def sibling_at_or_below(conn: Any, space: int, family: int, parent_id: int, value: int) -> Prefix | None:
    """The child of ``parent_id`` starting at or before ``value`` (siblings are disjoint)."""
    row = conn.execute(
        f"SELECT {COLUMNS} FROM ipam_prefixes WHERE space_id=? AND family=? AND parent_id=? AND network<=?"
        " ORDER BY network DESC LIMIT 1",
        (space, family, parent_id, encode(value)),
    ).fetchone()
    return from_row(row) if row else None


def deepest_containing(conn: Any, space: int, block: Block) -> Prefix | None:
    """Walk down the tree: the smallest prefix that contains ``block`` (may equal it)."""
    parent_id, found = 0, None
    while True:
        cand = sibling_at_or_below(conn, space, block.family, parent_id, block.network)
        if cand is None or not cand.block.contains(block):
            return found
        found, parent_id = cand, cand.id
        if cand.block == block:
            return found


def overlapping_siblings(conn: Any, space: int, parent_id: int, block: Block) -> list[Prefix]:
    """Children of ``parent_id`` overlapping ``block``: the one starting at or before it, then a range."""
    out = []
    left = sibling_at_or_below(conn, space, block.family, parent_id, block.network)
    if left is not None and left.last >= block.network:
        out.append(left)
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM ipam_prefixes WHERE space_id=? AND family=? AND parent_id=?"
        " AND network>? AND network<=? ORDER BY network",
        (space, block.family, parent_id, encode(block.network), encode(block.last)),
    ).fetchall()
    return out + [from_row(r) for r in rows]


def sql_limit(limit: int) -> int:
    """A ``LIMIT`` both engines take: a negative limit (SQLite's "no limit") as the largest bigint."""
    return limit if limit >= 0 else 2**63 - 1


def children(conn: Any, prefix: Prefix, limit: int = -1) -> list[Prefix]:
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM ipam_prefixes WHERE space_id=? AND family=? AND parent_id=? ORDER BY network"
        " LIMIT ?",
        (prefix.space_id, prefix.family, prefix.id, sql_limit(limit)),
    ).fetchall()
    return [from_row(r) for r in rows]


def ancestors(conn: Any, prefix: Prefix) -> list[Prefix]:
    out: list[Prefix] = []
    pid = prefix.parent_id
    while pid:
        p = get(conn, pid)
        out.append(p)
        pid = p.parent_id
    return out


# -- counters -----------------------------------------------------------------------

def _bump(conn: Any, prefix_id: int, d_used: int = 0, d_children: int = 0, d_alloc: int = 0) -> None:
    """Adjust a container's counters."""
    if not prefix_id:
        return
    row = conn.execute("SELECT used, alloc, n_children FROM ipam_prefixes WHERE id=?",
                       (prefix_id,)).fetchone()
    used, alloc, n = int(row[0]) + d_used, int(row[1]) + d_alloc, row[2] + d_children
    conn.execute("UPDATE ipam_prefixes SET used=?, alloc=?, n_children=? WHERE id=?",
                 (str(used), str(alloc), n, prefix_id))


def _bump_alloc_up(conn: Any, parent_id: int, delta: int) -> None:
    pid = parent_id
    while pid:
        row = conn.execute("SELECT alloc, parent_id FROM ipam_prefixes WHERE id=?", (pid,)).fetchone()
        conn.execute("UPDATE ipam_prefixes SET alloc=? WHERE id=?", (str(int(row[0]) + delta), pid))
        pid = row[1]


# -- changes ------------------------------------------------------------------------

def check_status(status: object) -> str:
    if status not in STATUSES:
        raise BadInput("status", f"expected one of {', '.join(STATUSES)}, got {status!r}")
    return str(status)


def check_policy(policy: object) -> str:
    if policy not in POLICIES:
        raise BadInput("policy", f"expected one of {', '.join(POLICIES)}, got {policy!r}")
    return str(policy)


def insert_child(conn: Any, parent: Prefix | None, space: int, block: Block, *, status: str, actor: str,
                 site: str | None = None, purpose: str = "", is_pool: bool = False, policy: str = "first",
                 request_id: int | None = None, hold_until: float | None = None,
                 reason: str | None = None, source_ip: str | None = None,
                 adopt: list[Prefix] | None = None) -> Prefix:
    """Insert a block already known to fit under ``parent``; keep counters; audit it."""
    parent_id = parent.id if parent else 0
    try:
        new_id = int(conn.execute(
            "INSERT INTO ipam_prefixes (space_id, family, network, last, plen, parent_id, status, is_pool,"
            " policy, site, purpose, request_id, hold_until, created_at, created_by)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id",
            (space, block.family, encode(block.network), encode(block.last), block.plen, parent_id, status,
             int(is_pool), policy, site, purpose, request_id, hold_until, time.time(), actor),
        ).fetchone()[0])
    except Exception as exc:
        if not is_integrity_error(exc):
            raise
        raise Conflict(f"{block} already exists in this space ({exc})", "prefix") from None
    adopt = adopt or []
    if adopt:
        conn.execute(
            f"UPDATE ipam_prefixes SET parent_id=? WHERE id IN ({','.join('?' * len(adopt))})",
            (new_id, *(p.id for p in adopt)),
        )
        a_used = sum(p.size for p in adopt)
        a_alloc = sum(p.alloc if p.status == "container" else p.size for p in adopt)
        conn.execute("UPDATE ipam_prefixes SET used=?, alloc=?, n_children=? WHERE id=?",
                     (str(a_used), str(a_alloc), len(adopt), new_id))
        _bump(conn, parent_id, d_used=block.size - a_used, d_children=1 - len(adopt))
        if status != "container":  # cannot happen: only containers adopt; guard the invariant
            raise Conflict(f"{block} would contain other prefixes; only a container may", "status")
    else:
        _bump(conn, parent_id, d_used=block.size, d_children=1)
        if status != "container":
            _bump_alloc_up(conn, parent_id, block.size)
    if parent is not None:
        freespace.refresh(conn, parent, block.network, block.last)
    prefix = get(conn, new_id)
    if status == "container":
        freespace.rebuild(conn, prefix)
    _audit(conn, actor, "ipam.prefix.create", prefix, None, prefix.audit_view(), reason, source_ip)
    return prefix


def _audit(conn: Any, actor: str, action: str, prefix: Prefix, before: Any, after: Any,
           reason: str | None, source_ip: str | None) -> None:
    # audit.record only calls .execute, so the open connection joins this transaction
    audit.record(conn, actor, action, f"ipam:prefix:{prefix.space_id}:{prefix.cidr}",
                 before=before, after=after, reason=reason, source_ip=source_ip, site=prefix.site)


def add(db: Database, space: int, block: Block, *, status: str, actor: str,
        reason: str | None = None, source_ip: str | None = None, inside: Prefix | None = None,
        **fields: Any) -> Prefix:
    """Place a given block in the tree (manual entry, import): refuse any partial overlap.

    ``inside``: the pool the caller means the block to be in; refused if it is not.
    """
    check_status(status)
    if inside is not None:
        if inside.space_id != space or not inside.block.contains(block) or inside.block == block:
            raise BadInput("prefix", f"{block} is outside the pool {inside.cidr}")
    check_policy(fields.get("policy", "first"))
    conn = db.conn
    with transaction(db):
        parent = deepest_containing(conn, space, block)
        if parent is not None and parent.block == block:
            raise Conflict(f"{block} already exists in this space (id {parent.id})", "prefix")
        if parent is not None and parent.status != "container":
            raise Conflict(f"{block} lies inside {parent.cidr}, which is {parent.status}; "
                           "only containers hold other prefixes", "prefix")
        clash = overlapping_siblings(conn, space, parent.id if parent else 0, block)
        partial = [p for p in clash if not block.contains(p.block)]
        if partial:
            raise Conflict(f"{block} overlaps {partial[0].cidr} (status {partial[0].status})", "prefix")
        if clash and status != "container":
            raise Conflict(f"{block} would contain {clash[0].cidr}; only a container may hold prefixes",
                           "status")
        return insert_child(conn, parent, space, block, status=status, actor=actor, reason=reason,
                            source_ip=source_ip, adopt=clash, **fields)


def delete(db: Database, prefix_id: int, *, actor: str, reason: str | None = None,
           source_ip: str | None = None, action: str = "ipam.prefix.release") -> Prefix:
    """Give a prefix back to its parent's free space (refused while anything lies inside it)."""
    conn = db.conn
    with transaction(db):
        prefix = get(conn, prefix_id)
        if prefix.n_children:
            raise Conflict(f"{prefix.cidr} still holds {prefix.n_children} prefixes; release them first",
                           "id")
        n_addr = conn.execute("SELECT count(*) FROM ipam_addresses WHERE prefix_id=?",
                              (prefix_id,)).fetchone()[0]
        if n_addr:
            raise Conflict(f"{prefix.cidr} still holds {n_addr} recorded addresses; remove them first", "id")
        conn.execute("DELETE FROM ipam_idempotency WHERE prefix_id=?", (prefix_id,))
        conn.execute("DELETE FROM ipam_prefixes WHERE id=?", (prefix_id,))
        _bump(conn, prefix.parent_id, d_used=-prefix.size, d_children=-1)
        if prefix.parent_id:
            freespace.refresh(conn, get(conn, prefix.parent_id), prefix.network, prefix.last)
        freespace.forget(conn, prefix_id)
        if prefix.status != "container":
            _bump_alloc_up(conn, prefix.parent_id, -prefix.size)
        _audit(conn, actor, action, prefix, prefix.audit_view(), None, reason, source_ip)
        return prefix


EDITABLE = ("status", "site", "purpose", "policy", "is_pool", "hold_until")


def update(db: Database, prefix_id: int, changes: dict[str, Any], *, actor: str,
           reason: str | None = None, source_ip: str | None = None) -> Prefix:
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise BadInput(sorted(unknown)[0], f"cannot be changed; editable fields: {', '.join(EDITABLE)}")
    if "status" in changes:
        check_status(changes["status"])
    if "policy" in changes:
        check_policy(changes["policy"])
    conn = db.conn
    with transaction(db):
        before = get(conn, prefix_id)
        new_status = changes.get("status", before.status)
        if before.n_children and new_status != "container":
            raise Conflict(f"{before.cidr} holds {before.n_children} prefixes; it must stay a container",
                           "status")
        if changes.get("is_pool") and new_status != "container":
            raise BadInput("is_pool", "only a container can be a pool")
        if changes:
            sets = ", ".join(f"{k}=?" for k in changes)
            conn.execute(f"UPDATE ipam_prefixes SET {sets} WHERE id=?", (*changes.values(), prefix_id))
        was_leaf, is_leaf = before.status != "container", new_status != "container"
        if was_leaf != is_leaf:
            _bump_alloc_up(conn, before.parent_id, before.size if is_leaf else -before.size)
            freespace.forget(conn, prefix_id)
            if not is_leaf:  # a leaf turned container: all of it is free
                freespace.rebuild(conn, get(conn, prefix_id))
        after = get(conn, prefix_id)
        _audit(conn, actor, "ipam.prefix.update", after, before.audit_view(), after.audit_view(), reason,
               source_ip)
        return after


def utilisation(prefix: Prefix) -> dict[str, Any]:
    """Cheap: read from counters kept in the row, no scan."""
    size = prefix.size
    return {
        "size": str(size) if size > 2**53 else size,
        "assigned": str(prefix.used) if prefix.used > 2**53 else prefix.used,
        "allocated": str(prefix.alloc) if prefix.alloc > 2**53 else prefix.alloc,
        "children": prefix.n_children,
        "assigned_pct": round(100.0 * prefix.used / size, 3),
        "allocated_pct": round(100.0 * prefix.alloc / size, 3),
    }


def as_dict(prefix: Prefix, spaces: dict[int, str]) -> dict[str, Any]:
    return {
        "id": prefix.id,
        "space": spaces.get(prefix.space_id, str(prefix.space_id)),
        "family": prefix.family,
        "prefix": prefix.cidr,
        "status": prefix.status,
        "pool": prefix.is_pool,
        "policy": prefix.policy,
        "site": prefix.site,
        "purpose": prefix.purpose,
        "parent_id": prefix.parent_id or None,
        "request_id": prefix.request_id,
        "hold_until": prefix.hold_until,
        "created_at": prefix.created_at,
        "created_by": prefix.created_by,
        "utilisation": utilisation(prefix),
    }


def max_plen(family: int) -> int:
    return BITS[family]


def pools_of_site(conn: Any, site: str, space: int, family: int) -> list[Prefix]:
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM ipam_prefixes WHERE site=? AND is_pool=1 AND space_id=? AND family=?"
        " ORDER BY network",
        (site, space, family),
    ).fetchall()
    return [from_row(r) for r in rows]


def site_filter(sites: set[str] | frozenset[str] | None, column: str = "site") -> tuple[str, list[Any]]:
    """SQL condition limiting rows to ``sites`` (None = everything): used by every scoped query."""
    if sites is None:
        return "1=1", []
    if not sites:
        return "0=1", []
    return f"{column} IN ({','.join('?' * len(sites))})", sorted(sites)


def query(db: Database, sites: set[str] | frozenset[str] | None, *, space: int | None = None,
          family: int | None = None, site: str | None = None, status: str | None = None,
          pools_only: bool = False, within: Prefix | None = None, limit: int = 1000,
          offset: int = 0) -> list[Prefix]:
    """Prefixes visible to ``sites``, in (space, family, address) order."""
    cond, args = site_filter(sites)
    where = [cond]
    for col, val in (("space_id", space), ("family", family), ("site", site), ("status", status)):
        if val is not None:
            where.append(f"{col}=?")
            args.append(val)
    if pools_only:
        where.append("is_pool=1")
    if within is not None:
        where += ["space_id=?", "family=?", "network>=?", "network<=?", "id<>?"]
        args += [within.space_id, within.family, encode(within.network), encode(within.last), within.id]
    rows = db.execute(
        f"SELECT {COLUMNS} FROM ipam_prefixes WHERE {' AND '.join(where)}"
        " ORDER BY space_id, family, network, plen LIMIT ? OFFSET ?",
        (*args, sql_limit(limit), offset),
    ).fetchall()
    return [from_row(r) for r in rows]
