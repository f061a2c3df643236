"""The wall's one data document, assembled from state, store, availability and alerts.

:class:`WallFeed` is the only place the wall's data is built; ``/api/v1/wall`` and the
SSE stream both ask it.  It keeps two database connections per application (not per
client) and rebuilds a scope's document only when another connection has committed
to ``centre.db`` or ``metrics.db`` since the last build (``PRAGMA data_version``, a
read of shared memory, no I/O; on PostgreSQL :mod:`nms.dbpg` answers it from the
current snapshot, so a commit by any centre process on the database counts).  A
document carries a ``digest`` of its content, so a stream sends a document once per
real change, however often the databases move.

Current problems come from the alerts engine (``nms.alerts.store.list_alerts``: open
root alerts, folded consequences counted under their root) once it has written any
alert; before that they are derived from the centre's state (devices and links down,
unreachable or degraded), in the same shape.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from dashboards import mapdata
from nms import availability, sitenet, state, updates
from nms.alerts import store as alert_store
from nms.config import Settings
from nms.db import Database, connect
from nms.events import suspect
from nms.portals import pages as portal_pages
from nms.store import TimeSeriesStore, TimeSeriesUnavailable
from nms.timeseries import open_timeseries
from probes.common.inventory_model import Inventory

SDH = "sdh-stm1"
SEVERITY_RANK = {"critical": 0, "major": 1, "minor": 2, "warning": 3, "info": 4}
BAD_STATES = ("down", "unreachable", "degraded", "snmp-unreachable")
MAX_PROBLEMS = 200
ALERTS_FETCH = 2000  # the alerts API's maximum
AVAILABILITY_TTL_S = 60.0
STALE_AFTER_S = float(os.environ.get("NMS_WALL_STALE_S", "300"))
log = logging.getLogger(__name__)

Scope = frozenset[str] | None


def _now() -> float:
    return time.time()


# ---- latest rates (metrics.db) -------------------------------------------------------------


def latest_rates(
    series: TimeSeriesStore, keys: Iterable[tuple[str, str]], newer_than: float
) -> dict[tuple[str, str], dict[str, Any]]:
    """Newest sample (``in_bps``, ``out_bps``, health ...) of sources (``TimeSeriesStore.latest``),
    ``in_bps`` / ``out_bps`` always present (None when the source has no traffic columns)."""
    out = series.latest(keys, newer_than)
    for vals in out.values():
        vals.setdefault("in_bps", None)
        vals.setdefault("out_bps", None)
    return out


def _rate_of(link: Any, rates: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any] | None:
    """Traffic of a link seen at its centre-side end (the far end when that one is missing).

    ``down`` = towards the far site (a-end out), ``up`` = towards the centre (a-end in).
    """
    a = rates.get((link.a.device, link.a.interface))
    if a is not None and (a["in_bps"] is not None or a["out_bps"] is not None):
        return {"down_bps": a["out_bps"], "up_bps": a["in_bps"], "ts": a["ts"]}
    b = rates.get((link.b.device, link.b.interface))
    if b is not None and (b["in_bps"] is not None or b["out_bps"] is not None):
        return {"down_bps": b["in_bps"], "up_bps": b["out_bps"], "ts": b["ts"]}
    return None


def _pct(rate: dict[str, Any] | None, capacity: int) -> float | None:
    if rate is None or not capacity:
        return None
    peak = max(v for v in (rate["down_bps"], rate["up_bps"], 0.0) if v is not None)
    return round(100.0 * peak / capacity, 1)


# ---- problems -------------------------------------------------------------------------------


def _severity(kind: str, st: str, link_kind: str | None) -> str:
    if st == "down":
        return "critical" if link_kind == SDH else "major"
    if st == "unreachable":
        return "minor"
    return "warning"


def problems_from_state(
    cur: dict[str, dict[str, dict[str, Any]]], inv: Inventory, sites: set[str] | None
) -> list[dict[str, Any]]:
    """Devices and links that are not up, as alert-shaped rows (until nms.alerts exists)."""
    out = []
    for name, s in cur.get("device", {}).items():
        dev = inv.devices.get(name)
        if dev is None or s["state"] not in BAD_STATES or (sites is not None and dev.site not in sites):
            continue
        out.append(
            {
                "id": f"device:{name}",
                "severity": _severity("device", s["state"], None),
                "kind": "device",
                "subject": name,
                "site": dev.site,
                "state": s["state"],
                "reason": s["reason"],
                "since": s["since"],
                "acked": False,
            }
        )
    for lid, s in cur.get("link", {}).items():
        link = inv.links.get(lid)
        if link is None or s["state"] not in BAD_STATES:
            continue
        site = inv.devices[link.b.device].site if link.b.device in inv.devices else None
        if sites is not None and site not in sites:
            continue
        out.append(
            {
                "id": f"link:{lid}",
                "severity": _severity("link", s["state"], link.kind),
                "kind": "link",
                "subject": lid,
                "site": site,
                "state": s["state"],
                "reason": s["reason"],
                "since": s["since"],
                "acked": False,
            }
        )
    return out


def active_alerts(centre: Database, sites: set[str] | None) -> list[dict[str, Any]] | None:
    """Open alerts of :mod:`nms.alerts` (``nms.alerts.store.list_alerts``) in the wall's row shape;
    None = use the state instead.

    Open = ``firing`` and ``pending`` (docs/alerts.md: a pending alert is shown, nobody is
    paged yet; ``state`` tells them apart).  Alerts folded under a root cause are not rows
    of their own: the root carries ``children_count``.  The alerts are the source once the
    alert engine has written any alert at all (so a centre without the engine running
    still shows what is down).  Any failure to read them falls back to the state, logged:
    the wall must never go blank because of it.
    """
    try:
        if not alert_store.any_recorded(centre):
            return None
        # the store returns newest first; fetch all open roots so the cut keeps the most severe
        rows = alert_store.list_alerts(
            centre, states=("pending", "firing"), sites=sites, suppressed=False, limit=ALERTS_FETCH
        )
    except Exception:  # noqa: BLE001 - see docstring
        log.exception("wall: cannot read alerts; showing problems from state")
        return None
    return [
        {
            "id": f"alert:{a['id']}",
            "alert_id": a["id"],
            "severity": a["severity"],
            "kind": a["subject"]["kind"],
            "subject": a["subject"]["id"],
            "site": a["site"],
            "state": a["state"],
            "rule": a["rule"],
            "reason": a.get("summary") or a.get("reason"),
            "since": a.get("started_ts") or a.get("fired_ts"),
            "acked": bool(a.get("acknowledged")),
            "assignee": a.get("assignee"),
            "muted": a.get("muted"),
            "flapping": bool(a.get("flapping")),
            "children_count": a.get("children_count") or 0,
        }
        for a in rows
    ]


def sort_problems(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Most severe first, then newest first."""
    return sorted(items, key=lambda p: (SEVERITY_RANK.get(p["severity"], 9), -(p.get("since") or 0)))


