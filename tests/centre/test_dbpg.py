"""Unit tests of additions to nms.dbpg, each named after the area that needed it."""

from __future__ import annotations

import time

import pytest

from nms.dbpg import connect_once, connect_pg, display_url
from tests.conftest import free_port

pytestmark = pytest.mark.pg


def test_wall_data_version_moves_when_an_older_transaction_commits_after_a_younger_one(pg_url: str) -> None:
    """The wall rebuilds on a changed ``PRAGMA data_version``: a commit must always change it,
    even one that finishes after a later transaction (the snapshot's horizon stays put then)."""
    wall, older, younger = (connect_pg(pg_url, "centre") for _ in range(3))
    try:
        older.execute("CREATE TABLE dv_probe (id INTEGER PRIMARY KEY, v TEXT)")
        before = wall.execute("PRAGMA data_version").fetchone()[0]
        assert wall.execute("PRAGMA data_version").fetchone()[0] == before  # reading changes nothing
        older.execute("BEGIN")
        older.execute("INSERT INTO dv_probe (v) VALUES ('older')")  # takes its transaction id first
        younger.execute("INSERT INTO dv_probe (v) VALUES ('younger')")  # commits at once
        seen = wall.execute("PRAGMA data_version").fetchone()[0]
        assert seen != before
        older.execute("COMMIT")
        assert wall.execute("PRAGMA data_version").fetchone()[0] != seen  # the older commit shows too
    finally:
        for db in (wall, older, younger):
            db.close()


def test_doctor_connect_once_answers_quickly_and_urls_are_shown_without_password(pg_url: str) -> None:
    db = connect_once(pg_url, "centre")
    try:
        assert db.execute("SELECT 1 + ?", (1,)).fetchone()[0] == 2  # the layer's translation applies
        assert db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    finally:
        db.close()
    assert db.conn.raw.closed  # not handed to a pool: closed
    started = time.monotonic()
    with pytest.raises(Exception, match="127.0.0.1"):
        connect_once(f"postgresql://nobody@127.0.0.1:{free_port()}/x", "centre", timeout_s=2)
    assert time.monotonic() - started < 10
    assert display_url("postgresql://nms:s3cret@db.example:5433/nms") == "postgresql://nms@db.example:5433/nms"
    assert "s3cret" not in display_url("host=db dbname=nms user=nms password=s3cret")
