"""The centre's databases, on SQLite files (the default) or on PostgreSQL (``NMS_DATABASE_URL``).

Every module reaches its tables through :func:`connect` or :func:`request_db` and writes
plain SQL in the dialect both engines share: ``?`` placeholders, ``INSERT ... ON CONFLICT``,
``RETURNING``, ``COALESCE``.  What only SQLite spells (``BEGIN IMMEDIATE``, ``INSERT OR
IGNORE/REPLACE``, ``PRAGMA table_info``, ``INTEGER``/``REAL``/``BLOB`` column types,
``WITHOUT ROWID``) is translated for PostgreSQL in one place, :mod:`nms.dbpg`, so each
module keeps one code path.  Locks go through named helpers: :func:`transaction` (one
writer at a time per database, as SQLite does), and :mod:`nms.leader` for background jobs.

Web code gets its database from :func:`request_db` (opened on first use in a request,
closed at teardown by :func:`init_app`); nothing on a request path makes tables, that is
done once by :func:`nms.schema.migrate` when the app or a command starts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import sqlite_utils
from flask import Flask, current_app, g

from nms.config import Settings

DATABASES = ("centre", "metrics")


class SqliteDatabase(sqlite_utils.Database):
    """sqlite-utils' Database plus the few calls the PostgreSQL side answers the same way."""

    engine = "sqlite"

    def __init__(self, conn: sqlite3.Connection, name: str = "centre") -> None:
        super().__init__(conn)
        self.name = name

    def columns(self, table: str) -> list[str]:
        """Column names of ``table`` in order (empty when it does not exist)."""
        return [r[1] for r in self.execute(f"PRAGMA table_info({table})").fetchall()]

    def close(self) -> None:
        self.conn.close()


class Database(Protocol):
    """What callers annotate with: either engine's database answers these calls the same way."""

    engine: str  # "sqlite" or "postgresql"
    name: str  # "centre" or "metrics"
    conn: Any  # sqlite3.Connection or nms.dbpg.PgConnection: execute, executemany, in_transaction

    def execute(self, sql: str, parameters: Any = ...) -> Any: ...
    def query(self, sql: str, params: Any = ...) -> Iterator[dict[str, Any]]: ...
    def table_names(self) -> list[str]: ...
    def columns(self, table: str) -> list[str]: ...
    def close(self) -> None: ...


IntegrityErrors: tuple[type[Exception], ...] = (sqlite3.IntegrityError,)
# Any error of either engine (unreachable, damaged, a missing table): for checks that report it.
DatabaseErrors: tuple[type[Exception], ...] = (sqlite3.Error,)
try:  # psycopg is in requirements.txt; SQLite-only installs still import this module
    import psycopg

    IntegrityErrors = (sqlite3.IntegrityError, psycopg.errors.IntegrityError)
    DatabaseErrors = (sqlite3.Error, psycopg.Error)
except ImportError:  # pragma: no cover - only without psycopg
    psycopg = None  # type: ignore[assignment]


def memory(name: str = "centre") -> SqliteDatabase:
    """A scratch SQLite database in memory (explicit transactions, as :func:`connect` gives)."""
    return SqliteDatabase(sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False), name)


def is_integrity_error(exc: BaseException) -> bool:
    """A unique/foreign-key/check violation on either engine."""
    return isinstance(exc, IntegrityErrors)


def connect(settings: Settings, name: str = "centre", *, check_same_thread: bool = False) -> Database:
    """Open database ``name``: a pooled PostgreSQL connection when ``settings.database_url``
    is set, else ``<data_dir>/<name>.db`` in WAL mode.

    On SQLite, WAL lets the dashboard read while ingest writes; ``busy_timeout`` makes writers
    queue instead of failing; ``isolation_level=None`` leaves transactions explicit.  On
    PostgreSQL both names live in the one database (their tables do not overlap).
    """
    if name not in DATABASES:
        raise ValueError(f"unknown database {name!r}; expected one of {DATABASES}")
    if settings.database_url:
        from nms.dbpg import connect_pg

        return connect_pg(settings.database_url, name)
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
    return SqliteDatabase(conn, name)


def where(settings: Settings, name: str = "centre") -> str:
    """Where database ``name`` lives, as shown to people: its file, or the URL without password."""
    if settings.database_url:
        from nms.dbpg import display_url

        return display_url(settings.database_url)
    return str(settings.data_dir / f"{name}.db")  # not settings.path: that makes the directory


def open_read_only(settings: Settings, name: str = "centre") -> Database:
    """Database ``name`` to look at only (``nms doctor``): the SQLite file opened read-only, so
    never created, or one PostgreSQL connection outside the pool that gives up quickly."""
    if settings.database_url:
        from nms.dbpg import connect_once

        return connect_once(settings.database_url, name)
    path = settings.data_dir / f"{name}.db"
    return SqliteDatabase(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10), name)


@contextmanager
def transaction(db: Any) -> Iterator[Any]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any error: one writer at a time.

    Connections here run with explicit transactions (``isolation_level=None`` on SQLite,
    autocommit on PostgreSQL, where ``BEGIN IMMEDIATE`` takes the database's writer lock).
    Inside a transaction the caller already opened, this joins it: the outer caller commits
    or rolls back.
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
def read_snapshot(conn: Any) -> Iterator[Any]:
    """One read transaction: every read inside sees the same snapshot (REPEATABLE READ on PostgreSQL)."""
    conn.execute("BEGIN SNAPSHOT" if getattr(conn, "engine", "sqlite") == "postgresql" else "BEGIN")
    try:
        yield conn
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")


@contextmanager
def trial(db: Any) -> Iterator[Any]:
    """``BEGIN IMMEDIATE`` ... ``ROLLBACK`` always: run writes to see what they would do, keep nothing.

    Unlike :func:`transaction` it cannot join an open transaction (it would undo the caller's work).
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    finally:
        if db.conn.in_transaction:
            db.execute("ROLLBACK")


def request_db(name: str = "centre") -> Database:
    """Database ``name`` for the current request: one connection per request, shared by every blueprint."""
    handles: dict[str, Any] = g.setdefault("_nms_dbs", {})
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
