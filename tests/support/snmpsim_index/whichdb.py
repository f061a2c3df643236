"""``whichdb`` for snmpsim's index: names the format when the file is one of ours.

An index from another dbm (e.g. ``dbm.dumb`` files left by an older run) is not ours, so
snmpsim rebuilds it.
"""

from __future__ import annotations


def whichdb(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return None
    return "sqlite-anydbm" if head == b"SQLite format 3\x00" else None
