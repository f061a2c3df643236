"""``nms backup`` / ``nms restore``: online, consistent, verified copies of both databases.

A backup copies ``centre.db`` and ``metrics.db`` with SQLite's online backup API while
agents keep writing (WAL: readers never block the writer).  Each database is copied
inside one read transaction, and the row counts of every table are taken in that same
transaction, so the copy can be checked against them: ``PRAGMA integrity_check`` plus
identical counts, plus a SHA-256 per file in ``manifest.json``.

Generations live in ``<data_dir>/backups/<UTC stamp>/`` (``--keep`` newest ones stay)
and each is copied to a second place standing for the off-site store: a directory, or
``host:path`` for rsync over SSH.  ``nms restore`` refuses while ``nms serve`` runs on
the same data directory (unless ``--force``) and moves the replaced files aside.

With ``NMS_DATABASE_URL`` set the database is PostgreSQL: the generation holds one
``pg_dump`` archive instead of the two files, with the same manifest and the same
checks (:mod:`nms.backup_pg`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from nms import backup_pg
from nms.backup_pg import BackupError
from nms.config import Settings
from nms.db import DATABASES, connect, read_snapshot
from nms.pidfile import running_pid

MANIFEST = "manifest.json"
__all__ = ["BackupError", "restore", "take_backup", "verify"]


@dataclass
class BackupResult:
    path: Path
    counts: dict[str, dict[str, int]]
    offsite: str | None
    pruned: list[str]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _tables(conn: sqlite3.Connection) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]


def _counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in sorted(_tables(conn))}


def copy_database(settings: Settings, name: str, target: Path) -> dict[str, int]:
    """Consistent copy of one database; returns the row counts of the copied snapshot."""
    src = connect(settings, name).conn
    try:
        with read_snapshot(src):  # the counts and the copy see the same snapshot
            counts = _counts(src)
            dst = sqlite3.connect(str(target))
            try:
                src.backup(dst)
            finally:
                dst.close()
    finally:
        src.close()
    return counts


def verify(path: Path) -> dict[str, dict[str, int]]:
    """Check a backup directory against its manifest; raises BackupError naming the problem."""
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{path}: no readable {MANIFEST} ({exc})") from None
    for name, info in manifest["databases"].items():
        f = path / info.get("file", f"{name}.db")
        if not f.exists():
            raise BackupError(f"{f}: missing")
        if _sha256(f) != info["sha256"]:
            raise BackupError(f"{f}: checksum differs from the manifest (damaged copy)")
        if manifest.get("engine") == backup_pg.ENGINE:
            backup_pg.verify_dump(f, info)
            continue
        conn = sqlite3.connect(f"file:{f}?mode=ro", uri=True)
        try:
            check = conn.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise BackupError(f"{f}: integrity_check says {check}")
            counts = _counts(conn)
        finally:
            conn.close()
        if counts != info["counts"]:
            raise BackupError(f"{f}: row counts {counts} differ from the snapshot's {info['counts']}")
    return {n: i["counts"] for n, i in manifest["databases"].items()}


def generations(root: Path) -> list[Path]:
    """Complete backups under ``root``, oldest first."""
    if not root.is_dir():
        return []
    return sorted(
        p
        for p in root.iterdir()
        if p.is_dir() and (p / MANIFEST).exists() and not p.name.startswith(".")
    )


def prune(root: Path, keep: int) -> list[str]:
    gone = []
    for p in generations(root)[:-keep] if keep > 0 else []:
        shutil.rmtree(p)
        gone.append(p.name)
    return gone


def _offsite(path: Path, offsite: str, keep: int) -> str:
    """Copy one generation to the second location; verify it there when it is a directory."""
    if ":" in offsite and not Path(offsite).exists() and not offsite.startswith("/"):
        dest = f"{offsite.rstrip('/')}/{path.name}/"
        subprocess.run(
            ["rsync", "-a", "--partial", "-e", "ssh -o BatchMode=yes", f"{path}/", dest], check=True
        )
        return dest
    root = Path(offsite)
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{path.name}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(path, tmp)
    verify(tmp)
    final = root / path.name
    os.replace(tmp, final)
    prune(root, keep)
    return str(final)


def take_backup(
    settings: Settings, dest: Path | None = None, keep: int = 7, offsite: str | None = None
) -> BackupResult:
    root = dest or settings.path("backups")
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    final = root / stamp
    n = 1
    while final.exists():
        final = root / f"{stamp}-{n}"
        n += 1
    tmp = root / f".{final.name}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    manifest: dict = {"created": time.time(), "sqlite": sqlite3.sqlite_version, "databases": {}}
    try:
        if settings.database_url:  # one database holds both: one archive of one snapshot
            server = backup_pg.server_version(settings.database_url)
            manifest |= {"engine": backup_pg.ENGINE, "server": server}
            target = tmp / backup_pg.DUMP
            counts = backup_pg.dump(settings, target)
            manifest["databases"][backup_pg.ENGINE] = {"counts": counts, "sha256": _sha256(target),
                                                       "file": target.name}
        for name in DATABASES if not settings.database_url else ():
            target = tmp / f"{name}.db"
            counts = copy_database(settings, name, target)
            manifest["databases"][name] = {"counts": counts, "sha256": _sha256(target)}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        verify(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    os.replace(tmp, final)
    pruned = prune(root, keep)
    where = _offsite(final, offsite, keep) if offsite else None
    return BackupResult(final, {n: i["counts"] for n, i in manifest["databases"].items()}, where, pruned)


def restore(settings: Settings, source: Path, *, force: bool = False) -> Path:
    """Put a verified backup in place; returns the directory holding the replaced files."""
    pid = running_pid(settings)
    if pid is not None and not force:
        raise BackupError(f"the centre is running (pid {pid}); stop it first or pass --force")
    verify(source)
    manifest = json.loads((source / MANIFEST).read_text())
    on_pg = manifest.get("engine") == backup_pg.ENGINE
    if on_pg != bool(settings.database_url):
        kinds = ("SQLite files (NMS_DATABASE_URL unset)", "PostgreSQL (NMS_DATABASE_URL)")
        raise BackupError(
            f"{source}: a backup of {kinds[on_pg].split(' (')[0]}, but this centre's database is "
            f"{kinds[bool(settings.database_url)]}"
        )
    aside = settings.path(f"replaced-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
    if on_pg:
        info = manifest["databases"][backup_pg.ENGINE]
        backup_pg.restore(settings, source / info["file"], info, aside)
        return aside
    aside.mkdir(exist_ok=True)
    for name in DATABASES:
        for suffix in (".db", ".db-wal", ".db-shm"):
            cur = settings.data_dir / f"{name}{suffix}"
            if cur.exists():
                os.replace(cur, aside / cur.name)
        tmp = settings.data_dir / f".{name}.db.restoring"
        shutil.copy2(source / f"{name}.db", tmp)
        os.replace(tmp, settings.data_dir / f"{name}.db")
    return aside


# ---- CLI ------------------------------------------------------------------------------------------


def _keep(value: str | None) -> int:
    try:
        keep = int(value if value is not None else os.environ.get("NMS_BACKUP_KEEP", 7))
    except ValueError:
        raise BackupError("--keep / NMS_BACKUP_KEEP: expected an integer") from None
    if keep < 1:
        raise BackupError("--keep: at least 1")
    return keep


def run_backup(args: argparse.Namespace) -> int:
    settings = Settings()
    try:
        result = take_backup(
            settings,
            Path(args.dest) if args.dest else None,
            _keep(args.keep),
            args.offsite or os.environ.get("NMS_BACKUP_OFFSITE") or None,
        )
    except (BackupError, sqlite3.Error, psycopg.Error, OSError, subprocess.SubprocessError) as exc:
        print(f"nms backup: FAILED: {exc}", file=sys.stderr)
        return 1
    rows = ", ".join(f"{n}: {sum(c.values())} rows" for n, c in result.counts.items())
    print(f"nms backup: {result.path} verified ({rows})")
    if result.offsite:
        print(f"nms backup: copied to {result.offsite}")
    for p in result.pruned:
        print(f"nms backup: removed old generation {p}")
    return 0


def run_restore(args: argparse.Namespace) -> int:
    settings = Settings()
    root = Path(args.source_dir) if args.source_dir else settings.data_dir / "backups"
    gens = generations(root)
    if args.name in (None, "latest"):
        if not gens:
            print(f"nms restore: no backups in {root}", file=sys.stderr)
            return 1
        source = gens[-1]
    else:
        source = root / args.name
    try:
        aside = restore(settings, source, force=args.force)
    except (BackupError, psycopg.Error, OSError) as exc:
        print(f"nms restore: {exc}", file=sys.stderr)
        return 3 if "running" in str(exc) else 1
    into = "the PostgreSQL database (NMS_DATABASE_URL)" if settings.database_url else str(settings.data_dir)
    print(f"nms restore: {source} restored into {into}; replaced data kept in {aside}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("backup", help="online, verified backup of centre.db and metrics.db")
    p.add_argument("--dest", help="backup root (default <data_dir>/backups)")
    p.add_argument("--keep", help="generations to keep (default NMS_BACKUP_KEEP or 7)")
    p.add_argument(
        "--offsite",
        help="second location: a directory or host:path (rsync over SSH); default NMS_BACKUP_OFFSITE",
    )
    p.set_defaults(func=run_backup)
    r = subparsers.add_parser("restore", help="bring a backup back (the centre must be stopped)")
    r.add_argument("name", nargs="?", help="generation name (default: latest)")
    r.add_argument(
        "--from", dest="source_dir", help="where the generations are (default <data_dir>/backups)"
    )
    r.add_argument("--force", action="store_true", help="restore even while nms serve runs")
    r.set_defaults(func=run_restore)