# ---- availability -----------------------------------------------------------------------------


def _backbone_availability(
    centre: Database, inv: Inventory, sites: set[str] | None, now: float
) -> dict[str, Any]:
    """SDH backbone availability today and this month (local time), per city and overall."""
    links = [
        lk
        for lk in sorted(inv.links.values(), key=lambda x: x.id)
        if lk.kind == SDH
        and lk.b.device in inv.devices
        and (sites is None or inv.devices[lk.b.device].site in sites)
    ]
    local = datetime.fromtimestamp(now, availability.LOCAL_TZ)
    day0 = local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    month0 = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()
    rows: dict[str, dict[str, Any]] = {}
    totals: dict[str, list[float]] = {}
    for label, t0 in (("today", day0), ("month", month0)):
        if not links or now <= t0:
            continue
        rep = availability.report(centre, t0, now, inv, subjects=[("link", lk.id) for lk in links])
        good = counted = 0.0
        for r in rep:
            rows.setdefault(r["subject"], {})[label] = r["availability_pct"]
            g = r["up_s"] + r["degraded_s"]
            good += g
            counted += g + r["down_s"] + r["unreachable_s"]
        totals[label] = [good, counted]
    cities = []
    for lk in links:
        site = inv.sites.get(inv.devices[lk.b.device].site)
        cities.append(
            {
                "link": lk.id,
                "site": site.id if site else None,
                "name": site.name_zh if site else lk.id,
                "en": (site.name_pinyin or site.id) if site else "",
                "today": rows.get(lk.id, {}).get("today"),
                "month": rows.get(lk.id, {}).get("month"),
            }
        )
    backbone = {label: (round(100.0 * g / c, 3) if c > 0 else None) for label, (g, c) in totals.items()}
    return {"backbone": backbone, "cities": cities}


