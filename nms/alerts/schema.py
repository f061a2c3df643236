"""The ``alert_*`` tables in centre.db (idempotent; safe inside a caller's transaction)."""

from __future__ import annotations

from nms import maintenance
from nms.db import Database
from nms.store import run_ddl


def ensure_schema(db: Database) -> None:
    maintenance.ensure_schema(db)
    run_ddl(
        db,
        """
        CREATE TABLE IF NOT EXISTS alert_alerts (
            id INTEGER PRIMARY KEY,
            rule TEXT NOT NULL, severity TEXT NOT NULL,
            subject_kind TEXT NOT NULL, subject_id TEXT NOT NULL, subject_name TEXT, site TEXT,
            state TEXT NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
            started_ts REAL NOT NULL, fired_ts REAL, resolved_ts REAL, last_seen_ts REAL,
            summary TEXT, reason TEXT, value REAL,
            flapping INTEGER NOT NULL DEFAULT 0, notified INTEGER NOT NULL DEFAULT 0,
            ack_by TEXT, ack_ts REAL, ack_note TEXT, assignee TEXT,
            escalation_step INTEGER NOT NULL DEFAULT 0,
            muted TEXT, root_id INTEGER, children TEXT, children_count INTEGER NOT NULL DEFAULT 0);
        CREATE UNIQUE INDEX IF NOT EXISTS alert_alerts_open
            ON alert_alerts (rule, subject_kind, subject_id) WHERE state != 'resolved';
        CREATE INDEX IF NOT EXISTS alert_alerts_state ON alert_alerts (state, started_ts);
        CREATE INDEX IF NOT EXISTS alert_alerts_subject
            ON alert_alerts (subject_kind, subject_id, resolved_ts);
        CREATE TABLE IF NOT EXISTS alert_history (
            id INTEGER PRIMARY KEY, alert_id INTEGER NOT NULL, ts REAL NOT NULL,
            event TEXT NOT NULL, detail TEXT, actor TEXT);
        CREATE INDEX IF NOT EXISTS alert_history_alert ON alert_history (alert_id, ts);
        CREATE TABLE IF NOT EXISTS alert_comments (
            id INTEGER PRIMARY KEY, alert_id INTEGER NOT NULL, ts REAL NOT NULL,
            actor TEXT NOT NULL, text TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS alert_silences (
            id INTEGER PRIMARY KEY, rule TEXT NOT NULL, subject_kind TEXT NOT NULL, subject_id TEXT NOT NULL,
            start REAL NOT NULL, until REAL NOT NULL, created_by TEXT, note TEXT);
        CREATE TABLE IF NOT EXISTS alert_maint_modes (
            window_id INTEGER PRIMARY KEY, mode TEXT NOT NULL CHECK (mode IN ('mute', 'skip')));
        CREATE TABLE IF NOT EXISTS alert_notifications (
            id INTEGER PRIMARY KEY, alert_id INTEGER NOT NULL, channel TEXT NOT NULL, recipient TEXT NOT NULL,
            event TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'queued', attempts INTEGER NOT NULL DEFAULT 0,
            created_ts REAL NOT NULL, last_ts REAL, next_ts REAL, last_error TEXT, payload TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS alert_notifications_due ON alert_notifications (status, next_ts);
        CREATE INDEX IF NOT EXISTS alert_notifications_alert ON alert_notifications (alert_id);
        CREATE INDEX IF NOT EXISTS alert_notifications_rcpt
            ON alert_notifications (channel, recipient, last_ts);
        CREATE TABLE IF NOT EXISTS alert_notification_log (
            id INTEGER PRIMARY KEY, notification_id INTEGER NOT NULL, ts REAL NOT NULL,
            ok INTEGER NOT NULL, detail TEXT);
        CREATE INDEX IF NOT EXISTS alert_notification_log_n ON alert_notification_log (notification_id);
        """,
    )


def add_eval_generation(db: Database) -> None:
    """Version 2: ``alert_eval``, one row counting committed evaluations.

    An evaluation reads its conditions outside the writer lock and commits only if nobody
    committed one since (compare-and-set on ``generation``): two evaluators that overlap by
    accident (two centres, a manual ``nms alerts eval``) never apply conditions older than
    what the other already wrote, so a fresh alert is never resolved and reopened, paging twice.
    """
    db.execute(
        "CREATE TABLE IF NOT EXISTS alert_eval ("
        " id INTEGER PRIMARY KEY CHECK (id = 1), generation INTEGER NOT NULL, ts REAL)"
    )
    db.execute("INSERT OR IGNORE INTO alert_eval (id, generation) VALUES (1, 0)")
