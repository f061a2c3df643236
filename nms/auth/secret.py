"""The Flask SECRET_KEY, which signs session cookies (and so the CSRF token they carry).

It lives beside the centre's data: on SQLite, in a file of the data directory, readable by
owner only; on PostgreSQL, in the shared database (``auth_secrets``), so every centre
process on that database signs and accepts the same sessions whichever process answers,
whatever its own data directory.  A centre moved from SQLite to PostgreSQL offers its old
key file as the shared key, so its people stay signed in; the first key stored wins.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from nms.config import Settings
from nms.db import Database, connect

FILENAME = "secret_key"
KEY_NAME = "session_key"  # its row in auth_secrets
MIN_BYTES = 32


def load_or_create(settings: Settings) -> bytes:
    """The session key of this centre, made on first use (two centres starting at once agree)."""
    if not settings.database_url:
        return _file_key(settings.data_dir)
    db = connect(settings, "centre")
    try:
        return shared_key(db, settings.data_dir / FILENAME)
    finally:
        db.close()


def shared_key(db: Database, seed: Path | None = None) -> bytes:
    """The key stored in ``db``; stores ``seed``'s bytes (or fresh random ones) if there is none yet."""
    offered = seed.read_bytes() if seed is not None and seed.exists() else secrets.token_bytes(48)
    db.execute(
        "INSERT INTO auth_secrets (name, value, created_ts) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
        (KEY_NAME, _checked(offered, str(seed)), time.time()),
    )
    row = db.execute("SELECT value FROM auth_secrets WHERE name = ?", (KEY_NAME,)).fetchone()
    return _checked(bytes(row[0]), f"auth_secrets.{KEY_NAME}")


def _file_key(data_dir: Path) -> bytes:
    """Read the key file, or create it atomically (two servers starting at once agree on one key)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / FILENAME
    if not path.exists():
        tmp = data_dir / f".{FILENAME}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(48))
        try:
            os.link(tmp, path)  # fails if another process won the race; then use theirs
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)  # tighten a key someone loosened
    return _checked(path.read_bytes(), f"{path}")


def _checked(key: bytes, where: str) -> bytes:
    if len(key) < MIN_BYTES:
        raise RuntimeError(f"{where}: secret key shorter than {MIN_BYTES} bytes; delete it to regenerate")
    return key
