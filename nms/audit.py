"""Append-only audit log: who, when, from where, what (before and after), why.

Every change to accounts, roles, addresses, alerts, maintenance windows and device
configuration calls :func:`record`.  Rows are never updated or deleted: triggers
refuse it, so even a bug elsewhere cannot rewrite history.
"""

from __future__ import annotations

import json
import time
from typing import Any

from nms.db import Database


def ensure_schema(db: Database) -> None:
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
            reason TEXT,
            site TEXT
        )"""
    )
    columns = set(db.columns("audit_log"))
    if "site" not in columns:  # a log written before rows carried their site: those stay province-only
        db.execute("ALTER TABLE audit_log ADD COLUMN site TEXT")
    db.execute("CREATE INDEX IF NOT EXISTS audit_log_ts ON audit_log(ts)")
    db.execute("CREATE INDEX IF NOT EXISTS audit_log_target ON audit_log(target)")
    if getattr(db, "engine", "sqlite") == "postgresql":  # a bare sqlite-utils Database is SQLite
        db.execute(
            """CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$
               BEGIN RAISE EXCEPTION 'audit_log is append-only'
                     USING ERRCODE = 'integrity_constraint_violation';
               END $$ LANGUAGE plpgsql"""
        )
        for op in ("update", "delete"):
            db.execute(f"DROP TRIGGER IF EXISTS audit_log_no_{op} ON audit_log")
            db.execute(
                f"""CREATE TRIGGER audit_log_no_{op} BEFORE {op.upper()} ON audit_log
                    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"""
            )
        return
    for op in ("update", "delete"):
        db.execute(
            f"""CREATE TRIGGER IF NOT EXISTS audit_log_no_{op} BEFORE {op.upper()} ON audit_log
               BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"""
        )


def _dump(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def record(
    db: Database,
    actor: str,
    action: str,
    target: str,
    before: Any = None,
    after: Any = None,
    reason: str | None = None,
    source_ip: str | None = None,
    site: str | None = None,
) -> int:
    """Append one entry; runs inside the caller's transaction if one is open.

    ``site`` is the site of the entry's subject: administrators see the rows of
    their scope only, and a row without a site is the province administrators'.
    """
    cur = db.execute(
        "INSERT INTO audit_log (ts, actor, source_ip, action, target, before, after, reason, site)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (time.time(), actor, source_ip, action, target, _dump(before), _dump(after), reason, site),
    )
    return int(cur.fetchone()[0])


AUDIT_COLUMNS = ("id", "ts", "actor", "source_ip", "action", "target", "before", "after", "reason", "site")


def query(
    db: Database,
    *,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    since: float | None = None,
    until: float | None = None,
    sites: set[str] | frozenset[str] | None = None,
    limit: int | None = 1000,
) -> list[dict[str, Any]]:
    """Entries newest first; ``action`` and ``target`` match as prefixes ("user." , "user:bob").

    ``sites`` (None = every row) keeps the rows filed under one of those sites only.
    """
    where: list[str] = []
    params: list[Any] = []
    if sites is not None:
        where.append(f"site IN ({', '.join('?' * len(sites))})" if sites else "1 = 0")
        params.extend(sorted(sites))
    if actor:
        where.append("actor = ?")
        params.append(actor)
    if action:
        where.append("lower(action) LIKE lower(?) ESCAPE '\\'")  # case-blind on both engines
        params.append(_prefix(action))
    if target:
        where.append("lower(target) LIKE lower(?) ESCAPE '\\'")
        params.append(_prefix(target))
    if since is not None:
        where.append("ts >= ?")
        params.append(since)
    if until is not None:
        where.append("ts < ?")
        params.append(until)
    sql = "SELECT * FROM audit_log"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY id DESC"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return list(db.query(sql, params))


def _prefix(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def to_csv(rows: list[dict[str, Any]]) -> str:
    """CSV with a header row and UTC ISO timestamps; cells that start like a formula are quoted."""
    import csv
    import io
    from datetime import UTC, datetime

    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(("id", "time_utc", *AUDIT_COLUMNS[2:]))
    for row in rows:
        when = datetime.fromtimestamp(row["ts"], UTC).isoformat(timespec="seconds")
        cells = [row["id"], when] + [row[c] for c in AUDIT_COLUMNS[2:]]
        writer.writerow([_safe_cell(c) for c in cells])
    return buf.getvalue()


def _safe_cell(value: Any) -> Any:
    """Stop spreadsheet formula injection from an actor name or reason someone typed."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
