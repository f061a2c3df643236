"""``nms init``: make a centre's data directory, secrets file, databases and first administrator.

Run once on a new machine (docs/deploy.md), as the user ``nms serve`` runs as.  Safe to
run again: what exists is kept and said so, never overwritten (an existing secrets file,
an existing administrator), only a data directory open to others is tightened to 0700.
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
from pathlib import Path

from nms import schema
from nms.auth import secret
from nms.auth.cli import first_administrator
from nms.config import Settings
from nms.db import DATABASES, connect, where
from probes.common.inventory import InventoryError, load_inventory

SECRETS_NAME = "secrets.env"
# Fields of an inventory credential reference that name a secret variable.
SECRET_FIELDS = ("community_env", "auth_key_env", "priv_key_env")


def settings_from(args: argparse.Namespace) -> Settings:
    """The environment's settings, with ``--data-dir`` / ``--secrets-file`` if given."""
    settings = Settings()
    if getattr(args, "data_dir", None):
        settings.data_dir = Path(args.data_dir)
    if getattr(args, "secrets_file", None):
        settings.secrets_path = Path(args.secrets_file)
    return settings


def secrets_file(settings: Settings) -> Path:
    """Where the secrets live: ``NMS_SECRETS_FILE`` or ``<data_dir>/secrets.env``."""
    return settings.secrets_path or settings.data_dir / SECRETS_NAME


def secret_variables(settings: Settings) -> list[str]:
    """Variables the inventory's credentials name (empty when there is no valid inventory)."""
    try:
        inventory = load_inventory(settings.inventory_path)
    except (OSError, InventoryError):
        return []
    names = {getattr(c, f, None) for c in inventory.credentials.values() for f in SECRET_FIELDS}
    return sorted(n for n in names if n)


def template(variables: list[str]) -> str:
    lines = [
        "# Secrets of the centre: NAME=value, one a line; this file stays mode 0600.",
        "# The inventory names these variables (its credentials' *_env); fill in their values.",
        "# The process environment wins over this file.",
    ]
    return "\n".join(lines + [f"# {name}=" for name in variables]) + "\n"


def make_data_dir(path: Path) -> str:
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            os.chmod(path, 0o700)
            return f"data directory {path}: kept, tightened from {mode:04o} to 0700"
        return f"data directory {path}: kept"
    path.mkdir(mode=0o700, parents=True)
    os.chmod(path, 0o700)  # whatever the umask
    return f"data directory {path}: created (0700)"


def make_secrets_file(path: Path, variables: list[str]) -> str:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return f"secrets file {path}: kept (not overwritten)"
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(template(variables))
    return f"secrets file {path}: created (0600), {len(variables)} variable(s) to fill in"


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    try:
        print(make_data_dir(settings.data_dir))
        print(make_secrets_file(secrets_file(settings), secret_variables(settings)))
        schema.migrate(settings)
        if settings.database_url:
            print(f"database {where(settings)}: migrated")
        else:
            print(f"databases {', '.join(f'{n}.db' for n in DATABASES)}: migrated")
        secret.load_or_create(settings)
        print("session key: ready")
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    db = connect(settings, "centre")
    try:
        site, password = first_administrator(settings, db, args.admin, args.site)
    except ValueError as exc:
        if "already exists" not in str(exc):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print("administrator: kept (one exists)")
    else:
        print(f"administrator {args.admin} at {site}: created")
        if password:
            print(f"password (shown once): {password}")
    finally:
        db.conn.close()
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "init",
        help="make the data directory, secrets file, databases and first administrator",
        description=__doc__,
    )
    p.add_argument("--data-dir", help="default NMS_DATA_DIR")
    p.add_argument("--secrets-file", help="default NMS_SECRETS_FILE or <data dir>/secrets.env")
    p.add_argument("--admin", default="admin", help="the first administrator's name (default admin)")
    p.add_argument("--site", help="the administrator's site (default: the root of the inventory's tree)")
    p.set_defaults(func=run)
