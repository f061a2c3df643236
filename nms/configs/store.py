"""Versions, fetch status and config events in centre.db (tables ``config_*``).

* ``config_versions``: one row per *different* configuration of a device: the exact
  text as fetched (restorable, secrets included), its sha256, the hash of the
  normalised text (volatile lines removed) that change detection compares, the
  time and who or what triggered the fetch.
* ``config_status``: one row per device: last attempt, last success, last error,
  consecutive failures and when to retry.
* ``config_events``: what the alert rules consume (see docs/configs.md):
  ``changed``, ``baseline``, ``hostkey_changed``, ``fetch_failed``.

Every write happens in one transaction together with its ``nms.audit`` entry.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from nms import audit
from nms.configs import hostkeys, masking, vendors
from nms.configs.fetch import FetchResult, Target
from nms.db import Database, transaction


def ensure_schema(db: Database) -> None:
    audit.ensure_schema(db)
    hostkeys.ensure_schema(db)
    db.execute(
        """CREATE TABLE IF NOT EXISTS config_versions (
            id INTEGER PRIMARY KEY,
            device TEXT NOT NULL,
            version INTEGER NOT NULL,
            ts REAL NOT NULL,
            device_type TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            normalised_sha256 TEXT NOT NULL,
            size INTEGER NOT NULL,
            content TEXT NOT NULL,
            trigger TEXT NOT NULL,
            UNIQUE (device, version)
        )"""
    )
    db.execute(
        """CREATE TABLE IF NOT EXISTS config_status (
            device TEXT PRIMARY KEY,
            site TEXT,
            device_type TEXT,
            host TEXT,
            port INTEGER,
            last_attempt REAL,
            last_success REAL,
            last_result TEXT,
            last_error TEXT,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            next_retry REAL,
            last_version_id INTEGER REFERENCES config_versions(id)
        )"""
    )
    db.execute(
        """CREATE TABLE IF NOT EXISTS config_events (
            id INTEGER PRIMARY KEY,
            ts REAL NOT NULL,
            device TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('changed', 'baseline', 'hostkey_changed', 'fetch_failed')),
            version_id INTEGER REFERENCES config_versions(id),
            previous_version_id INTEGER REFERENCES config_versions(id),
            detail TEXT
        )"""
    )
    db.execute("CREATE INDEX IF NOT EXISTS config_events_ts ON config_events(ts)")


@dataclass(frozen=True)
class Outcome:
    device: str
    status: str  # "new" (first version), "changed", "unchanged", or "failed"
    version_id: int | None = None
    version: int | None = None
    error: str | None = None


def latest(db: Database, device: str) -> dict[str, Any] | None:
    rows = list(db.query(
        "SELECT * FROM config_versions WHERE device = ? ORDER BY version DESC LIMIT 1", [device]))
    return rows[0] if rows else None


def _event(db: Database, device: str, kind: str, version_id: int | None = None,
           previous_version_id: int | None = None, detail: dict[str, Any] | None = None) -> None:
    db.execute(
        "INSERT INTO config_events (ts, device, kind, version_id, previous_version_id, detail)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (time.time(), device, kind, version_id, previous_version_id,
         json.dumps(detail, ensure_ascii=False) if detail is not None else None),
    )


def _status(db: Database, target: Target, **fields: Any) -> None:
    base = {"device": target.device, "site": target.site, "device_type": target.device_type,
            "host": target.host, "port": target.port}
    base.update(fields)
    cols = ", ".join(base)
    marks = ", ".join("?" for _ in base)
    updates = ", ".join(f"{c} = excluded.{c}" for c in base if c != "device")
    db.execute(
        f"INSERT INTO config_status ({cols}) VALUES ({marks}) ON CONFLICT(device) DO UPDATE SET {updates}",
        list(base.values()),
    )


def record(db: Database, target: Target, result: FetchResult, trigger: str,
           retry_s: float = 300.0, now: float | None = None) -> Outcome:
    """Store one fetch result: a new version only if the normalised text changed."""
    now = time.time() if now is None else now
    if not result.ok:
        return _record_failure(db, target, result, trigger, retry_s, now)
    assert result.content is not None
    spec = vendors.spec_for(target.device_type)
    normalised_hash = masking.content_hash(masking.normalise(result.content, spec.volatile))
    with transaction(db):
        if result.host_key is not None:
            pinned = hostkeys.pins(db).get(target.device)
            if pinned is None:
                hostkeys.pin(db, target.device, target.host, target.port, result.host_key, trigger,
                             site=target.site)
            else:
                hostkeys.mark_verified(db, target.device)
        prev = latest(db, target.device)
        if prev is not None and prev["normalised_sha256"] == normalised_hash:
            _status(db, target, last_attempt=now, last_success=now, last_result="unchanged",
                    last_error=None, consecutive_failures=0, next_retry=None, last_version_id=prev["id"])
            return Outcome(target.device, "unchanged", prev["id"], prev["version"])
        version = 1 if prev is None else prev["version"] + 1
        sha = masking.content_hash(result.content)
        cur = db.execute(
            "INSERT INTO config_versions (device, version, ts, device_type, sha256, normalised_sha256, size,"
            " content, trigger) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (target.device, version, now, target.device_type, sha, normalised_hash,
             len(result.content.encode("utf-8")), result.content, trigger),
        )
        version_id = int(cur.fetchone()[0])
        kind = "baseline" if prev is None else "changed"
        _event(db, target.device, kind, version_id, prev["id"] if prev else None,
               {"version": version, "sha256": sha, "trigger": trigger})
        audit.record(db, trigger, "configs.version.store", f"device:{target.device}",
                     before={"version": prev["version"], "sha256": prev["sha256"]} if prev else None,
                     after={"version": version, "sha256": sha, "size": len(result.content)}, site=target.site)
        _status(db, target, last_attempt=now, last_success=now, last_result=kind, last_error=None,
                consecutive_failures=0, next_retry=None, last_version_id=version_id)
    return Outcome(target.device, "new" if prev is None else "changed", version_id, version)


def _record_failure(db: Database, target: Target, result: FetchResult, trigger: str,
                    retry_s: float, now: float) -> Outcome:
    with transaction(db):
        row = db.execute(
            "SELECT consecutive_failures FROM config_status WHERE device = ?", (target.device,)
        ).fetchone()
        failures = (row[0] if row else 0) + 1
        # Back off exponentially, at most a day, so a dead box is retried but not hammered.
        next_retry = now + min(retry_s * 2 ** (failures - 1), 86400.0)
        if result.hostkey_changed:
            pinned = hostkeys.pins(db).get(target.device)
            _event(db, target.device, "hostkey_changed", detail={
                "host": target.host, "port": target.port,
                "pinned": pinned.fingerprint if pinned else None,
                "presented": result.host_key.fingerprint if result.host_key else None,
                "presented_type": result.host_key.key_type if result.host_key else None})
        elif failures == 1:  # report the transition to failing once, not every retry
            _event(db, target.device, "fetch_failed", detail={"error": result.error, "trigger": trigger})
        _status(db, target, last_attempt=now, last_result="failed", last_error=result.error,
                consecutive_failures=failures, next_retry=next_retry)
    return Outcome(target.device, "failed", error=result.error)


def reset_hostkey(db: Database, device: str, actor: str, reason: str | None = None) -> bool:
    """Forget a device's pinned key so the next fetch pins the new one; audited."""
    with transaction(db):
        before = hostkeys.forget(db, device)
        if before is None:
            return False
        audit.record(db, actor, "configs.hostkey.reset", f"device:{device}", before=before, reason=reason,
                     site=device_site(db, device)[1])
    return True


