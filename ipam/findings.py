"""Reconciliation fed by polls: the plan against what the devices said (ipam.observed).

Findings, per address space (专网/外网):

* ``unknown``: an address in use that no allocation holds (only a pool or nothing);
* ``mismatch``: seen at a site other than the one the plan gives its range to;
* ``duplicate``: one address at two MACs at once, with every place it was seen;
* ``reclaimable``: an allocated prefix with nothing seen in it for ``reclaim_days``
  (counted from its allocation or from the first address poll of its site, the later);
* ``mgmt-address``: a device's interface addresses against the inventory's management
  addresses (its own missing, or another device's on it);
* ``cabling``: an LLDP neighbour that is not the far end of the inventory's link on that port.

Every finding has a stable ``key``; an operator dismisses it with a reason or (``unknown``)
accepts it into the plan, both audited.  Scope: a finding belongs to the sites where it was
seen (``reclaimable``: the prefix's site); a county administrator gets the findings of
their sites, with places and owners outside their scope left out.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from ipam import addrs, observed, reconcile, store
from ipam.addresses import BITS, Block, parse_address, to_text
from ipam.errors import BadInput, Conflict, Forbidden, NotFound
from nms import audit
from nms.db import Database, transaction
from probes.common.inventory_model import Inventory

KINDS = ("unknown", "mismatch", "duplicate", "reclaimable", "mgmt-address", "cabling")
DEFAULT_RECLAIM_DAYS = 30.0
SEP = "|"


@dataclass
class Finding:
    kind: str
    key: str
    sites: set[str]
    space: str = ""
    address: str = ""
    detail: str = ""
    places: list[dict[str, Any]] = field(default_factory=list)
    first_seen: float | None = None
    last_seen: float | None = None
    prefix: str | None = None
    planned_site: str | None = None

    def visible(self, sites: frozenset[str] | None) -> dict[str, Any] | None:
        """The finding as the caller may see it, or None when none of its sites is theirs."""
        if sites is not None and not self.sites & sites:
            return None
        places = [p for p in self.places if sites is None or p.get("site") in sites]
        return {"kind": self.kind, "key": self.key, "space": self.space, "address": self.address,
                "site": sorted(self.sites & sites if sites is not None else self.sites)[0],
                "detail": self.detail, "places": places,
                "first_seen": min((p["first_seen"] for p in places), default=self.first_seen),
                "last_seen": max((p["last_seen"] for p in places), default=self.last_seen),
                "prefix": self.prefix, "planned_site": self.planned_site}


class Reconciler:
    """One computation over the stored observations (cached prefix look-ups)."""

    def __init__(self, db: Database, inv: Inventory, sites: frozenset[str] | None) -> None:
        self.db, self.conn, self.inv, self.sites = db, db.conn, inv, sites
        self.names = store.space_names(db)
        # the whole plan in memory, once: a look-up per observed address is then a few dict hits
        self.by_id = {p.id: p for p in map(store.from_row, self.conn.execute(
            f"SELECT {store.COLUMNS} FROM ipam_prefixes"))}
        self._nets: dict[tuple[int, int, int], dict[int, store.Prefix]] = defaultdict(dict)
        for p in self.by_id.values():
            self._nets[(p.space_id, p.family, p.plen)][p.network] = p
        self._plens = {key: sorted({k[2] for k in self._nets if k[:2] == key}, reverse=True)
                       for key in {k[:2] for k in self._nets}}
        self._owners: dict[int, str | None] = {}
        self.planned = addrs.planned_devices(db)

    def hit(self, space: int, family: int, value: int) -> store.Prefix | None:
        """The deepest prefix holding the address (what :func:`store.deepest_containing` answers)."""
        bits = BITS[family]
        for plen in self._plens.get((space, family), ()):
            mask = ((1 << plen) - 1) << (bits - plen)
            p = self._nets[(space, family, plen)].get(value & mask)
            if p is not None:
                return p
        return None

    def parent(self, prefix: store.Prefix) -> store.Prefix | None:
        return self.by_id.get(prefix.parent_id) if prefix.parent_id else None

    def owner(self, prefix: store.Prefix) -> str | None:
        """The prefix's site, or its nearest ancestor's (as :func:`reconcile.owner`)."""
        if prefix.id not in self._owners:
            p: store.Prefix | None = prefix
            while p is not None and not p.site:
                p = self.parent(p)
            self._owners[prefix.id] = p.site if p is not None else None
        return self._owners[prefix.id]

    # -- addresses -------------------------------------------------------------------
    def addresses(self) -> list[Finding]:
        by_addr: dict[tuple[int, int, int], list[tuple]] = defaultdict(list)
        for row in observed.current(self.db):
            by_addr[row[:3]].append(row)
        out: list[Finding] = []
        for (space, family, value), rows in by_addr.items():
            text = to_text(value, family)
            sname = self.names.get(space, str(space))
            hit = self.hit(space, family, value)
            by_site: dict[str, list[dict]] = defaultdict(list)
            for r in rows:
                by_site[r[6]].append(_place(r))
            planned = self.planned.get((space, family, value))
            for site, places in sorted(by_site.items()):
                f = (self._classify(hit, sname, text, site, places)
                     or self._elsewhere(planned, sname, text, site, places))
                if f is not None:
                    out.append(f)
            macs = {r[4] for r in rows if r[3] == "arp" and r[4]}
            if len(macs) > 1:
                places = [_place(r) for r in rows if r[3] == "arp"]
                detail = f"{text} answers from {len(macs)} MACs: {', '.join(sorted(macs))}"
                out.append(Finding("duplicate", SEP.join(("duplicate", sname, text)),
                                   {p["site"] for p in places}, sname, text, detail, places))
        return out

    def _classify(self, hit: store.Prefix | None, sname: str, text: str, site: str,
                  places: list[dict]) -> Finding | None:
        if hit is None or hit.status == "container":
            pool, pool_site = reconcile.named(hit, self.owner(hit) if hit else None, self.sites)
            return Finding("unknown", SEP.join(("unknown", sname, text, site)), {site}, sname, text,
                           f"{text} is in use at {site} but no allocation holds it", places, prefix=pool,
                           planned_site=pool_site)
        owner = self.owner(hit)
        if owner != site:
            prefix, planned = reconcile.named(hit, owner, self.sites)
            return Finding("mismatch", SEP.join(("mismatch", sname, text, site)), {site}, sname, text,
                           f"{text} is seen at {site}, but the plan gives {prefix or 'its range'} to"
                           f" {planned or 'another site'}", places, prefix=prefix, planned_site=planned)
        return None

    def _elsewhere(self, planned: str | None, sname: str, text: str, site: str,
                   places: list[dict]) -> Finding | None:
        """An address the plan records for a device of another site, configured here."""
        dev = self.inv.devices.get(planned) if planned else None
        if dev is None or dev.site == site or not any(p["kind"] == "interface" for p in places):
            return None
        shown = planned if self.sites is None or dev.site in self.sites else None
        whom = shown or "a device elsewhere"
        detail = f"{text} is on a device at {site}, but the plan records it for {whom}"
        return Finding("mismatch", SEP.join(("mismatch", sname, text, site)), {site}, sname, text, detail,
                       places, planned_site=dev.site if shown else None)

    # -- reclaimable -----------------------------------------------------------------
    def reclaimable(self, now: float, days: float) -> list[Finding]:
        polls = observed.polls(self.db)
        watching: dict[tuple[str, int], float] = {}  # (site, space) -> since when its devices report
        for p in polls.values():
            key = (p["site"], p["space_id"])
            watching[key] = min(watching.get(key, p["first_ts"]), p["first_ts"])
        if not watching:
            return []
        cutoff = now - days * 86400
        seen: set[int] = set()
        for row in observed.current(self.db, since=cutoff):
            hit = self.hit(*row[:3])
            while hit is not None and hit.id not in seen:
                seen.add(hit.id)
                hit = self.parent(hit)
        cond, args = store.site_filter({site for site, _ in watching})
        out = []
        sql = ("SELECT id, site, space_id, created_at FROM ipam_prefixes"
               f" WHERE status='allocated' AND is_pool=0 AND {cond}")
        for pid, site, space, created in self.conn.execute(sql, args):
            if (site, space) not in watching:
                continue
            since = max(created, watching[(site, space)])
            if pid in seen or now - since < days * 86400:
                continue
            p = self.by_id[pid]
            sname = self.names.get(p.space_id, "")
            detail = f"{p.cidr} ({p.purpose or 'no purpose'}) allocated to {site}: nothing seen in it" \
                f" for {days:g} days"
            out.append(Finding("reclaimable", SEP.join(("reclaimable", sname, p.cidr)), {site}, sname, p.cidr,
                               detail, prefix=p.cidr, planned_site=site, first_seen=since))
        return out

    # -- devices against the inventory --------------------------------------------------
    def management(self) -> list[Finding]:
        polls = observed.polls(self.db)
        mine: dict[str, list[tuple]] = defaultdict(list)
        for row in observed.current(self.db):
            if row[3] == "interface":
                mine[row[5]].append(row)
        owner_of = {(observed.space_of(self.inv, d.name), d.address): d.name
                    for d in self.inv.devices.values()}
        out = []
        for device, poll in sorted(polls.items()):
            dev = self.inv.devices.get(device)
            if dev is None or not poll["had_interfaces"]:
                continue
            sname = self.names.get(poll["space_id"], "")
            rows = mine.get(device, [])
            have = {to_text(r[2], r[1]) for r in rows}
            if dev.address not in have:
                detail = f"{device}: the inventory's management address {dev.address} is on none of its" \
                    f" interfaces ({', '.join(sorted(have)) or 'none'})"
                out.append(Finding("mgmt-address", SEP.join(("mgmt-address", device)), {dev.site}, sname,
                                   dev.address, detail, [_place(r) for r in rows], last_seen=poll["ts"]))
            for r in rows:
                text = to_text(r[2], r[1])
                other = owner_of.get((sname, text))
                if other is not None and other != device:
                    detail = f"{device} {r[7] or ''} carries {text}, the management address of {other}"
                    out.append(Finding("mgmt-address", SEP.join(("mgmt-address", device, text)), {dev.site},
                                       sname, text, detail, [_place(r)]))
        return out

    def cabling(self) -> list[Finding]:
        ends: dict[tuple[str, str], tuple[str, str, str]] = {}
        for link in self.inv.links.values():
            ends[(link.a.device, link.a.interface)] = (link.b.device, link.b.interface, link.id)
            ends[(link.b.device, link.b.interface)] = (link.a.device, link.a.interface, link.id)
        out = []
        for device, site, port, rname, rport, chassis, first, last in observed.lldp_current(self.db):
            planned = ends.get((device, port))
            short = rname.split(".")[0]
            place = {"device": device, "site": site, "ifname": port, "kind": "lldp", "mac": chassis,
                     "first_seen": first, "last_seen": last, "remote": f"{rname} {rport}".strip()}
            if planned is None:
                detail = f"{device} {port} sees {rname or chassis} {rport}; the inventory has no link here"
            elif short == planned[0] and (not rport or rport.lower() == planned[1].lower()):
                continue
            else:
                detail = (f"{device} {port} sees {rname or chassis} {rport}; link {planned[2]} should end at"
                          f" {planned[0]} {planned[1]}")
            out.append(Finding("cabling", SEP.join(("cabling", device, port)), {site}, detail=detail,
                               places=[place], prefix=planned[2] if planned else None))
        return out


def _place(r: tuple) -> dict[str, Any]:
    return {"device": r[5], "site": r[6], "kind": r[3], "ifname": r[7] or None, "mac": r[4] or None,
            "plen": r[8], "first_seen": r[9], "last_seen": r[10]}


def _decisions(db: Database) -> dict[str, dict[str, Any]]:
    return {k: {"status": s, "reason": r, "actor": a, "ts": t}
            for k, s, r, a, t in db.execute("SELECT key, status, reason, actor, ts FROM ipam_findings")}


def compute(db: Database, inv: Inventory, sites: frozenset[str] | None, now: float | None = None,
            reclaim_days: float = DEFAULT_RECLAIM_DAYS) -> list[Finding]:
    """Every finding (decided or not), unfiltered by scope (callers use :meth:`Finding.visible`)."""
    r = Reconciler(db, inv, sites)
    now = time.time() if now is None else now
    return r.addresses() + r.reclaimable(now, reclaim_days) + r.management() + r.cabling()


def findings(db: Database, inv: Inventory, sites: frozenset[str] | None, *,
             now: float | None = None, reclaim_days: float = DEFAULT_RECLAIM_DAYS,
             decided: bool = False, kind: str | None = None) -> dict[str, Any]:
    """The findings ``sites`` may see (None = province): open ones, or with ``decided`` also the
    dismissed and accepted, each with its decision."""
    if kind is not None and kind not in KINDS:
        raise BadInput("kind", f"expected one of {', '.join(KINDS)}, got {kind!r}")
    decisions = _decisions(db)
    out, counts = [], dict.fromkeys(KINDS, 0)
    for f in compute(db, inv, sites, now, reclaim_days):
        view = f.visible(sites)
        if view is None or (kind is not None and f.kind != kind):
            continue
        view["decision"] = decisions.get(f.key)
        if view["decision"] is not None and not decided:
            continue
        counts[f.kind] += 1
        out.append(view)
    out.sort(key=lambda v: (KINDS.index(v["kind"]), v["site"], v["key"]))
    polls = [p for p in observed.polls(db).values() if sites is None or p["site"] in sites]
    summary = {k: sum(p[k] for p in polls) for k in ("rows", "stored", "bad", "outside", "duplicates")}
    return {"findings": out, "counts": counts, "devices_polled": len(polls), "rows": summary,
            "last_poll": max((p["ts"] for p in polls), default=None), "reclaim_days": reclaim_days}


def _find(db: Database, inv: Inventory, key: object, sites: frozenset[str] | None,
          reclaim_days: float) -> Finding:
    if not isinstance(key, str) or not key:
        raise BadInput("key", "required: the finding's key")
    for f in compute(db, inv, sites, reclaim_days=reclaim_days):
        if f.key == key:
            if f.visible(sites) is None:
                raise Forbidden(f"finding {key!r} is outside your scope", "key")
            return f
    raise NotFound(f"no open finding {key!r} (it may have gone since the last poll)", "key")


def dismiss(db: Database, inv: Inventory, key: object, reason: object, *, actor: str,
            sites: frozenset[str] | None, source_ip: str | None = None,
            reclaim_days: float = DEFAULT_RECLAIM_DAYS) -> dict[str, Any]:
    """Dismiss a finding with a reason (audited); it leaves the open list for good."""
    if not isinstance(reason, str) or not reason.strip():
        raise BadInput("reason", "required: why this finding is dismissed")
    f = _find(db, inv, key, sites, reclaim_days)
    return _decide(db, f, "dismissed", reason.strip(), actor, source_ip)


def _decide(db: Database, f: Finding, status: str, reason: str, actor: str,
            source_ip: str | None) -> dict[str, Any]:
    with transaction(db):
        db.execute("INSERT OR REPLACE INTO ipam_findings (key, status, reason, actor, ts)"
                   " VALUES (?, ?, ?, ?, ?)", (f.key, status, reason, actor, time.time()))
        audit.record(db, actor, f"ipam.finding.{status.removesuffix('ed')}", f.key,
                     None, {"status": status, "kind": f.kind, "address": f.address, "detail": f.detail},
                     reason=reason, source_ip=source_ip, site=sorted(f.sites)[0])
    return {"key": f.key, "status": status, "reason": reason}


def accept(db: Database, inv: Inventory, key: object, *, actor: str,
           sites: frozenset[str] | None, reason: object = None, source_ip: str | None = None,
           reclaim_days: float = DEFAULT_RECLAIM_DAYS) -> dict[str, Any]:
    """Accept an ``unknown`` finding into the plan: allocate the address as observed, at the
    site it was seen (one host prefix), audited; the finding then goes by itself."""
    f = _find(db, inv, key, sites, reclaim_days)
    if f.kind != "unknown":
        raise Conflict(f"only unknown addresses can be accepted into the plan; dismiss a {f.kind} finding"
                       " or fix the network", "key")
    family, value = parse_address(f.address)
    site = sorted(f.sites)[0]
    devices = ", ".join(sorted({f"{p['device']} {p['ifname'] or ''}".strip() for p in f.places}))
    why = reason.strip() if isinstance(reason, str) and reason.strip() else "accepted from reconciliation"
    with transaction(db):
        block = Block(family, value, BITS[family])
        prefix = store.add(db, store.space_id(db, f.space), block, status="allocated", actor=actor,
                           reason=why, source_ip=source_ip, site=site,
                           purpose=f"as observed on {devices}"[:200])
        out = _decide(db, f, "accepted", why, actor, source_ip)
    return {**out, "prefix": prefix.cidr, "prefix_id": prefix.id}


