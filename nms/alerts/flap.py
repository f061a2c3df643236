"""Flap detection: a subject changing state too often is one "flapping" alert.

Counted from the state store's transitions (:func:`nms.state.change_counts`), so every
rule on a subject sees the same count and nothing extra is stored.
"""

from __future__ import annotations

from nms import state
from nms.db import Database

FLAP_KINDS = ("interface", "link", "tunnel", "device")


def flapping(
    db: Database, now: float, window_s: float, threshold: int
) -> dict[tuple[str, str], int]:
    """{(kind, subject): transitions in the last ``window_s``} for subjects at or over ``threshold``."""
    return state.change_counts(db, FLAP_KINDS, now - window_s, now + 1, threshold)


def is_flapping(counts: dict[tuple[str, str], int], kind: str, subject: str) -> bool:
    return (kind, subject) in counts
