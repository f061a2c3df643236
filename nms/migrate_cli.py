"""``nms migrate`` and ``nms db copy``: upgrade the databases in place, move them to PostgreSQL.

``nms serve`` migrates at every start (:func:`nms.server.create_app`); ``nms migrate`` does
the same on demand and says what it did, one line per step (``centre audit -> v1``), and
``nms migrate --check`` only lists what an upgrade would run (exit 1 when anything is
pending), for a deployment script that wants to know before it restarts a centre.

``nms db copy --to postgresql://...`` moves a centre's SQLite files to PostgreSQL
(:mod:`nms.dbcopy`; README "Moving a centre to PostgreSQL").
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from nms import dbcopy, schema
from nms.config import Settings
from nms.db import DATABASES, connect
from nms.init import settings_from


def where(settings: Settings) -> str:
    """The databases ``settings`` select, for messages (never the URL's password)."""
    if settings.database_url:
        from psycopg.conninfo import conninfo_to_dict

        info = conninfo_to_dict(settings.database_url)
        return f"PostgreSQL {info.get('host', '')}:{info.get('port', '5432')}/{info.get('dbname', '')}"
    return f"SQLite files in {settings.data_dir}"


def pending_steps(settings: Settings) -> list[tuple[str, str, int]]:
    """(database, component, version) steps an upgrade would run; reads only (a missing
    SQLite file is not made: every step of it is pending)."""
    steps: list[tuple[str, str, int]] = []
    for name in DATABASES:
        if not settings.database_url and not (settings.data_dir / f"{name}.db").exists():
            steps += [(name, c.name, v) for c in schema.COMPONENTS[name] for v in range(1, c.version + 1)]
            continue
        db = connect(settings, name)
        try:
            steps += [(name, c, v) for c, v in schema.pending(db, name)]
        finally:
            db.close()
    return steps


def run_migrate(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if args.check:
        steps = pending_steps(settings)
        for name, component, version in steps:
            print(f"pending: {name} {component} -> v{version}")
        print(
            f"nms migrate --check: {where(settings)}: "
            + (f"{len(steps)} step(s) pending" if steps else "up to date")
        )
        return 1 if steps else 0
    try:
        done = schema.migrate(settings)
    except Exception as exc:  # a failing step rolled back: say which database, keep the traceback short
        print(f"nms migrate: FAILED on {where(settings)}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    for name, component, version in done:
        print(f"{name} {component} -> v{version}")
    print(f"nms migrate: {where(settings)}: " + (f"{len(done)} step(s) applied" if done else "up to date"))
    return 0


def run_copy(args: argparse.Namespace) -> int:
    source = dataclasses.replace(settings_from(args), database_url="")
    try:
        report = dbcopy.copy_to(source, args.to, batch=args.batch, say=print)
    except dbcopy.CopyError as exc:
        print(f"nms db copy: {exc}", file=sys.stderr)
        return 1
    total = sum(n for counts in report.values() for n in counts.values())
    print(
        f"nms db copy: {total} rows in {sum(len(c) for c in report.values())} tables copied and verified; "
        f"the SQLite files are unchanged. Set NMS_DATABASE_URL to use the copy."
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "migrate", help="make or upgrade the databases' tables (nms serve does it at start)"
    )
    p.add_argument("--data-dir", help="default NMS_DATA_DIR (SQLite; NMS_DATABASE_URL selects PostgreSQL)")
    p.add_argument("--check", action="store_true", help="only list pending steps; exit 1 if there are any")
    p.set_defaults(func=run_migrate)
    d = subparsers.add_parser("db", help="database operations")
    dsub = d.add_subparsers(dest="db_command", required=True)
    c = dsub.add_parser(
        "copy",
        help="copy the SQLite centre.db and metrics.db into an empty PostgreSQL database",
        description="Copy every table of the SQLite centre (NMS_DATA_DIR) into an empty PostgreSQL "
        "database, migrated first; verify row counts. Stop nms serve and take a backup first.",
    )
    c.add_argument(
        "--to", required=True, metavar="URL", help="postgresql://user@host:port/db (empty database)"
    )
    c.add_argument("--data-dir", help="the SQLite centre's data directory (default NMS_DATA_DIR)")
    c.add_argument("--batch", type=int, default=5000, help="rows per batch (default %(default)s)")
    c.set_defaults(func=run_copy)
