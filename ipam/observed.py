"""Store what address polls saw: interface addresses, ARP/ND rows, LLDP neighbours.

Fed by :func:`nms.pipeline.ingest_batch` for every sample that carries an ``addresses``
part.  Each device's latest poll replaces its *current* rows; older rows stay with their
first/last seen so reclaimable space can be judged over days.  Bad input never stops the
rest: unreadable rows, addresses outside every space of the device's network (and IPv6
link-local ones) and repeated rows are counted, logged and skipped; a poll older than the
one already stored is ignored, so a re-sent batch stores nothing twice.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ipam import store
from ipam.addresses import BITS, decode, encode
from nms.db import Database, transaction
from probes.common.inventory_model import Inventory

log = logging.getLogger(__name__)
NETWORK_SPACE = {"internal": "专网", "external": "外网"}


@dataclass
class Counts:
    """What one address poll brought: rows read, stored, and each kind of row skipped."""

    rows: int = 0
    stored: int = 0
    bad: int = 0
    outside: int = 0
    duplicates: int = 0
    stale: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def space_of(inv: Inventory, device: str) -> str | None:
    """The address space (专网/外网) a device's addresses belong to: its inventory network."""
    dev = inv.devices.get(device)
    return NETWORK_SPACE.get(dev.network) if dev is not None else None


def roots(conn: Any, space: int) -> list[tuple[int, int, int]]:
    """(family, first, last) of the space's top-level prefixes: what "inside the space" means."""
    rows = conn.execute("SELECT family, network, last FROM ipam_prefixes WHERE space_id=? AND parent_id=0",
                        (space,)).fetchall()
    return [(f, decode(n), decode(last)) for f, n, last in rows]


def _inside(spans: list[tuple[int, int, int]], family: int, value: int) -> bool:
    return any(f == family and lo <= value <= hi for f, lo, hi in spans)


def _address(text: object) -> tuple[int, int] | None:
    """(family, value) of a usable unicast address; None for garbage, link-local, loopback ..."""
    try:
        ip = ipaddress.ip_address(str(text).strip())
    except ValueError:
        return None
    if ip.is_link_local or ip.is_loopback or ip.is_multicast or ip.is_unspecified:
        return None
    return ip.version, int(ip)


def _rows(tables: Mapping[str, Any], spans: list[tuple[int, int, int]], counts: Counts) -> list[tuple]:
    """(kind, family, value, mac, ifname, plen) once each, in the space; the rest counted."""
    out: dict[tuple, int | None] = {}
    for kind, key in (("interface", "interface"), ("arp", "arp")):
        rows = tables.get(key)
        if not isinstance(rows, list):
            continue
        for row in rows:
            counts.rows += 1
            addr = _address(row.get("address")) if isinstance(row, dict) else None
            if addr is None:
                if isinstance(row, dict) and _linklocal(row.get("address")):
                    counts.outside += 1
                else:
                    counts.bad += 1
                continue
            family, value = addr
            if not _inside(spans, family, value):
                counts.outside += 1
                continue
            mac = str(row.get("mac") or "") if kind == "arp" else ""
            if kind == "arp" and not mac:
                counts.bad += 1
                continue
            ident = (kind, family, value, mac, str(row.get("ifname") or ""))
            if ident in out:
                counts.duplicates += 1
                continue
            plen = row.get("plen")
            out[ident] = plen if isinstance(plen, int) and 0 <= plen <= BITS[family] else None
    return [(*ident, plen) for ident, plen in out.items()]


def _linklocal(text: object) -> bool:
    try:
        ip = ipaddress.ip_address(str(text).strip())
    except ValueError:
        return False
    return ip.is_link_local or ip.is_loopback


def _lldp(tables: Mapping[str, Any], counts: Counts) -> list[tuple[str, str, str, str]]:
    out: dict[tuple[str, str, str], str] = {}
    rows = tables.get("lldp")
    for row in rows if isinstance(rows, list) else ():
        counts.rows += 1
        if not isinstance(row, dict) or not isinstance(row.get("local_port"), str) or not row["local_port"]:
            counts.bad += 1
            continue
        key = (row["local_port"], str(row.get("remote_name") or ""), str(row.get("remote_port") or ""))
        if key in out:
            counts.duplicates += 1
            continue
        out[key] = str(row.get("remote_chassis") or "")
    return [(*k, chassis) for k, chassis in out.items()]


