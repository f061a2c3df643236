"""Address requests: a county asks, the centre approves (allocating), amends or rejects.

Each step is one write transaction that changes the request, the plan if any, the
audit log and the requester's notifications together, so a crash leaves either the
whole step or none of it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ipam import store
from ipam.addresses import parse_plen, plen_for_hosts
from ipam.allocate import allocate
from ipam.errors import BadInput, Conflict, Forbidden, NotFound
from nms import audit
from nms.db import Database, transaction

DAY = 86400.0
REQ_COLUMNS = ("id, site, space_id, family, plen, hosts, purpose, justification, status, requester,"
               " created_at, decided_by, decided_at, reason, prefix_id, prefix, hold_days")


@dataclass
class Request:
    id: int
    site: str
    space_id: int
    family: int
    plen: int
    hosts: int | None
    purpose: str
    justification: str
    status: str
    requester: str
    created_at: float
    decided_by: str | None
    decided_at: float | None
    reason: str | None
    prefix_id: int | None
    prefix: str | None
    hold_days: float | None

    def as_dict(self, spaces: dict[int, str] | None = None) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["space"] = (spaces or {}).get(self.space_id, self.space_id)
        return d


def _text(value: object, field: str, *, required: bool = True, limit: int = 2000) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise BadInput(field, "required")
        return ""
    if not isinstance(value, str):
        raise BadInput(field, f"expected text, got {type(value).__name__}")
    if len(value) > limit:
        raise BadInput(field, f"at most {limit} characters")
    return value.strip()


def check_family(value: object) -> int:
    if value in (4, 6, "4", "6"):
        return int(value)  # type: ignore[arg-type]
    raise BadInput("family", f"expected 4 or 6, got {value!r}")


def get(db: Any, request_id: int, sites: set[str] | frozenset[str] | None = None) -> Request:
    row = db.execute(f"SELECT {REQ_COLUMNS} FROM ipam_requests WHERE id=?", (request_id,)).fetchone()
    if row is None:
        raise NotFound(f"request {request_id} not found", "id")
    req = Request(*row)
    if sites is not None and req.site not in sites:
        raise Forbidden(f"request {request_id} belongs to site {req.site!r}, outside your scope", "site")
    return req


def list_requests(db: Database, sites: set[str] | frozenset[str] | None,
                  status: str | None = None, limit: int = 500) -> list[Request]:
    cond, args = store.site_filter(sites)
    if status:
        cond += " AND status=?"
        args.append(status)
    rows = db.execute(f"SELECT {REQ_COLUMNS} FROM ipam_requests WHERE {cond} ORDER BY id DESC LIMIT ?",
                      (*args, limit)).fetchall()
    return [Request(*r) for r in rows]


def notify(conn: Any, recipient: str, request_id: int | None, message: str) -> None:
    conn.execute("INSERT INTO ipam_notifications (recipient, ts, request_id, message) VALUES (?,?,?,?)",
                 (recipient, time.time(), request_id, message))


def notifications(db: Database, recipient: str, limit: int = 50) -> list[dict[str, Any]]:
    rows = db.execute("SELECT id, ts, request_id, message, seen FROM ipam_notifications WHERE recipient=?"
                      " ORDER BY id DESC LIMIT ?", (recipient, limit)).fetchall()
    return [dict(zip(("id", "ts", "request_id", "message", "seen"), r, strict=True)) for r in rows]


def mark_seen(db: Database, recipient: str) -> int:
    """The recipient has read their notifications; returns how many were new."""
    conn = db.conn
    with transaction(db):
        cur = conn.execute("UPDATE ipam_notifications SET seen=1 WHERE recipient=? AND seen=0", (recipient,))
        return cur.rowcount


def _size(family: int, plen: object, hosts: object) -> tuple[int, int | None]:
    if plen is None and hosts is None:
        raise BadInput("prefix_length", "give a prefix length or a number of hosts")
    if plen is not None:
        return parse_plen(plen, family), None
    return plen_for_hosts(hosts, family), int(hosts)  # type: ignore[arg-type]


def _audit(conn: Any, actor: str, action: str, before: Request | None, after: Request,
           reason: str | None, source_ip: str | None) -> None:
    audit.record(conn, actor, action, f"ipam:request:{after.id}",
                 before=before.as_dict() if before else None, after=after.as_dict(), reason=reason,
                 source_ip=source_ip, site=after.site)


def create(db: Database, sites: set[str] | frozenset[str] | None, *, actor: str,
           site: object, space: object, family: object, purpose: object, justification: object,
           plen: object = None, hosts: object = None, source_ip: str | None = None) -> Request:
    if not isinstance(site, str) or not site:
        raise BadInput("site", "required")
    if sites is not None and site not in sites:
        raise Forbidden(f"you may not request addresses for site {site!r}", "site")
    fam = check_family(family)
    space_id = store.space_id(db, space)
    n, n_hosts = _size(fam, plen, hosts)
    purpose_s = _text(purpose, "purpose", limit=200)
    justification_s = _text(justification, "justification")
    conn = db.conn
    with transaction(db):
        pools = store.pools_of_site(conn, site, space_id, fam)
        if not pools:
            raise BadInput("site", f"site {site!r} has no IPv{fam} pool in {space}; "
                           "ask the centre to add one")
        largest = min(p.plen for p in pools)
        if n <= largest:
            raise BadInput("prefix_length", f"/{n} is not smaller than the site's largest pool (/{largest})")
        new_id = conn.execute(
            "INSERT INTO ipam_requests (site, space_id, family, plen, hosts, purpose, justification, status,"
            " requester, created_at) VALUES (?,?,?,?,?,?,?,?,?,?) RETURNING id",
            (site, space_id, fam, n, n_hosts, purpose_s, justification_s, "pending", actor, time.time()),
        ).fetchone()[0]
        req = get(conn, int(new_id))
        _audit(conn, actor, "ipam.request.create", None, req, justification_s, source_ip)
        notify(conn, actor, req.id,
               f"request #{req.id} for a /{n} at {site} submitted; waiting for the centre")
        return req


def _pending(conn: Any, request_id: int, sites: set[str] | frozenset[str] | None) -> Request:
    req = get(conn, request_id, sites)
    if req.status != "pending":
        raise Conflict(f"request {request_id} is {req.status}, not pending", "status")
    return req


def _decide(conn: Any, req: Request, status: str, actor: str, reason: str | None, **extra: Any) -> Request:
    sets = {"status": status, "decided_by": actor, "decided_at": time.time(), "reason": reason, **extra}
    conn.execute(f"UPDATE ipam_requests SET {', '.join(f'{k}=?' for k in sets)} WHERE id=?",
                 (*sets.values(), req.id))
    return get(conn, req.id)


def approve(db: Database, sites: set[str] | frozenset[str] | None, request_id: int, *,
            actor: str, plen: object = None, hold_days: object = None, reason: str | None = None,
            source_ip: str | None = None, allow_self: bool = False) -> Request:
    """Approve and allocate in one transaction; ``plen`` amends the size on the way.

    Four eyes: the approver is not the requester unless ``allow_self`` (a one-person
    centre, ``NMS_IPAM_ALLOW_SELF_APPROVAL=1``); the audit entry names both either way.
    """
    if hold_days is not None and (not isinstance(hold_days, int | float) or isinstance(hold_days, bool)
                                  or hold_days <= 0):
        raise BadInput("hold_days", f"expected a positive number of days, got {hold_days!r}")
    conn = db.conn
    with transaction(db):
        req = _pending(conn, request_id, sites)
        if req.requester == actor and not allow_self:
            raise Forbidden(f"request {request_id} was made by {actor}: another approver must decide it "
                            "(four-eyes rule; NMS_IPAM_ALLOW_SELF_APPROVAL=1 relaxes it for a one-person "
                            "centre)", "requester")
        n = parse_plen(plen, req.family) if plen is not None else req.plen
        pools = store.pools_of_site(conn, req.site, req.space_id, req.family)
        hold_until = time.time() + float(hold_days) * DAY if hold_days else None
        prefix = None
        for pool in pools:
            if n <= pool.plen:
                continue
            try:
                prefix, _ = allocate(db, pool.id, actor=actor, plen=n, status="reserved" if hold_days else
                                     "allocated", site=req.site, purpose=req.purpose, request_id=req.id,
                                     hold_until=hold_until, reason=f"request #{req.id}", source_ip=source_ip)
                break
            except Conflict:
                continue
        if prefix is None:
            raise Conflict(f"no pool of site {req.site!r} has a free /{n} left; amend the size or extend "
                           "the pool", "prefix_length")
        after = _decide(conn, req, "approved", actor, reason, plen=n, prefix_id=prefix.id,
                        prefix=prefix.cidr, hold_days=float(hold_days) if hold_days else None)
        if req.requester == actor:  # allowed by the setting: say so where the auditor looks
            note = f"self-approved by requester {actor} (NMS_IPAM_ALLOW_SELF_APPROVAL=1)"
            reason = f"{reason}; {note}" if reason else note
        _audit(conn, actor, "ipam.request.approve", req, after, reason, source_ip)  # with requester, approver
        held = f", held until {time.strftime('%Y-%m-%d', time.gmtime(hold_until))}" if hold_until else ""
        notify(conn, req.requester, req.id, f"request #{req.id} approved: {prefix.cidr}{held}")
        return after


def amend(db: Database, sites: set[str] | frozenset[str] | None, request_id: int, *,
          actor: str, reason: object, plen: object = None, hosts: object = None,
          source_ip: str | None = None) -> Request:
    reason_s = _text(reason, "reason")
    conn = db.conn
    with transaction(db):
        req = _pending(conn, request_id, sites)
        n, n_hosts = _size(req.family, plen, hosts)
        conn.execute("UPDATE ipam_requests SET plen=?, hosts=? WHERE id=?", (n, n_hosts, req.id))
        after = get(conn, req.id)
        _audit(conn, actor, "ipam.request.amend", req, after, reason_s, source_ip)
        notify(conn, req.requester, req.id, f"request #{req.id} amended to a /{n} by {actor}: {reason_s}")
        return after


def reject(db: Database, sites: set[str] | frozenset[str] | None, request_id: int, *,
           actor: str, reason: object, source_ip: str | None = None) -> Request:
    reason_s = _text(reason, "reason")
    conn = db.conn
    with transaction(db):
        req = _pending(conn, request_id, sites)
        after = _decide(conn, req, "rejected", actor, reason_s)
        _audit(conn, actor, "ipam.request.reject", req, after, reason_s, source_ip)
        notify(conn, req.requester, req.id, f"request #{req.id} rejected: {reason_s}")
        return after


def release(db: Database, sites: set[str] | frozenset[str] | None, prefix_id: int, *,
            actor: str, reason: object, source_ip: str | None = None,
            any_range: bool = True) -> store.Prefix:
    """Give an allocated range back; its request (if any) becomes released.

    ``any_range`` False (a county administrator): only ranges that came from a request.
    """
    reason_s = _text(reason, "reason")
    conn = db.conn
    with transaction(db):
        prefix = store.get(conn, prefix_id)
        if sites is not None and prefix.site not in sites:
            raise Forbidden(f"prefix {prefix.id} is outside your scope", "id")  # not its range: not yours
        if not any_range and prefix.request_id is None:
            raise Forbidden(f"{prefix.cidr} was not allocated by a request; ask the centre to release it",
                            "id")
        if prefix.status == "container":
            raise Conflict(f"{prefix.cidr} is a container; only allocated ranges are released here", "id")
        store.delete(db, prefix_id, actor=actor, reason=reason_s, source_ip=source_ip)
        if prefix.request_id:
            req = get(conn, prefix.request_id)
            after = _decide(conn, req, "released", actor, reason_s)
            _audit(conn, actor, "ipam.request.release", req, after, reason_s, source_ip)
            if req.requester != actor:
                notify(conn, req.requester, req.id, f"{prefix.cidr} (request #{req.id}) released: {reason_s}")
        return prefix


def activate(db: Database, sites: set[str] | frozenset[str] | None, prefix_id: int, *,
             actor: str, source_ip: str | None = None) -> store.Prefix:
    """A held (reserved) range is put to use: it no longer expires."""
    with transaction(db):
        prefix = store.get(db, prefix_id)
        if sites is not None and prefix.site not in sites:
            raise Forbidden(f"prefix {prefix.id} is outside your scope", "id")  # not its range: not yours
        if prefix.status != "reserved":
            raise Conflict(f"{prefix.cidr} is {prefix.status}; only a held (reserved) range is activated",
                           "status")
        return store.update(db, prefix_id, {"status": "allocated", "hold_until": None}, actor=actor,
                            reason="put in use", source_ip=source_ip)


def expire_holds(db: Database, *, now: float | None = None,
                 actor: str = "system:ipam") -> list[str]:
    """Release every held range whose time ran out; returns their CIDRs."""
    now = time.time() if now is None else now
    ids = [r[0] for r in db.execute("SELECT id FROM ipam_prefixes WHERE status='reserved' AND hold_until<?",
                                    (now,))]
    out = []
    for pid in ids:
        conn = db.conn
        with transaction(db):
            prefix = store.get(conn, pid)
            store.delete(db, pid, actor=actor, reason="hold expired unused", action="ipam.prefix.expire")
            if prefix.request_id:
                req = get(conn, prefix.request_id)
                after = _decide(conn, req, "expired", actor, "hold expired unused")
                _audit(conn, actor, "ipam.request.expire", req, after, "hold expired unused", None)
                notify(conn, req.requester, req.id, f"{prefix.cidr} (request #{req.id}) expired unused")
            out.append(prefix.cidr)
    return out