def device_site(db: Database, device: str) -> tuple[bool, str | None]:
    """(whether the centre holds anything of ``device``, its site as of the last fetch)."""
    row = db.execute("SELECT site FROM config_status WHERE device = ?", (device,)).fetchone()
    if row is not None:
        return True, row[0]
    known = db.execute("SELECT 1 FROM config_versions WHERE device = ? LIMIT 1", (device,)).fetchone()
    return known is not None, None


def fetch_times(db: Database) -> dict[str, dict[str, Any]]:
    """{device: last_attempt, last_success, next_retry, consecutive_failures}: what the scheduler needs."""
    return {r["device"]: r for r in db.query(
        "SELECT device, last_attempt, last_success, next_retry, consecutive_failures FROM config_status")}


@dataclass(frozen=True)
class EventRun:
    """A device's config events of some kinds since a time: first, last, how many, the newest one's kind."""

    device: str
    first: float
    last: float
    count: int
    kind: str


def event_runs(db: Database, since: float, kinds: Iterable[str]) -> list[EventRun]:
    """Per device, its events of ``kinds`` newer than ``since`` (read by the ``config_event`` rule)."""
    kinds = list(kinds)
    marks = ",".join("?" * len(kinds))
    rows = db.execute(
        "SELECT device, MIN(ts), MAX(ts), COUNT(*),"
        " (SELECT kind FROM config_events l WHERE l.device = c.device AND l.ts > ?"
        f" AND l.kind IN ({marks}) ORDER BY l.ts DESC, l.id DESC LIMIT 1)"
        f" FROM config_events c WHERE ts > ? AND kind IN ({marks}) GROUP BY device ORDER BY device",
        (since, *kinds, since, *kinds),
    ).fetchall()
    return [EventRun(*r) for r in rows]


def status(db: Database) -> list[dict[str, Any]]:
    return list(db.query(
        "SELECT s.*, v.version AS last_version, v.ts AS last_version_ts,"
        " (SELECT COUNT(*) FROM config_versions c WHERE c.device = s.device) AS versions"
        " FROM config_status s LEFT JOIN config_versions v ON v.id = s.last_version_id ORDER BY s.device"))


def versions(db: Database, device: str) -> list[dict[str, Any]]:
    return list(db.query(
        "SELECT id, device, version, ts, device_type, sha256, size, trigger FROM config_versions"
        " WHERE device = ? ORDER BY version DESC", [device]))


def get_version(db: Database, version_id: int) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM config_versions WHERE id = ?", [version_id]))
    return rows[0] if rows else None


def events(db: Database, since_id: int = 0, limit: int = 500) -> list[dict[str, Any]]:
    return list(db.query(
        "SELECT * FROM config_events WHERE id > ? ORDER BY id LIMIT ?", [since_id, limit]))
