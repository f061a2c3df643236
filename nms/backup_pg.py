"""``nms backup`` / ``nms restore`` when the centre's database is PostgreSQL (``NMS_DATABASE_URL``).

Same layout and the same promises as the SQLite backup (:mod:`nms.backup`): one generation
directory, a ``manifest.json`` with a SHA-256 and the row count of every table, all taken
from one consistent snapshot while the centres keep writing.  Here the snapshot is a
``REPEATABLE READ`` transaction that counts every table and exports its snapshot;
``pg_dump -Fc --snapshot`` dumps exactly that snapshot (the transaction stays open until the
dump is done).  Verifying reads the archive back (``pg_restore --data-only`` to a stream)
and counts the rows of every table's data, so a dump that lost rows is caught without a
database to restore it into.

``restore`` dumps the current database into ``<data_dir>/replaced-<stamp>/`` first (nothing
is lost to a wrong restore), empties the database's schema, runs ``pg_restore`` in one
transaction and checks every table's count against the manifest.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from nms.config import Settings
from nms.db import connect, read_snapshot

ENGINE = "postgresql"
DUMP = "database.pgdump"
BIN_DIRS = (Path("/usr/lib/postgresql/15/bin"),)  # Debian's PostgreSQL 15, as scripts/setup.sh installs
TIMEOUT_S = 3600


class BackupError(RuntimeError):
    """A backup or restore that cannot be trusted; the message names the file and the problem."""


def tool(name: str) -> str:
    """Path of ``pg_dump``/``pg_restore``: ``NMS_PG_BIN`` directory, Debian's 15, else ``PATH``."""
    dirs = [Path(os.environ["NMS_PG_BIN"])] if os.environ.get("NMS_PG_BIN") else []
    for d in [*dirs, *BIN_DIRS]:
        if (d / name).is_file():
            return str(d / name)
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} not found (install PostgreSQL: scripts/setup.sh, or set NMS_PG_BIN)")
    return found


def _run(args: list[str], url: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    """A client tool against ``url``, its password (if any) in the environment, not on the command line."""
    info = conninfo_to_dict(url)
    env = dict(os.environ)
    if password := info.pop("password", None):
        env["PGPASSWORD"] = password
    cmd = [*args, "--dbname", make_conninfo(**info)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=TIMEOUT_S, **kw)
    if done.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed: {done.stderr.strip()[-2000:]}")
    return done


def _tables(conn: psycopg.Connection) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            """SELECT table_name FROM information_schema.tables
               WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1"""
        )
    ]


def counts(conn: psycopg.Connection) -> dict[str, int]:
    """Rows of every table, in the caller's transaction (its snapshot)."""
    return {
        t: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))).fetchone()[0]
        for t in _tables(conn)
    }


def dump(settings: Settings, target: Path) -> dict[str, int]:
    """``pg_dump -Fc`` of one snapshot into ``target``; returns that snapshot's row counts."""
    url = settings.database_url
    db = connect(settings, "centre")
    try:
        with read_snapshot(db.conn):  # REPEATABLE READ: the counts and the export see one snapshot
            snapshot = db.execute("SELECT pg_export_snapshot()").fetchone()[0]
            found = counts(db.conn.raw)
            # The exporting transaction stays open until pg_dump has imported the snapshot and finished.
            _run([tool("pg_dump"), "-Fc", "--no-owner", "--snapshot", snapshot, "-f", str(target)], url)
    finally:
        db.close()
    return found


def dumped_counts(path: Path) -> dict[str, int]:
    """Rows in each table's data in the archive (read back through ``pg_restore``).

    Text ``COPY`` data has one line per row (newlines inside values are escaped).
    """
    done = subprocess.run(
        [tool("pg_restore"), "--data-only", "-f", "-", str(path)],
        capture_output=True, text=True, timeout=TIMEOUT_S,
    )  # fmt: skip
    if done.returncode != 0:
        raise BackupError(f"{path}: pg_restore cannot read it ({done.stderr.strip()[-500:]})")
    found: dict[str, int] = {}
    table: str | None = None
    for line in done.stdout.splitlines():
        if table is None:
            if line.startswith("COPY ") and line.endswith("FROM stdin;"):
                table = line.split()[1].split(".")[-1].strip('"')
                found[table] = 0
        elif line == "\\.":
            table = None
        else:
            found[table] += 1
    return found


def verify_dump(path: Path, info: dict[str, Any]) -> None:
    """The archive reads back with the snapshot's row count in every table (tables without rows
    may have no data entry)."""
    have = dumped_counts(path)
    want = info["counts"]
    wrong = {t: (have.get(t, 0), n) for t, n in want.items() if have.get(t, 0) != n}
    extra = sorted(set(have) - set(want))
    if wrong or extra:
        detail = ", ".join(f"{t}: {got} rows, the snapshot had {n}" for t, (got, n) in sorted(wrong.items()))
        detail = detail or "unexpected " + ", ".join(extra)
        raise BackupError(f"{path}: rows differ from the snapshot's ({detail})")


def empty_schema(url: str) -> None:
    """Drop every table, view, sequence and function of the database's schema, in one transaction."""
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn, conn.transaction():
        objects = conn.execute(
            """SELECT 'TABLE', c.relname, NULL FROM pg_class c
               WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
               UNION ALL SELECT 'VIEW', c.relname, NULL FROM pg_class c
               WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'v'
               UNION ALL SELECT 'SEQUENCE', c.relname, NULL FROM pg_class c
               WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'S'
               UNION ALL SELECT 'FUNCTION', p.proname, pg_get_function_identity_arguments(p.oid)
               FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace"""
        ).fetchall()
        for kind, name, args in objects:
            target = (
                sql.Identifier(name)
                if args is None
                else sql.SQL("{}({})").format(sql.Identifier(name), sql.SQL(args))
            )
            conn.execute(sql.SQL("DROP {} IF EXISTS {} CASCADE").format(sql.SQL(kind), target))


def restore(settings: Settings, source: Path, info: dict[str, Any], aside: Path) -> None:
    """Replace the database's contents with the archive ``source``; the current ones go to ``aside``."""
    url = settings.database_url
    aside.mkdir(exist_ok=True)
    dump(settings, aside / DUMP)
    empty_schema(url)
    _run([tool("pg_restore"), "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error",
          str(source)], url)  # fmt: skip
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        have = counts(conn)
    wrong = [
        f"{t}: {have.get(t)} rows, the backup has {n}" for t, n in info["counts"].items() if have.get(t) != n
    ]
    if wrong:
        raise BackupError(
            f"restored database differs from the backup: {'; '.join(wrong)} (previous data: {aside})"
        )


def server_version(url: str) -> str:
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        return str(conn.execute("SHOW server_version").fetchone()[0])