# ---- the document ------------------------------------------------------------------------------


WALL_KINDS = ("device", "link", "site", "site_network")  # not interfaces and tunnels: a third of the rebuild


def _worst(states: list[str]) -> str:
    for st in ("down", "unreachable", "degraded", "unknown"):
        if st in states:
            return st
    return "up" if states else "unknown"


def build(
    centre: Database,
    series: TimeSeriesStore | None,
    inv: Inventory,
    scope: Scope,
    now: float,
    availability_doc: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The wall document for one scope (None = the whole province)."""
    sites = None if scope is None else set(scope)
    cur = state.current(centre, WALL_KINDS)
    province = inv.sites.get(mapdata.province_of(inv) or "")

    def visible(site_id: str) -> bool:
        return sites is None or site_id in sites

    # devices per site and per site network
    counts: dict[tuple[str, str | None], list[int]] = {}
    dev_summary: dict[str, int] = {}
    for d in inv.devices.values():
        if not visible(d.site):
            continue
        st = cur["device"].get(d.name, {}).get("state", "unknown")
        for key in ((d.site, None), (d.site, d.network)):
            c = counts.setdefault(key, [0, 0])
            c[1] += 1
            c[0] += st == "up"
        dev_summary[st] = dev_summary.get(st, 0) + 1
    site_nets = sitenet.per_site(cur["site_network"])

    nodes = []
    for s in mapdata.map_sites(inv):
        if not visible(s["id"]):
            continue
        sc = cur["site"].get(s["id"], {})
        up, total = counts.get((s["id"], None), (0, 0))
        nodes.append(
            {
                **s,
                "state": sc.get("state", "unknown"),  # the worst of its networks
                "since": sc.get("since"),
                "reason": sc.get("reason"),
                "devices_up": up,
                "devices_total": total,
                "networks": {
                    net: {
                        "state": row["state"],
                        "since": row["since"],
                        "reason": row["reason"],
                        "devices_up": counts.get((s["id"], net), (0, 0))[0],
                        "devices_total": counts.get((s["id"], net), (0, 0))[1],
                    }
                    for net, row in sitenet.in_order(site_nets.get(s["id"], {}))
                },
            }
        )

    # latest rates of the ends of the links we show
    edges_def = [e for e in mapdata.site_edges(inv) if visible(e["source"]) and visible(e["target"])]
    sdh_links = [
        lk
        for lk in inv.links.values()
        if lk.kind == SDH and lk.b.device in inv.devices and visible(inv.devices[lk.b.device].site)
    ]
    wanted_links = {lid for e in edges_def for lid in e["links"]} | {lk.id for lk in sdh_links}
    rates: dict[tuple[str, str], dict[str, Any]] = {}
    degraded: list[str] = []
    if series is not None:
        a_ends = [(inv.links[lid].a.device, inv.links[lid].a.interface) for lid in wanted_links]
        try:
            rates = latest_rates(series, a_ends, now - STALE_AFTER_S)
            missing = [
                (inv.links[lid].b.device, inv.links[lid].b.interface)
                for lid in wanted_links
                if (inv.links[lid].a.device, inv.links[lid].a.interface) not in rates
            ]
            rates.update(latest_rates(series, missing, now - STALE_AFTER_S))
        except TimeSeriesUnavailable as exc:  # state and alerts still stand; load becomes unknown
            log.warning("wall: link load unavailable: %s", exc)
            rates = {}
            degraded.append("链路负载暂不可用 Link load unavailable: time-series store unreachable")

    link_summary: dict[str, int] = {}
    for lk in inv.links.values():
        ends_site = inv.devices[lk.b.device].site if lk.b.device in inv.devices else None
        if ends_site is not None and visible(ends_site):
            st = cur["link"].get(lk.id, {}).get("state", "unknown")
            link_summary[st] = link_summary.get(st, 0) + 1

    edges = []
    for e in edges_def:
        members = [inv.links[lid] for lid in e["links"]]
        states = [cur["link"].get(lk.id, {}).get("state", "unknown") for lk in members]
        worst = _worst(states)
        reasons = [cur["link"].get(lk.id, {}).get("reason") for lk in members]
        loads = [_pct(_rate_of(lk, rates), lk.capacity_bps) for lk in members]
        known = [x for x in loads if x is not None]
        edges.append(
            {
                "id": e["id"],
                "source": e["source"],
                "target": e["target"],
                "links": [
                    {
                        "id": lk.id,
                        "kind": lk.kind,
                        "state": st,
                        "reason": r,
                        "load_pct": ld,
                        "capacity_bps": lk.capacity_bps,
                    }
                    for lk, st, r, ld in zip(members, states, reasons, loads, strict=True)
                ],
                "sdh": any(lk.kind == SDH for lk in members),
                "state": worst,
                "load_pct": max(known) if known else None,
            }
        )

    sdh_rows = []
    for lk in sdh_links:
        site = inv.sites.get(inv.devices[lk.b.device].site)
        rate = _rate_of(lk, rates)
        sdh_rows.append(
            {
                "link": lk.id,
                "site": site.id if site else None,
                "name": site.name_zh if site else lk.id,
                "en": (site.name_pinyin or "") if site else "",
                "state": cur["link"].get(lk.id, {}).get("state", "unknown"),
                "capacity_bps": lk.capacity_bps,
                "down_bps": rate["down_bps"] if rate else None,
                "up_bps": rate["up_bps"] if rate else None,
                "load_pct": _pct(rate, lk.capacity_bps),
            }
        )
    sdh_rows.sort(key=lambda r: (-(r["load_pct"] if r["load_pct"] is not None else -1), r["link"]))

    alerts = active_alerts(centre, sites)
    source = "alerts" if alerts is not None else "state"
    items = sort_problems(alerts if alerts is not None else problems_from_state(cur, inv, sites))
    for p in items:
        dev = inv.devices.get(p["subject"]) if p["kind"] == "device" else None
        site = inv.sites.get(p.get("site") or (dev.site if dev else ""))
        p["site_name"] = site.name_zh if site else None

    as_of = _as_of(centre, inv, sites)
    scoped = None if sites is None else frozenset(sites)
    found = suspect.suspects(centre, now, sites=scoped)
    suspect_links = suspect.links_of(found, inv)
    for e in edges:
        for lk in e["links"]:
            if lk["id"] in suspect_links:
                lk["suspect"] = suspect_links[lk["id"]]
        e["suspect"] = any("suspect" in lk for lk in e["links"])
    for row in sdh_rows:
        row["suspect"] = row["link"] in suspect_links
    return {
        "province": {"id": province.id, "name": province.name_zh, "code": province.code}
        if province
        else None,
        "scope": None if sites is None else sorted(sites),
        "as_of": as_of,
        "stale_after_s": STALE_AFTER_S,
        "summary": {"devices": dev_summary, "links": link_summary},
        "nodes": nodes,
        "edges": edges,
        "problems": {"source": source, "total": len(items), "items": items[:MAX_PROBLEMS]},
        "availability": availability_doc,
        "sdh": sdh_rows,
        "portals": portal_panel(centre, inv, sites),
        # what devices said on their own (traps, syslog): newest first, and what no poll checked yet
        "ticker": suspect.ticker(centre, now, scoped),
        "suspects": [{"kind": k, "subject": subj, **why} for (k, subj), why in sorted(found.items())],
        "degraded": degraded,
    }


def portal_panel(centre: Database, inv: Inventory, sites: set[str] | None) -> dict[str, Any]:
    """The portals panel: how many are up, slow, tampered, down; the ones that are not up first."""
    doc = portal_pages.listing(centre, inv, sites)
    order = {"tampered": 0, "down": 1, "degraded": 2}  # never checked: counted, not listed
    bad = [r for r in doc["portals"] if r["state"] in order]
    bad.sort(key=lambda r: (order[r["state"]], r["id"]))
    items = [{k: r[k] for k in ("id", "name", "site_name", "state", "since", "findings")} for r in bad]
    return {"total": len(doc["portals"]), "counts": doc["counts"], "items": items[:MAX_PROBLEMS]}


def _as_of(centre: Database, inv: Inventory, sites: set[str] | None) -> float | None:
    """Time of the newest poll the state has seen (for the wall's "data as of" and staleness)."""
    if sites is None:
        return state.newest_poll(centre)
    return state.newest_poll(centre, [d.name for d in inv.devices.values() if d.site in sites])


class WallFeed:
    """Per-application cache of wall documents, rebuilt when the databases change."""

    def __init__(
        self, settings: Settings, inventory: Callable[[], Inventory | None], clock: Callable[[], float] = _now
    ) -> None:
        self.settings = settings
        self.inventory = inventory
        self.clock = clock
        self.lock = threading.Lock()
        self._db: dict[str, Database] = {}
        self._seen: tuple[int, int, int, int] | None = None
        self._docs: dict[Scope, tuple[str, str]] = {}  # scope -> (digest, json without server_time)
        self._avail: dict[Scope, tuple[float, dict[str, Any]]] = {}
        self._series: TimeSeriesStore | None = None

    def _conn(self, name: str) -> Database:
        db = self._db.get(name)
        if db is None:
            db = self._db[name] = connect(self.settings, name, check_same_thread=False)
        return db

    def _data_version(self, inv: Inventory | None) -> tuple[int, int, int, int]:
        """Moves on any commit seen by the databases, and on any change announced to this process
        (:mod:`nms.updates`: raised after a commit here, or by another centre over NOTIFY)."""
        c = self._conn("centre").execute("PRAGMA data_version").fetchone()[0]
        m = self._conn("metrics").execute("PRAGMA data_version").fetchone()[0]
        return (c, m, id(inv), updates.generation())

    def get(self, scope: Scope) -> tuple[str, str]:
        """(digest, JSON document) for a scope, rebuilt only after a change."""
        with self.lock:
            inv = self.inventory()
            seen = self._data_version(inv)
            if seen != self._seen:
                self._docs.clear()
                self._seen = seen
            got = self._docs.get(scope)
            if got is None:
                got = self._docs[scope] = self._build(inv, scope)
            return got

    def _build(self, inv: Inventory | None, scope: Scope) -> tuple[str, str]:
        now = self.clock()
        if inv is None:
            doc: dict[str, Any] = {
                "error": "inventory not loaded",
                "nodes": [],
                "edges": [],
                "problems": {"source": "state", "total": 0, "items": []},
                "sdh": [],
                "availability": None,
                "as_of": None,
                "stale_after_s": STALE_AFTER_S,
                "summary": {},
            }
        else:
            centre = self._conn("centre")
            avail = self._avail.get(scope)
            if avail is None or now - avail[0] > AVAILABILITY_TTL_S:
                sites = None if scope is None else set(scope)
                avail = (now, _backbone_availability(centre, inv, sites, now))
                self._avail[scope] = avail
            if self._series is None:
                self._series = open_timeseries(self.settings, self._conn("metrics"))
            doc = build(centre, self._series, inv, scope, now, avail[1])
        body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False, default=str)
        digest = hashlib.sha256(body.encode()).hexdigest()[:16]
        head = json.dumps({"digest": digest, "generated_at": now}, separators=(",", ":"))
        return digest, head[:-1] + "," + body[1:]

    def close(self) -> None:
        with self.lock:
            for db in self._db.values():
                db.conn.close()
            self._db.clear()
            self._series = None


def with_server_time(doc_json: str, now: float) -> str:
    """The cached document with the server's clock at sending time (for skew and staleness)."""
    return '{"server_time":' + json.dumps(now) + "," + doc_json[1:]
