"""The Flask SECRET_KEY: generated once, kept in the data directory, readable by owner only."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

FILENAME = "secret_key"


def load_or_create(data_dir: Path) -> bytes:
    """Read the key, or create it atomically (two servers starting at once agree on one key)."""
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
    key = path.read_bytes()
    if len(key) < 32:
        raise RuntimeError(f"{path}: secret key shorter than 32 bytes; delete it to regenerate")
    return key
