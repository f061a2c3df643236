"""Maintenance windows: planned work, excluded from availability and shown separately.

A window names a device, interface, link or site (``subtree`` = the site and everything
below it) and a time span; ``rrule`` repeats it ``daily`` or ``weekly`` until ``until``.
The alerts issue owns the editing UI; this module owns the table and the one question
everyone asks: :func:`in_maintenance`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from nms.audit import record
from nms.db import Database, transaction
from probes.common import topology
from probes.common.inventory_model import Inventory
from probes.common.subject import Subject

SUBJECT_KINDS = ("device", "interface", "link", "site")
RRULES = {"daily": 86400, "weekly": 7 * 86400}

Interval = tuple[float, float]


@dataclass(frozen=True)
class Window:
    id: int
    subject_kind: str
    subject_id: str
    subtree: bool
    start: float
    end: float
    rrule: str | None
    until: float | None
    reason: str | None
    ended: float | None = None

    def occurrences(self, t0: float, t1: float) -> list[Interval]:
        """Spans of this window that overlap [t0, t1), clipped to it (and cut where it was ended)."""
        if self.ended is not None:
            t1 = min(t1, self.ended)
            if t1 <= t0:
                return []
        if self.rrule is None:
            spans = [(self.start, self.end)]
        else:
            period = RRULES[self.rrule]
            length = self.end - self.start
            k = max(0, math.ceil((t0 - self.start - length) / period))
            spans = []
            while True:
                s = self.start + k * period
                if s >= t1 or (self.until is not None and s > self.until):
                    break
                spans.append((s, s + length))
                k += 1
        return [(max(s, t0), min(e, t1)) for s, e in spans if e > t0 and s < t1]


def ensure_schema(db: Database) -> None:
    db.execute(
        """CREATE TABLE IF NOT EXISTS maint_windows (
            id INTEGER PRIMARY KEY,
            subject_kind TEXT NOT NULL, subject_id TEXT NOT NULL, subtree INTEGER NOT NULL DEFAULT 0,
            start REAL NOT NULL, "end" REAL NOT NULL, rrule TEXT, until REAL,
            reason TEXT, created_by TEXT, created_ts REAL, ended REAL,
            CHECK ("end" > start))"""
    )
    # Databases made before windows could be ended early lack the column.
    if "ended" not in db.columns("maint_windows"):
        db.execute("ALTER TABLE maint_windows ADD COLUMN ended REAL")


def add_window(
    db: Database,
    subject_kind: str,
    subject_id: str,
    start: float,
    end: float,
    *,
    actor: str,
    subtree: bool = False,
    rrule: str | None = None,
    until: float | None = None,
    reason: str | None = None,
    site: str | None = None,
) -> int:
    """Create a window (audited under ``site``, its subject's); raises ValueError naming the bad field."""
    if subject_kind not in SUBJECT_KINDS:
        raise ValueError(f"subject_kind: {subject_kind!r}; expected one of {', '.join(SUBJECT_KINDS)}")
    if not subject_id:
        raise ValueError("subject_id: empty")
    if end <= start:
        raise ValueError("end: must be after start")
    if rrule is not None and rrule not in RRULES:
        raise ValueError(f"rrule: {rrule!r}; expected daily, weekly or none")
    if subtree and subject_kind != "site":
        raise ValueError("subtree: only a site has a subtree")
    try:
        subject = Subject.parse(subject_kind, subject_id)
    except ValueError as exc:
        raise ValueError(f"subject_id: {exc}") from None
    with transaction(db):
        cur = db.execute(
            'INSERT INTO maint_windows (subject_kind, subject_id, subtree, start, "end", rrule, until,'
            " reason, created_by, created_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (subject_kind, subject_id, int(subtree), start, end, rrule, until, reason, actor, time.time()),
        )
        wid = int(cur.fetchone()[0])
        after = {
            "subject": subject.ref,
            "subtree": subtree,
            "start": start,
            "end": end,
            "rrule": rrule,
            "until": until,
        }
        record(db, actor, "maintenance.add", f"maint_window:{wid}", after=after, reason=reason, site=site)
    return wid


def windows(db: Database) -> list[Window]:
    rows = db.execute(
        'SELECT id, subject_kind, subject_id, subtree, start, "end", rrule, until, reason, ended'
        " FROM maint_windows ORDER BY id"
    ).fetchall()
    return [Window(r[0], r[1], r[2], bool(r[3]), r[4], r[5], r[6], r[7], r[8], r[9]) for r in rows]


def end_window(
    db: Database,
    w: Window,
    *,
    actor: str,
    now: float,
    source_ip: str | None = None,
    site: str | None = None,
) -> bool:
    """End ``w`` at ``now`` (audited as ``maintenance.end``); True if it was removed.

    A window that has not started yet is removed: nothing of it ever happened.  A window
    that has started, one-off or recurring, stops at ``now`` and keeps its past: the
    availability of the time it covered stays excluded, and no later occurrence begins.
    """
    removed = w.start >= now
    with transaction(db):
        if removed:
            db.execute("DELETE FROM maint_windows WHERE id = ?", (w.id,))
            after = None
        else:
            db.execute("UPDATE maint_windows SET ended = ? WHERE id = ?", (now, w.id))
            after = {"ended": now}
        record(
            db,
            actor,
            "maintenance.end",
            f"maint_window:{w.id}",
            before={"start": w.start, "end": w.end, "rrule": w.rrule, "until": w.until},
            after=after,
            source_ip=source_ip,
            site=site,
        )
    return removed


def covers(w: Window, kind: str, subject: str, inventory: Inventory | None) -> bool:
    """Does window ``w`` apply to this subject?

    A window covers its own subject and what is out while it is
    (:func:`probes.common.topology.taken_down_by`, the rule the alerts' root cause uses):
    a link window the link's two interfaces; a device or site window the interfaces of its
    devices, links and tunnels with an end there, and a site, site network or agent all of
    whose devices are there.  Unlike a root cause it does not reach the devices behind.
    """
    if w.subject_kind == kind and w.subject_id == subject:
        return True
    links: Collection[str] = ()
    if w.subject_kind == "link":
        held: Collection[str] = ()
        links = (w.subject_id,)
    elif w.subject_kind == "device":
        held = (w.subject_id,)
    elif w.subject_kind == "site" and inventory is not None:
        sites = (
            inventory.subtree(w.subject_id)
            if w.subtree and w.subject_id in inventory.sites
            else {w.subject_id}
        )
        if kind == "site" and subject in sites:
            return True
        by_site = topology.build(inventory).by_site
        held = {d for site in sites for d in by_site.get(site, ())}
    else:
        return False
    try:
        s = Subject.parse(kind, subject)
    except ValueError:
        return False
    return topology.taken_down_by(s, held, inventory, links)


def merge(spans: Iterable[Interval]) -> list[Interval]:
    out: list[list[float]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def in_maintenance(
    db: Database | list[Window],
    subject_kind: str,
    subject_id: str,
    t0: float,
    t1: float,
    inventory: Inventory | None = None,
) -> list[Interval]:
    """Merged intervals of [t0, t1) during which the subject was in a maintenance window.

    ``db`` may be a list from :func:`windows` when asking for many subjects at once.
    """
    ws = db if isinstance(db, list) else windows(db)
    spans = [
        span for w in ws if covers(w, subject_kind, subject_id, inventory) for span in w.occurrences(t0, t1)
    ]
    return merge(spans)
