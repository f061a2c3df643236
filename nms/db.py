"""Opening the centre's SQLite databases: the same pragmas, one transaction helper, one handle per request.

Web code gets its database from :func:`request_db` (opened on first use in a request,
closed at teardown by :func:`init_app`); nothing on a request path makes tables, that is
done once by :func:`nms.schema.migrate` when the app or a command starts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import sqlite_utils
from flask import Flask, current_app, g

from nms.config import Settings

DATABASES = ("centre", "metrics")
# Pages of write-ahead log past which a commit checkpoints it itself (SQLite's default: 1000).
# centre.db's is checkpointed in the background by nms.walcheck (nms serve), so a request
# pays for a checkpoint (two fsyncs) only past this larger bound.
WAL_AUTOCHECKPOINT = {"centre": 10_000}


def connect(
    settings: Settings, name: str = "centre", *, check_same_thread: bool = False
) -> sqlite_utils.Database:
    """Return a sqlite-utils Database on ``<data_dir>/<name>.db`` in WAL mode.

    WAL lets the dashboard read while ingest writes; ``busy_timeout`` makes writers
    queue instead of failing; ``isolation_level=None`` leaves transactions explicit.
    """
    if name not in DATABASES:
        raise ValueError(f"unknown database {name!r}; expected one of {DATABASES}")
    conn = sqlite3.connect(
        str(settings.path(f"{name}.db")),
        timeout=30,
        isolation_level=None,
        check_same_thread=check_same_thread,
    )
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    if name in WAL_AUTOCHECKPOINT:
        conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT[name]}")
    return sqlite_utils.Database(conn)


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any error.

    Connections here run with ``isolation_level=None`` (explicit transactions), where
    ``with conn:`` does not begin one.  Inside a transaction the caller already opened,
    this joins it: the outer caller commits or rolls back.
    """
    if db.conn.in_transaction:
        yield db
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if db.conn.in_transaction:
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


@contextmanager
def read_snapshot(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One read transaction (``BEGIN`` ... ``COMMIT``): every read inside sees the same snapshot."""
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")


@contextmanager
def trial(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """``BEGIN IMMEDIATE`` ... ``ROLLBACK`` always: run writes to see what they would do, keep nothing.

    Unlike :func:`transaction` it cannot join an open transaction (it would undo the caller's work).
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    finally:
        if db.conn.in_transaction:
            db.execute("ROLLBACK")


def request_db(name: str = "centre") -> sqlite_utils.Database:
    """Database ``name`` for the current request: one connection per request, shared by every blueprint."""
    handles: dict[str, sqlite_utils.Database] = g.setdefault("_nms_dbs", {})
    db = handles.get(name)
    if db is None:
        db = handles[name] = connect(current_app.config["NMS_SETTINGS"], name)
    return db


def close_request_dbs(_exc: BaseException | None = None) -> None:
    """Close this request's connections (teardown; a transaction left open is rolled back by close)."""
    for db in g.pop("_nms_dbs", {}).values():
        db.conn.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_request_dbs)