def record(db: Database, device: str, site: str, space_name: str, tables: Mapping[str, Any],
           ts: float) -> Counts:
    """Store one device's address poll taken at ``ts`` (all or nothing)."""
    counts = Counts(bad=int(tables.get("bad") or 0) if isinstance(tables.get("bad"), int) else 0)
    conn = db.conn
    space = store.space_id(db, space_name)
    with transaction(db):
        prev = conn.execute("SELECT ts, first_ts FROM ipam_address_polls WHERE device=?",
                            (device,)).fetchone()
        if prev is not None and prev[0] >= ts:
            counts.stale = True
            return counts
        rows = _rows(tables, roots(conn, space), counts)
        lldp = _lldp(tables, counts)
        conn.executemany(
            "INSERT INTO ipam_seen (space_id, family, address, kind, mac, device, site, ifname, plen,"
            " first_seen, last_seen, current) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)"
            " ON CONFLICT (device, kind, space_id, family, address, mac, ifname) DO UPDATE SET"
            " last_seen=excluded.last_seen, current=1, plen=excluded.plen, site=excluded.site",
            [(space, fam, encode(val), kind, mac, device, site, ifname, plen, ts, ts)
             for kind, fam, val, mac, ifname, plen in rows],
        )
        conn.execute("UPDATE ipam_seen SET current=0 WHERE device=? AND current=1 AND last_seen < ?",
                     (device, ts))
        conn.executemany(
            "INSERT INTO ipam_lldp_seen (device, site, local_port, remote_name, remote_port, remote_chassis,"
            " first_seen, last_seen, current) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)"
            " ON CONFLICT (device, local_port, remote_name, remote_port) DO UPDATE SET"
            " last_seen=excluded.last_seen, current=1, remote_chassis=excluded.remote_chassis",
            [(device, site, lp, rn, rp, ch, ts, ts) for lp, rn, rp, ch in lldp],
        )
        conn.execute("UPDATE ipam_lldp_seen SET current=0 WHERE device=? AND current=1 AND last_seen < ?",
                     (device, ts))
        counts.stored = len(rows) + len(lldp)
        had_if = int(any(r[0] == "interface" for r in rows))
        conn.execute(
            "INSERT OR REPLACE INTO ipam_address_polls (device, site, space_id, first_ts, ts, rows, stored,"
            " bad, outside, duplicates, had_interfaces) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (device, site, space, prev[1] if prev else ts, ts, counts.rows, counts.stored, counts.bad,
             counts.outside, counts.duplicates, had_if),
        )
    if counts.bad or counts.outside or counts.duplicates:
        log.warning("address poll of %s: %d rows, %d stored, skipped %d unreadable, %d outside every space"
                    " of %s, %d repeated", device, counts.rows, counts.stored, counts.bad, counts.outside,
                    space_name, counts.duplicates)
    return counts


def record_batch(db: Database, samples: Iterable[Mapping[str, Any]], inv: Inventory) -> int:
    """Store the address part of every sample that has one; returns how many were stored."""
    n = 0
    for sample in samples:
        tables = sample.get("addresses")
        device = sample.get("device")
        if not isinstance(tables, dict) or not sample.get("ok") or device not in inv.devices:
            continue
        space = space_of(inv, device)
        if space is None:
            continue
        counts = record(db, device, inv.devices[device].site, space, tables, float(sample["ts"]))
        n += not counts.stale
    return n


def polls(db: Database) -> dict[str, dict[str, Any]]:
    """device -> its latest address poll (site, space, first/last ts, counts)."""
    cols = ("device", "site", "space_id", "first_ts", "ts", "rows", "stored", "bad", "outside", "duplicates",
            "had_interfaces")
    return {r[0]: dict(zip(cols, r, strict=True))
            for r in db.execute(f"SELECT {', '.join(cols)} FROM ipam_address_polls")}


def current(db: Database, since: float | None = None) -> list[tuple]:
    """Rows of ipam_seen: current ones, or (``since``) every row last seen at or after it.

    (space_id, family, value, kind, mac, device, site, ifname, plen, first_seen, last_seen, current)"""
    where, args = ("current=1", ()) if since is None else ("last_seen >= ?", (since,))
    return [(s, f, decode(a), *rest) for s, f, a, *rest in db.execute(
        "SELECT space_id, family, address, kind, mac, device, site, ifname, plen, first_seen, last_seen,"
        f" current FROM ipam_seen WHERE {where}", args)]


def lldp_current(db: Database) -> list[tuple]:
    """(device, site, local_port, remote_name, remote_port, remote_chassis, first_seen, last_seen)."""
    return db.execute("SELECT device, site, local_port, remote_name, remote_port, remote_chassis, first_seen,"
                      " last_seen FROM ipam_lldp_seen WHERE current=1").fetchall()
