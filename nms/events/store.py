"""The centre's event log: what devices reported on their own (traps, syslog), as the
agents' receivers decoded and mapped it (:class:`probes.events.model.Event`).

Owns the ``event_log`` table of centre.db.  Each event arrives in an agent's batch and is
keyed by (agent, epoch, seq, index in the batch): a batch sent again after a lost answer
stores each of its events once.  The device's inventory site is written with the row, so
county scope is one indexed ``WHERE site IN (...)``; a sender the inventory does not know
has no site and is the province's.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import sqlite_utils
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nms.audit import _safe_cell
from nms.config import env_number
from nms.db import transaction
from nms.store import run_ddl
from probes.events.model import SEVERITIES

RETENTION_DAYS_ENV = "NMS_EVENT_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 90.0
MAX_RAW = 8192  # bytes of the raw message kept (a 1 MB syslog line keeps its head)
MAX_TEXT = 4096
CSV_COLUMNS = ("time_utc", "agent", "site", "device", "source", "kind", "subject", "severity",
               "origin", "count", "clears", "text")
TEXT_COLUMNS = ("text", "subject", "source")  # what ``q`` searches
COLUMNS = ("id", "ts", "agent", "site", "device", "source", "kind", "subject", "severity", "origin",
           "count", "clears", "text")


def ensure_schema(db: sqlite_utils.Database) -> None:
    run_ddl(
        db,
        """
        CREATE TABLE IF NOT EXISTS event_log (
            id INTEGER PRIMARY KEY,
            agent TEXT NOT NULL, epoch TEXT NOT NULL, seq INTEGER NOT NULL, idx INTEGER NOT NULL,
            ts REAL NOT NULL, received_ts REAL NOT NULL,
            source TEXT NOT NULL, device TEXT, site TEXT,
            kind TEXT NOT NULL, subject TEXT NOT NULL DEFAULT '',
            severity TEXT NOT NULL CHECK (severity IN ('critical', 'major', 'minor', 'warning', 'info')),
            origin TEXT NOT NULL, clears TEXT, count INTEGER NOT NULL DEFAULT 1,
            text TEXT NOT NULL DEFAULT '', raw BLOB);
        CREATE UNIQUE INDEX IF NOT EXISTS event_log_key ON event_log (agent, epoch, seq, idx);
        CREATE INDEX IF NOT EXISTS event_log_ts ON event_log (ts);
        CREATE INDEX IF NOT EXISTS event_log_site_ts ON event_log (site, ts);
        CREATE INDEX IF NOT EXISTS event_log_device_ts ON event_log (device, ts);
        """,
    )


class EventIn(BaseModel):
    """One event as an agent sends it (:meth:`probes.events.model.Event.as_dict`)."""

    model_config = ConfigDict(extra="forbid")
    time: float = Field(gt=0)
    source: str = Field(max_length=64)
    device: str | None = Field(default=None, max_length=200)
    kind: str = Field(pattern=r"^[a-z][a-z0-9-]*$", max_length=64)
    subject: str = Field(default="", max_length=500)
    severity: Literal["critical", "major", "minor", "warning", "info"]
    text: str = ""
    origin: Literal["trap", "syslog", "receiver"]
    clears: str | None = Field(default=None, max_length=64)
    count: int = Field(default=1, ge=1)
    raw: str = ""  # hex

    def raw_bytes(self) -> bytes:
        return bytes.fromhex(self.raw)[:MAX_RAW]


class BadEvents(ValueError):
    """A batch with an event that is not one; one ``events[i].field: problem`` per line."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def parse(events: Iterable[Any]) -> list[EventIn]:
    """Every event of a batch checked, or :class:`BadEvents` naming each problem (nothing is stored)."""
    out, errors = [], []
    for i, ev in enumerate(events):
        try:
            item = EventIn.model_validate(ev)
            item.raw_bytes()
            out.append(item)
        except ValidationError as exc:
            errors += [f"events[{i}].{'.'.join(map(str, e['loc'])) or '-'}: {e['msg']}" for e in exc.errors()]
        except ValueError:
            errors.append(f"events[{i}].raw: not hexadecimal")
    if errors:
        raise BadEvents(errors)
    return out


