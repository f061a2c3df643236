"""Flap detection: a subject changing state too often is one "flapping" alert.

Counted from ``state_events`` (the state machine's transitions), so every rule on a
subject sees the same count and nothing extra is stored.
"""

from __future__ import annotations

import sqlite_utils


def flapping(
    db: sqlite_utils.Database, now: float, window_s: float, threshold: int
) -> dict[tuple[str, str], int]:
    """{(kind, subject): transitions in the last ``window_s``} for subjects at or over ``threshold``."""
    rows = db.execute(
        "SELECT kind, subject, COUNT(*) FROM state_events WHERE ts > ? AND ts <= ?"
        " AND kind IN ('interface', 'link', 'tunnel', 'device') GROUP BY kind, subject HAVING COUNT(*) >= ?",
        (now - window_s, now + 1, threshold),
    )
    return {(k, s): n for k, s, n in rows}


def is_flapping(counts: dict[tuple[str, str], int], kind: str, subject: str) -> bool:
    return (kind, subject) in counts
