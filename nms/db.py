"""Opening the centre's SQLite databases, always with the same pragmas."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import sqlite_utils

from nms.config import Settings

DATABASES = ("centre", "metrics")


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
