"""Availability from state events (not from counting samples), per device, link and site.

For a period [t0, t1) every second of every subject falls in exactly one bucket:
``maintenance`` (any state, inside a maintenance window) or, outside maintenance, the
state the subject was in: ``up``, ``degraded``, ``down``, ``unreachable``, ``unknown``
(no data).  The buckets add up to the period.  The headline never overstates: see
:data:`NO_DATA_POLICY` (every report states it).  Sites are reported per network
(专网 internal and 外网 external apart), from their devices' histories by the rule the
live state uses too (:mod:`nms.sitenet`; so late data back-filled into a device's
events counts for its site too): see :func:`site_timeline`.

SDH links also get the ITU-T G.826 view from the 15-minute performance buckets the
agents report: UAS seconds are unavailable (either end; the larger of the two per
bucket), over the seconds the buckets cover; buckets inside maintenance are left out.
ESR, SESR and BBER (of the worse direction) come from :func:`nms.sdh.link_g826`.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from nms import maintenance, sdh, sitenet, state
from nms.config import Settings
from nms.portals import store as portals
from nms.schema import open_migrated
from probes.common.inventory import load_inventory
from probes.common.inventory_model import Inventory

BUCKETS = ("up", "degraded", "down", "unreachable", "unknown")
REPORT_KINDS = ("device", "link", "site", "portal")
# a portal's states in availability buckets: a tampered portal answers, but not with its page
PORTAL_BUCKET = {"up": "up", "degraded": "degraded", "tampered": "degraded", "down": "down"}
NO_DATA_POLICY = (
    "availability_pct = up / (period - maintenance): time without data (unknown_s, e.g. an agent"
    " outage), degraded, down and unreachable all count as not available;"
    " measured_availability_pct = (up + degraded) / time with data, for comparison only;"
    " no figure when there was no data at all"
)
SDH_BUCKET_S = 900
LOCAL_TZ = ZoneInfo("Asia/Shanghai")

FIELDS = (
    "kind",
    "subject",
    "network",
    "period_s",
    "up_s",
    "degraded_s",
    "down_s",
    "unreachable_s",
    "unknown_s",
    "maintenance_s",
    "maintenance_down_s",
    "availability_pct",
    "measured_availability_pct",
    "outages",
    "g826_uas_s",
    "g826_covered_s",
    "g826_availability_pct",
    "g826_esr",
    "g826_sesr",
    "g826_bber",
)


def timeline(
    initial: str, changes: list[tuple[float, str]], t0: float, t1: float
) -> list[tuple[float, float, str]]:
    """[(start, end, state)] covering [t0, t1) exactly."""
    spans = []
    cur, at = initial, t0
    for ts, st in changes:
        if ts > at:
            spans.append((at, ts, cur))
        cur, at = st, max(at, ts)
    if t1 > at:
        spans.append((at, t1, cur))
    return spans


def _overlap(s: float, e: float, windows: list[tuple[float, float]]) -> float:
    return sum(max(0.0, min(e, we) - max(s, ws)) for ws, we in windows)


def account(spans: list[tuple[float, float, str]], maint: list[tuple[float, float]]) -> dict[str, Any]:
    """Seconds per bucket; maintenance first, the rest by state."""
    out: dict[str, Any] = {f"{b}_s": 0.0 for b in BUCKETS}
    out["maintenance_s"] = sum(e - s for s, e in maint)
    out["maintenance_down_s"] = 0.0
    outages = 0
    prev = None
    for s, e, st in spans:
        m = _overlap(s, e, maint)
        key = st if st in BUCKETS else "unknown"
        out[f"{key}_s"] += (e - s) - m
        if key in ("down", "unreachable"):
            out["maintenance_down_s"] += m
            if prev not in ("down", "unreachable") and (e - s) - m > 0:  # outages outside maintenance
                outages += 1
        prev = key
    out["outages"] = outages
    good = out["up_s"] + out["degraded_s"]
    counted = good + out["down_s"] + out["unreachable_s"]
    out["measured_availability_pct"] = round(100.0 * good / counted, 4) if counted > 0 else None
    # the headline: every second outside maintenance counts, and only "up" is available
    base = counted + out["unknown_s"]
    out["availability_pct"] = round(100.0 * out["up_s"] / base, 4) if counted > 0 and base > 0 else None
    return out


def site_timeline(
    device_spans: list[list[tuple[float, float, str]]],
    t0: float,
    t1: float,
    other_spans: list[list[tuple[float, float, str]]] | None = None,
):
    """[(start, end, state)] of one site network from its core (and other) devices' timelines.

    At every moment the rule of :func:`nms.sitenet.fold`, the live state's too: down (or
    unreachable) when every core device with data is; up when all of them with data
    are up and no other device is down, unreachable or degraded; unknown when no core
    device has data; degraded otherwise.
    """
    if not device_spans:
        return [(t0, t1, "unknown")]
    every = device_spans + (other_spans or [])
    cuts = sorted({t0, t1, *(s for spans in every for s, _, _ in spans)})
    out: list[tuple[float, float, str]] = []
    idx = [0] * len(every)
    n_core = len(device_spans)
    for a, b in zip(cuts, cuts[1:], strict=False):
        states = []
        for i, spans in enumerate(every):
            while idx[i] + 1 < len(spans) and spans[idx[i]][1] <= a:
                idx[i] += 1
            states.append(spans[idx[i]][2])
        st = sitenet.fold(states[:n_core], states[n_core:])
        if out and out[-1][2] == st:
            out[-1] = (out[-1][0], b, st)
        else:
            out.append((a, b, st))
    return out


def _uas(db: sqlite_utils.Database, inventory: Inventory | None, t0: float, t1: float):
    """{link id: {interval_end: max uas of the ends}} for SDH links."""
    if inventory is None:
        return {}
    ends: dict[tuple[str, str], list[str]] = defaultdict(list)
    for link in inventory.links.values():
        if link.kind == "sdh-stm1":
            for e in (link.a, link.b):
                ends[(e.device, e.interface)].append(link.id)
    out: dict[str, dict[int, int]] = defaultdict(dict)
    if not ends:
        return out
    for dev, itf, end, _es, _ses, uas, valid in sdh.line_buckets(db, t0 + SDH_BUCKET_S - 1, t1):
        if not valid or uas is None:
            continue
        for lid in ends.get((dev, itf), ()):
            out[lid][end] = max(out[lid].get(end, 0), min(int(uas), SDH_BUCKET_S))
    return out


def subjects_of(
    db: sqlite_utils.Database, inventory: Inventory | None, kinds: Iterable[str]
) -> list[tuple[str, str]]:
    known: set[tuple[str, str]] = set()
    kinds = list(kinds)
    if inventory is not None:
        for k in kinds:
            names = {
                "device": inventory.devices,
                "link": inventory.links,
                "site": inventory.sites,
                "portal": inventory.portals,
            }.get(k, {})
            known.update((k, n) for n in names)
    stateful = [k for k in kinds if k != "portal"]
    if stateful:  # ``IN ()`` is SQLite's only
        known |= state.known_subjects(db, stateful)
    if "portal" in kinds:
        known |= {("portal", p) for p in portals.known_portals(db)}
    return sorted(known)


def report(
    db: sqlite_utils.Database,
    t0: float,
    t1: float,
    inventory: Inventory | None = None,
    kinds: Iterable[str] = REPORT_KINDS,
    subjects: Iterable[tuple[str, str]] | None = None,
) -> list[dict[str, Any]]:
    """One row per subject for [t0, t1), a site one per network it has devices in; see :data:`FIELDS`.

    A site the inventory does not know keeps its own (all-network) events, network None.
    """
    if t1 <= t0:
        raise ValueError("period: 'to' must be after 'from'")
    kinds = list(kinds)
    wanted = list(subjects) if subjects is not None else subjects_of(db, inventory, kinds)
    kinds = sorted({k for k, _ in wanted}) or kinds
    by_site = sitenet.networks(inventory) if inventory is not None else {}
    site_nets = {s: by_site[s] for kind, s in wanted if kind == "site" and s in by_site}
    read = sorted(set(kinds) | ({"device"} if site_nets else set()))  # sites come from their devices
    stateful = [k for k in read if k != "portal"]  # none: a portals-only report (``IN ()`` is SQLite's only)
    initial = state.initial_states(db, stateful, t0) if stateful else {}
    changes = state.events_between(db, stateful, t0, t1) if stateful else {}
    if "portal" in read:
        initial.update({("portal", p): st for p, st in portals.initial_states(db, t0).items()})
        for p, evs in portals.events_between(db, t0, t1).items():
            changes[("portal", p)] = [(ts, PORTAL_BUCKET.get(st, "unknown")) for ts, st in evs]
        for key in [k for k in initial if k[0] == "portal"]:
            initial[key] = PORTAL_BUCKET.get(initial[key], "unknown")
    wins = maintenance.windows(db)
    uas = _uas(db, inventory, t0, t1)

    def spans_of(kind: str, subject: str) -> list[tuple[float, float, str]]:
        return timeline(initial.get((kind, subject), "unknown"), changes.get((kind, subject), []), t0, t1)

    rows = []
    for kind, subject in wanted:
        maint = maintenance.in_maintenance(wins, kind, subject, t0, t1, inventory)
        if kind == "site" and subject in site_nets:
            for net, sn in sorted(site_nets[subject].items()):
                core = [spans_of("device", n) for n in sn.core]
                spans = site_timeline(core, t0, t1, [spans_of("device", n) for n in sn.others])
                rows.append(_row(kind, subject, net, t0, t1, spans, maint))
            continue
        row = _row(
            kind, subject, _network_of(inventory, kind, subject), t0, t1, spans_of(kind, subject), maint
        )
        if kind == "link" and inventory is not None and subject in inventory.links:
            if inventory.links[subject].kind == "sdh-stm1":
                buckets = {
                    end: u
                    for end, u in uas.get(subject, {}).items()
                    if _overlap(end - SDH_BUCKET_S, end, maint) == 0
                }
                covered = SDH_BUCKET_S * len(buckets)
                row["g826_uas_s"] = sum(buckets.values())
                row["g826_covered_s"] = covered
                if covered:
                    row["g826_availability_pct"] = round(100.0 * (1 - row["g826_uas_s"] / covered), 4)
                kept = set(buckets)  # the bucket ends outside maintenance (reported with UAS)
                worst = sdh.link_g826(db, inventory.links[subject], t0, t1, kept.__contains__)["worst"]
                if worst is not None:
                    row.update(g826_esr=worst["esr"], g826_sesr=worst["sesr"], g826_bber=worst["bber"])
        rows.append(row)
    return rows


def _network_of(inventory: Inventory | None, kind: str, subject: str) -> str | None:
    if inventory is None:
        return None
    if kind == "device" and subject in inventory.devices:
        return inventory.devices[subject].network
    if kind == "link" and subject in inventory.links:
        return inventory.links[subject].network
    if kind == "portal" and subject in inventory.portals:
        return "external"  # probed from the 外网 side
    return None


def _row(kind, subject, network, t0, t1, spans, maint) -> dict[str, Any]:
    row: dict[str, Any] = {"kind": kind, "subject": subject, "network": network, "period_s": t1 - t0}
    row.update(account(spans, maint))
    row.update(g826_uas_s=None, g826_covered_s=None, g826_availability_pct=None)
    row.update(g826_esr=None, g826_sesr=None, g826_bber=None)
    return row


def to_csv(rows: list[dict[str, Any]]) -> str:
    """CSV; its first line is a ``#`` comment stating :data:`NO_DATA_POLICY`."""
    buf = io.StringIO()
    buf.write(f"# {NO_DATA_POLICY}\n")
    w = csv.DictWriter(buf, fieldnames=FIELDS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else r[k]) for k in FIELDS})
    return buf.getvalue()


