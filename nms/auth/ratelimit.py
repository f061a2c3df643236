"""Login lock-out: too many failures for one user name, or from one address, lock it a while.

Failures live in ``auth_login_failures`` so every server thread (and a restart) sees
the same count.  A success clears the user's failures, not the address's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from nms.db import Database

WINDOW_S = 15 * 60.0  # failures older than this are forgotten
LOCK_S = 15 * 60.0  # how long a lock lasts after the last counted failure
MAX_FAILURES_USER = 5
# An address is often a county office behind NAT: allow several people to mistype.
MAX_FAILURES_IP = 20


@dataclass(frozen=True)
class Lock:
    key: str
    until: float

    def minutes_left(self, now: float) -> int:
        return max(1, int((self.until - now + 59) // 60))


def _keys(user: str, ip: str | None) -> list[tuple[str, int]]:
    keys = [(f"user:{user.lower()}", MAX_FAILURES_USER)]
    if ip:
        keys.append((f"ip:{ip}", MAX_FAILURES_IP))
    return keys


def locked(db: Database, user: str, ip: str | None, *, now: float | None = None) -> Lock | None:
    """The lock in force for this user name or address, if any."""
    now = time.time() if now is None else now
    for key, limit in _keys(user, ip):
        rows = [
            r["ts"]
            for r in db.query(
                "SELECT ts FROM auth_login_failures WHERE key = ? AND ts > ? ORDER BY ts DESC LIMIT ?",
                [key, now - WINDOW_S - LOCK_S, limit],
            )
        ]
        if len(rows) >= limit and rows[-1] > rows[0] - WINDOW_S:  # limit failures within the window
            until = rows[0] + LOCK_S
            if until > now:
                return Lock(key, until)
    return None


def record_failure(db: Database, user: str, ip: str | None, *, now: float | None = None) -> None:
    now = time.time() if now is None else now
    for key, _limit in _keys(user, ip):
        db.execute("INSERT INTO auth_login_failures (key, ts) VALUES (?, ?)", (key, now))
    db.execute("DELETE FROM auth_login_failures WHERE ts < ?", (now - 2 * (WINDOW_S + LOCK_S),))


def record_success(db: Database, user: str) -> None:
    db.execute("DELETE FROM auth_login_failures WHERE key = ?", (f"user:{user.lower()}",))
