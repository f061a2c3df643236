"""Copy a centre's SQLite files into an empty PostgreSQL database (``nms db copy``).

The order matters, and each step can be checked:

1. the source files must be at today's schema (``nms migrate`` with ``NMS_DATABASE_URL``
   unset) and are only ever opened read-only: they stay exactly as they were;
2. the target must be empty: any table holding more than what migrations themselves put
   there (the default IPAM spaces) refuses the copy, naming the table;
3. the target is migrated (the same steps that built the SQLite files);
4. every table of ``centre.db`` and ``metrics.db`` is streamed in batches through ``COPY``,
   all in ONE transaction (a failure leaves the target migrated and empty, ready for another
   try), with the rows a migration seeded replaced by the source's;
5. identity sequences are moved past the copied ids (``setval`` to ``max(id)``), so new rows
   do not collide with copied ones;
6. after the commit the row count of every table is compared with the source's (counted in
   the same read snapshot the rows came from).

``schema_versions`` is not copied: the target's own migration wrote it, and both databases
record their steps in the one PostgreSQL table.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import psycopg

from nms import schema
from nms.config import Settings
from nms.db import DATABASES, SqliteDatabase, memory, read_snapshot

SKIPPED = schema.OWNERS["nms.schema"]  # the migration bookkeeping: made by the target's own


class CopyError(RuntimeError):
    """The copy was refused or failed; the message names the table and what to do."""


def _source(settings: Settings, name: str) -> sqlite3.Connection:
    path = settings.data_dir / f"{name}.db"
    if not path.exists():
        raise CopyError(f"{path}: missing (is NMS_DATA_DIR the centre's data directory?)")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30, isolation_level=None)
    db = SqliteDatabase(conn, name)
    if todo := schema.pending(db, name):
        conn.close()
        steps = ", ".join(f"{c} -> v{v}" for c, v in todo)
        raise CopyError(
            f"{path}: not at today's schema ({steps}); run `nms migrate` with NMS_DATABASE_URL unset"
        )
    return conn


def _tables(conn: sqlite3.Connection) -> list[str]:
    """The tables to copy, each after the tables its foreign keys point to."""
    names = sorted(
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        if r[0] not in SKIPPED
    )
    parents = {t: {r[2] for r in conn.execute(f'PRAGMA foreign_key_list("{t}")')} - {t} for t in names}
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [
            t for t in names if t not in ordered and parents[t] <= set(ordered) | (parents[t] - set(names))
        ]
        ordered += ready or [t for t in names if t not in ordered]  # a cycle: keep going, PostgreSQL will say
    return ordered


def seeded_counts() -> dict[str, int]:
    """Rows a fresh migration leaves in each table (what an "empty" target may hold)."""
    counts: dict[str, int] = {}
    for name in DATABASES:
        db = memory(name)
        schema.migrate_db(db, name)
        counts |= {t: db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in db.table_names()}
        db.close()
    return counts


def _pg_tables(raw: Any) -> dict[str, dict[str, str]]:
    """Every table of the target's schema: column -> data type."""
    out: dict[str, dict[str, str]] = {}
    for table, column, dtype in raw.execute(
        """SELECT table_name, column_name, data_type FROM information_schema.columns
           WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"""
    ):
        out.setdefault(table, {})[column] = dtype
    return out


def check_empty(raw: Any) -> None:
    """Refuse a target holding data (more rows than migrations themselves make)."""
    seeded = seeded_counts()
    full = []
    for table in _pg_tables(raw):
        if table in SKIPPED:
            continue
        n = raw.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
        if n > seeded.get(table, 0):
            full.append(f"{table} ({n} rows)")
    if full:
        raise CopyError(
            "the target database is not empty: "
            + ", ".join(full[:6])
            + (" ..." if len(full) > 6 else "")
            + "; copy only into a new, empty database (createdb), nothing there is changed"
        )


def _converter(dtype: str, table: str, column: str) -> Callable[[Any], Any] | None:
    """SQLite stores what it is given; PostgreSQL's column types are strict.  Whole floats
    in integer columns become ints, text in bytea columns its UTF-8 bytes; anything else
    that does not fit is an error naming the row's table and column."""
    if dtype in ("bigint", "integer", "smallint"):

        def to_int(v: Any) -> Any:
            if isinstance(v, float):
                if not v.is_integer():
                    raise CopyError(f"{table}.{column}: {v!r} in an integer column (a module stored a float)")
                return int(v)
            return v

        return to_int
    if dtype == "bytea":
        return lambda v: v.encode() if isinstance(v, str) else v
    if dtype == "text":

        def to_text(v: Any) -> Any:
            if isinstance(v, bytes):
                raise CopyError(f"{table}.{column}: bytes in a text column (a module stored a blob)")
            return str(v) if isinstance(v, int | float) else v

        return to_text
    return None