# ---- periods ------------------------------------------------------------------------------------


def parse_time(text: str, tz: ZoneInfo = LOCAL_TZ) -> float:
    """Unix seconds, ``YYYY-MM-DD`` (local midnight) or ISO date-time (local unless it says)."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r}: expected YYYY-MM-DD, an ISO date-time or Unix seconds") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return dt.timestamp()


def month_range(month: str, tz: ZoneInfo = LOCAL_TZ) -> tuple[float, float]:
    try:
        first = datetime.strptime(month, "%Y-%m").replace(tzinfo=tz)
    except ValueError:
        raise ValueError(f"month {month!r}: expected YYYY-MM") from None
    nxt = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first.timestamp(), nxt.timestamp()


def day_range(day: str, tz: ZoneInfo = LOCAL_TZ) -> tuple[float, float]:
    try:
        d = date.fromisoformat(day)
    except ValueError:
        raise ValueError(f"day {day!r}: expected YYYY-MM-DD") from None
    start = datetime(d.year, d.month, d.day, tzinfo=tz)
    return start.timestamp(), (start + timedelta(days=1)).timestamp()


# ---- CLI ------------------------------------------------------------------------------------------


def _load_inventory(settings) -> Inventory | None:
    if not settings.inventory_path.exists():
        return None
    return load_inventory(settings.inventory_path)


def run(args: argparse.Namespace) -> int:
    try:
        if args.month:
            t0, t1 = month_range(args.month)
        elif args.day:
            t0, t1 = day_range(args.day)
        elif args.from_ and args.to:
            t0, t1 = parse_time(args.from_), parse_time(args.to)
        else:
            print("nms availability: give --from and --to, or --month, or --day", file=sys.stderr)
            return 2
        settings = Settings()
        inventory = _load_inventory(settings)
        db = open_migrated(settings)
        try:
            rows = report(db, t0, t1, inventory, kinds=args.kind or REPORT_KINDS)
        finally:
            db.conn.close()
    except ValueError as exc:
        print(f"nms availability: {exc}", file=sys.stderr)
        return 2
    if args.format == "csv":
        sys.stdout.write(to_csv(rows))
    elif args.format == "json":
        doc = {"from": t0, "to": t1, "policy": NO_DATA_POLICY, "rows": rows}
        json.dump(doc, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
    else:
        print(f"# {NO_DATA_POLICY}")
        for r in rows:
            pct = "-" if r["availability_pct"] is None else f"{r['availability_pct']:.3f}%"
            print(
                f"{r['kind']:7} {r['subject']:30} {r['network'] or '':8} {pct:>9}  down {r['down_s']:.0f}s"
                f"  degraded {r['degraded_s']:.0f}s  maint {r['maintenance_s']:.0f}s"
                f"  no data {r['unknown_s']:.0f}s"
            )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("availability", help="availability report from state events")
    p.add_argument("--from", dest="from_", help="start: YYYY-MM-DD, ISO date-time (Asia/Shanghai) or Unix s")
    p.add_argument("--to", help="end (exclusive), same forms")
    p.add_argument("--month", help="a calendar month YYYY-MM (Asia/Shanghai)")
    p.add_argument("--day", help="one day YYYY-MM-DD (Asia/Shanghai)")
    p.add_argument("--kind", action="append", choices=REPORT_KINDS, help="only these kinds (repeatable)")
    p.add_argument("--format", choices=("csv", "json", "text"), default="text")
    p.set_defaults(func=run)
