"""Availability from state events (not from counting samples), per device, link and site.

For a period [t0, t1) every second of every subject falls in exactly one bucket:
``maintenance`` (any state, inside a maintenance window) or, outside maintenance, the
state the subject was in: ``up``, ``degraded``, ``down``, ``unreachable``, ``unknown``.
The buckets add up to the period.  Availability = (up + degraded) / (up + degraded +
down + unreachable): unknown time (no data) is neither counted for nor against.

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

from nms import maintenance, sdh, state
from nms.inventory_model import Inventory

BUCKETS = ("up", "degraded", "down", "unreachable", "unknown")
REPORT_KINDS = ("device", "link", "site")
SDH_BUCKET_S = 900
LOCAL_TZ = ZoneInfo("Asia/Shanghai")

FIELDS = (
    "kind",
    "subject",
    "period_s",
    "up_s",
    "degraded_s",
    "down_s",
    "unreachable_s",
    "unknown_s",
    "maintenance_s",
    "maintenance_down_s",
    "availability_pct",
    "outages",
    "g826_uas_s",
    "g826_covered_s",
    "g826_availability_pct",
    "g826_esr",
    "g826_sesr",
    "g826_bber",
)


def _initial_states(db: sqlite_utils.Database, kinds: Iterable[str], t0: float) -> dict[tuple[str, str], str]:
    kinds = list(kinds)
    marks = ",".join("?" * len(kinds))
    rows = db.execute(
        f"""SELECT kind, subject, to_state FROM (
               SELECT kind, subject, to_state,
                      row_number() OVER (PARTITION BY kind, subject ORDER BY ts DESC, id DESC) AS rn
               FROM state_events WHERE ts <= ? AND kind IN ({marks}))
            WHERE rn = 1""",
        (t0, *kinds),
    )
    return {(k, s): st for k, s, st in rows}


def _events_in(db: sqlite_utils.Database, kinds: Iterable[str], t0: float, t1: float):
    kinds = list(kinds)
    marks = ",".join("?" * len(kinds))
    out: dict[tuple[str, str], list[tuple[float, str]]] = defaultdict(list)
    for k, s, ts, st in db.execute(
        f"SELECT kind, subject, ts, to_state FROM state_events WHERE ts > ? AND ts < ? AND kind IN ({marks})"
        " ORDER BY ts, id",
        (t0, t1, *kinds),
    ):
        out[(k, s)].append((ts, st))
    return out


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
    out["availability_pct"] = round(100.0 * good / counted, 4) if counted > 0 else None
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
    for dev, itf, end, uas in db.execute(
        "SELECT device, interface, interval_end, uas FROM state_sdh_uas"
        " WHERE interval_end > ? AND interval_end <= ? AND valid = 1 AND uas IS NOT NULL",
        (t0 + SDH_BUCKET_S - 1, t1),
    ):
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
            names = {"device": inventory.devices, "link": inventory.links, "site": inventory.sites}.get(k, {})
            known.update((k, n) for n in names)
    marks = ",".join("?" * len(kinds))
    for table in ("state_current", "state_events"):
        known.update(db.execute(f"SELECT DISTINCT kind, subject FROM {table} WHERE kind IN ({marks})", kinds))
    return sorted(known)


def report(
    db: sqlite_utils.Database,
    t0: float,
    t1: float,
    inventory: Inventory | None = None,
    kinds: Iterable[str] = REPORT_KINDS,
    subjects: Iterable[tuple[str, str]] | None = None,
) -> list[dict[str, Any]]:
    """One row per subject for [t0, t1); see :data:`FIELDS`."""
    if t1 <= t0:
        raise ValueError("period: 'to' must be after 'from'")
    state.ensure_schema(db)
    kinds = list(kinds)
    wanted = list(subjects) if subjects is not None else subjects_of(db, inventory, kinds)
    kinds = sorted({k for k, _ in wanted}) or kinds
    initial = _initial_states(db, kinds, t0)
    changes = _events_in(db, kinds, t0, t1)
    wins = maintenance.windows(db)
    uas = _uas(db, inventory, t0, t1)
    rows = []
    for kind, subject in wanted:
        maint = maintenance.in_maintenance(wins, kind, subject, t0, t1, inventory)
        spans = timeline(initial.get((kind, subject), "unknown"), changes.get((kind, subject), []), t0, t1)
        row: dict[str, Any] = {"kind": kind, "subject": subject, "period_s": t1 - t0}
        row.update(account(spans, maint))
        row.update(g826_uas_s=None, g826_covered_s=None, g826_availability_pct=None)
        row.update(g826_esr=None, g826_sesr=None, g826_bber=None)
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


def to_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
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
    try:
        from nms.inventory import load_inventory
    except ModuleNotFoundError:
        return None
    if not settings.inventory_path.exists():
        return None
    return load_inventory(settings.inventory_path)


def run(args: argparse.Namespace) -> int:
    from nms.config import Settings
    from nms.db import connect

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
        db = connect(settings, "centre")
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
        json.dump({"from": t0, "to": t1, "rows": rows}, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
    else:
        for r in rows:
            pct = "-" if r["availability_pct"] is None else f"{r['availability_pct']:.3f}%"
            print(
                f"{r['kind']:7} {r['subject']:30} {pct:>9}  down {r['down_s']:.0f}s"
                f"  maint {r['maintenance_s']:.0f}s  unknown {r['unknown_s']:.0f}s"
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