def store(db: sqlite_utils.Database, agent: str, epoch: str, seq: int, events: Iterable[Any],
          site_of: Mapping[str, str], now: float) -> int:
    """Store the events of batch (agent, epoch, seq) once each; the number newly stored.

    All or nothing: a bad event refuses the batch (:class:`BadEvents`) and stores none.
    ``site_of``: device -> inventory site (an unknown device gets no site: province only).
    """
    checked = parse(events)
    rows = [(agent, str(epoch), int(seq), i, e.time, now, e.source, e.device,
             site_of.get(e.device) if e.device else None, e.kind, e.subject, e.severity, e.origin,
             e.clears, e.count, e.text[:MAX_TEXT], e.raw_bytes()) for i, e in enumerate(checked)]
    with transaction(db):
        before = db.conn.total_changes
        db.conn.executemany(
            "INSERT OR IGNORE INTO event_log (agent, epoch, seq, idx, ts, received_ts, source, device, site,"
            " kind, subject, severity, origin, clears, count, text, raw)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        return db.conn.total_changes - before


def retention_days() -> float:
    return env_number(RETENTION_DAYS_ENV, DEFAULT_RETENTION_DAYS, minimum=1.0)


def expire(db: sqlite_utils.Database, now: float, days: float | None = None) -> int:
    """Delete events older than ``days`` (default ``NMS_EVENT_RETENTION_DAYS``, 90); how many."""
    cutoff = now - (retention_days() if days is None else days) * 86400
    with transaction(db):
        return db.execute("DELETE FROM event_log WHERE ts < ?", (cutoff,)).rowcount


@dataclass(frozen=True)
class Query:
    """A search of the log; ``sites`` None = every site (and events without one)."""

    sites: frozenset[str] | None = None
    device: str | None = None
    kinds: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    origin: str | None = None
    since: float | None = None
    until: float | None = None
    text: str | None = None  # substring of text, subject or source

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.sites is not None:
            clauses.append(f"site IN ({','.join('?' * len(self.sites))})" if self.sites else "1 = 0")
            params += sorted(self.sites)
        for column, values in (("kind", self.kinds), ("severity", self.severities)):
            if values:
                clauses.append(f"{column} IN ({','.join('?' * len(values))})")
                params += values
        for column, value in (("device", self.device), ("origin", self.origin)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if self.since is not None:
            clauses.append("ts >= ?")
            params.append(self.since)
        if self.until is not None:
            clauses.append("ts < ?")
            params.append(self.until)
        if self.text:
            like = "%" + self.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            # lower() on both sides: SQLite's LIKE ignores ASCII case, PostgreSQL's does not
            matches = (f"lower({c}) LIKE lower(?) ESCAPE '\\'" for c in TEXT_COLUMNS)
            clauses.append("(" + " OR ".join(matches) + ")")
            params += [like] * len(TEXT_COLUMNS)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def search(db: sqlite_utils.Database, q: Query, limit: int | None = 200,
           offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """(rows newest first, total matching) of one page."""
    where, params = q.where()
    total = db.execute(f"SELECT count(*) FROM event_log{where}", params).fetchone()[0]
    sql = f"SELECT {', '.join(COLUMNS)} FROM event_log{where} ORDER BY ts DESC, id DESC"
    if limit is not None:
        sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
    return list(db.query(sql, params)), total


def recent(db: sqlite_utils.Database, since: float, kinds: Iterable[str] | None = None,
           sites: frozenset[str] | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    """Events received at or after ``since`` (of ``kinds``; ``sites`` None = all), newest first:
    the wall's ticker and the suspect marks read this."""
    q = Query(sites=sites, kinds=tuple(kinds or ()), since=since)
    return search(db, q, limit=limit)[0]


def per_device(db: sqlite_utils.Database, kinds: Iterable[str], since: float) -> list[dict[str, Any]]:
    """{device, site, n, first, last, text} per device with events of ``kinds`` since ``since``:
    ``n`` counts what flood control folded too; ``text`` is the newest event's."""
    kinds = list(kinds)
    marks = ",".join("?" * len(kinds))
    return list(db.query(
        "SELECT device, MAX(site) AS site, SUM(count) AS n, MIN(ts) AS first, MAX(ts) AS last,"
        " (SELECT text FROM event_log e2 WHERE e2.device = e.device AND e2.kind IN"
        f" ({marks}) AND e2.ts >= ? ORDER BY ts DESC LIMIT 1) AS text"
        f" FROM event_log e WHERE kind IN ({marks}) AND ts >= ? AND device IS NOT NULL GROUP BY device",
        [*kinds, since, *kinds, since],
    ))


def to_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """CSV with a header row and UTC ISO times; cells that start like a formula are quoted
    (a syslog line is text a device, or whoever spoofs one, chose)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        when = datetime.fromtimestamp(r["ts"], UTC).isoformat(timespec="seconds")
        writer.writerow([_safe_cell(c) for c in (when, *(r[k] for k in CSV_COLUMNS[1:]))])
    return buf.getvalue()


__all__ = ["SEVERITIES", "BadEvents", "Query", "ensure_schema", "expire", "per_device", "recent", "search",
           "store", "to_csv"]
