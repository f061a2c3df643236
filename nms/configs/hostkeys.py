"""SSH host keys pinned on first use and verified on every later login.

A pinned key is written to a one-line known_hosts file that netmiko loads with
``ssh_strict=True``, so paramiko refuses a different key *before* any password is
sent.  A changed key is never accepted silently: the fetch is refused and an event
row is written (see :mod:`nms.configs.store`); an operator re-pins with
``nms configs hostkey-reset DEVICE`` (audited).
"""

from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass

from nms import audit
from nms.db import Database


@dataclass(frozen=True)
class HostKey:
    key_type: str  # e.g. ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa
    key_b64: str

    @property
    def fingerprint(self) -> str:
        """OpenSSH-style ``SHA256:...`` fingerprint, for people to compare."""
        digest = hashlib.sha256(base64.b64decode(self.key_b64)).digest()
        return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def known_hosts_name(host: str, port: int) -> str:
    """The name paramiko looks a host up by (``[host]:port`` unless port 22)."""
    return host if port == 22 else f"[{host}]:{port}"


def known_hosts_line(host: str, port: int, key: HostKey) -> str:
    return f"{known_hosts_name(host, port)} {key.key_type} {key.key_b64}\n"


def ensure_schema(db: Database) -> None:
    db.execute(
        """CREATE TABLE IF NOT EXISTS config_hostkeys (
            device TEXT PRIMARY KEY,
            host TEXT NOT NULL,
            port INTEGER NOT NULL,
            key_type TEXT NOT NULL,
            key_b64 TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            first_seen REAL NOT NULL,
            last_verified REAL
        )"""
    )


def pins(db: Database) -> dict[str, HostKey]:
    rows = db.execute("SELECT device, key_type, key_b64 FROM config_hostkeys").fetchall()
    return {device: HostKey(key_type, key_b64) for device, key_type, key_b64 in rows}


def pin(db: Database, device: str, host: str, port: int, key: HostKey, actor: str,
        site: str | None = None) -> None:
    """Pin ``key`` for a device seen for the first time (caller holds the transaction)."""
    now = time.time()
    db.execute(
        "INSERT INTO config_hostkeys (device, host, port, key_type, key_b64, fingerprint, first_seen,"
        " last_verified) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (device, host, port, key.key_type, key.key_b64, key.fingerprint, now, now),
    )
    audit.record(db, actor, "configs.hostkey.pin", f"device:{device}",
                 after={"key_type": key.key_type, "fingerprint": key.fingerprint, "host": host, "port": port},
                 site=site)


def mark_verified(db: Database, device: str) -> None:
    db.execute("UPDATE config_hostkeys SET last_verified = ? WHERE device = ?", (time.time(), device))


def forget(db: Database, device: str) -> dict[str, str] | None:
    """Drop a device's pinned key (caller holds the transaction and audits); the key it had, if any."""
    row = db.execute(
        "SELECT key_type, fingerprint FROM config_hostkeys WHERE device = ?", (device,)
    ).fetchone()
    if row is None:
        return None
    db.execute("DELETE FROM config_hostkeys WHERE device = ?", (device,))
    return {"key_type": row[0], "fingerprint": row[1]}
