"""Append-only audit log: who, when, from where, what (before and after), why.

Every change to accounts, roles, addresses, alerts, maintenance windows and device
configuration calls :func:`record`.  Rows are never updated or deleted: triggers
refuse it, so even a bug elsewhere cannot rewrite history.
"""

from __future__ import annotations

import json
import time
from typing import Any

import sqlite_utils


def ensure_schema(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE IF NOT EXISTS audit_log (
            id INTEGER PRIMARY KEY,
            ts REAL NOT NULL,
            actor TEXT NOT NULL,
            source_ip TEXT,
            action TEXT NOT NULL,
            target TEXT NOT NULL,
            before TEXT,
            after TEXT,
            reason TEXT
        )"""
    )
    db.execute("CREATE INDEX IF NOT EXISTS audit_log_ts ON audit_log(ts)")
    db.execute("CREATE INDEX IF NOT EXISTS audit_log_target ON audit_log(target)")
    db.execute(
        """CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
           BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"""
    )
    db.execute(
        """CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
           BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"""
    )


def _dump(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def record(
    db: sqlite_utils.Database,
    actor: str,
    action: str,
    target: str,
    before: Any = None,
    after: Any = None,
    reason: str | None = None,
    source_ip: str | None = None,
) -> int:
    """Append one entry; runs inside the caller's transaction if one is open."""
    ensure_schema(db)
    cur = db.execute(
        "INSERT INTO audit_log (ts, actor, source_ip, action, target, before, after, reason)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (time.time(), actor, source_ip, action, target, _dump(before), _dump(after), reason),
    )
    return int(cur.lastrowid)