def _copy_table(
    src: sqlite3.Connection, raw: Any, table: str, target_cols: dict[str, str], batch: int
) -> None:
    cols = [r[1] for r in src.execute(f'PRAGMA table_info("{table}")')]
    missing = [c for c in cols if c not in target_cols]
    if missing:
        raise CopyError(f"{table}: the target has no column {', '.join(missing)} (is it at today's schema?)")
    convs = [(i, f) for i, c in enumerate(cols) if (f := _converter(target_cols[c], table, c)) is not None]
    names = ", ".join(f'"{c}"' for c in cols)
    cur = src.execute(f'SELECT {names} FROM "{table}"')
    with raw.cursor() as pg, pg.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
        while rows := cur.fetchmany(batch):
            for row in rows:
                if convs:
                    row = list(row)
                    for i, f in convs:
                        if row[i] is not None:
                            row[i] = f(row[i])
                copy.write_row(row)


def reset_sequences(raw: Any) -> int:
    """Move every identity column's sequence past the table's largest id; returns how many."""
    n = 0
    for table, column in raw.execute(
        """SELECT table_name, column_name FROM information_schema.columns
           WHERE table_schema = current_schema() AND is_identity = 'YES'"""
    ).fetchall():
        raw.execute(
            f'SELECT setval(pg_get_serial_sequence(%s, %s), max("{column}")) FROM "{table}"'
            f' HAVING max("{column}") IS NOT NULL',
            (f'"{table}"', column),
        )
        n += 1
    return n


def copy_to(
    settings: Settings, url: str, *, batch: int = 5000, say: Callable[[str], Any] = lambda _s: None
) -> dict[str, dict[str, int]]:
    """Copy ``settings``' SQLite files into the empty PostgreSQL database at ``url``.

    Returns the verified row counts per database and table.
    """
    if not url.startswith(("postgresql://", "postgres://")):
        raise CopyError(f"--to {url!r}: expected a postgresql://user@host:port/db URL")
    if batch < 1:
        raise CopyError("--batch: at least 1")
    target_settings = dataclasses.replace(settings, database_url=url)
    sources: dict[str, sqlite3.Connection] = {}
    try:
        for name in DATABASES:
            sources[name] = _source(settings, name)
        try:
            raw = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise CopyError(f"cannot connect to the target: {exc}") from None
        with raw:
            check_empty(raw)
            schema.migrate(target_settings)
            counts = _copy_all(sources, raw, batch, say)
            _verify(raw, counts)
    finally:
        for conn in sources.values():
            conn.close()
    return counts


def _copy_all(
    sources: dict[str, sqlite3.Connection], raw: Any, batch: int, say: Callable[[str], Any]
) -> dict[str, dict[str, int]]:
    target_tables = _pg_tables(raw)
    counts: dict[str, dict[str, int]] = {}
    with ExitStack() as snapshots:
        for conn in sources.values():  # one read snapshot per file: the counts and the rows agree
            snapshots.enter_context(read_snapshot(conn))
        with raw.transaction():
            for name, src in sources.items():
                counts[name] = {}
                for table in _tables(src):
                    if table not in target_tables:
                        raise CopyError(f"{name}.db table {table}: not in the target after migrating it")
                    counts[name][table] = n = src.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
                    raw.execute(f'DELETE FROM "{table}"')  # what a migration seeded (checked empty otherwise)
                    try:
                        _copy_table(src, raw, table, target_tables[table], batch)
                    except psycopg.Error as exc:
                        raise CopyError(f"{name}.db table {table}: {exc}".strip()) from None
                    say(f"{name} {table}: {n} rows")
            say(f"identity sequences reset: {reset_sequences(raw)}")
    return counts


def _verify(raw: Any, counts: dict[str, dict[str, int]]) -> None:
    wrong = []
    for tables in counts.values():
        for table, n in tables.items():
            got = raw.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            if got != n:
                wrong.append(f"{table}: {got} rows, the source has {n}")
    if wrong:
        raise CopyError("verification failed: " + "; ".join(wrong))
