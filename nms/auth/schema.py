"""The ``auth_*`` tables, created idempotently."""

from __future__ import annotations

from nms import audit
from nms.db import Database


def ensure_schema(db: Database) -> None:
    db.execute(
        """CREATE TABLE IF NOT EXISTS auth_users (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            password_hash TEXT NOT NULL,
            role TEXT NOT NULL,
            site TEXT NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0,
            session_gen INTEGER NOT NULL DEFAULT 0,
            created_ts REAL NOT NULL,
            updated_ts REAL NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE IF NOT EXISTS auth_tokens (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('agent', 'user', 'kiosk')),
            subject TEXT,
            site TEXT,
            token_hash TEXT NOT NULL UNIQUE,
            label TEXT,
            created_ts REAL NOT NULL,
            created_by TEXT NOT NULL,
            expires_ts REAL,
            revoked_ts REAL,
            revoked_by TEXT,
            last_used_ts REAL
        )"""
    )
    db.execute(
        """CREATE TABLE IF NOT EXISTS auth_login_failures (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL,
            ts REAL NOT NULL
        )"""
    )
    db.execute("CREATE INDEX IF NOT EXISTS auth_login_failures_key ON auth_login_failures(key, ts)")
    audit.ensure_schema(db)


def add_secrets(db: Database) -> None:
    """Version 2: keys every centre process on a shared database must agree on (nms.auth.secret)."""
    db.execute(
        """CREATE TABLE IF NOT EXISTS auth_secrets (
            name TEXT PRIMARY KEY,
            value BLOB NOT NULL,
            created_ts REAL NOT NULL
        )"""
    )
