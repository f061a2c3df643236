"""centre.db's write-ahead log is copied back by a background thread, not inside requests' commits."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from nms import walcheck
from nms.config import Settings
from nms.db import WAL_AUTOCHECKPOINT, connect, transaction
from nms.walcheck import Checkpointer, next_wait
from tests.support.processes import wait_for


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """SQLite files: the write-ahead log and its checkpoints are SQLite's (on PostgreSQL the
    checkpointer has nothing to do: ``test_nothing_to_do_on_postgresql``)."""
    return Settings(data_dir=tmp_path / "var", inventory_path=tmp_path / "no-inventory.yaml", testing=True)


def _write_pages(db, pages: int) -> None:
    """About ``pages`` pages of log in transactions of ~10 pages (a scratch table, test only)."""
    db.execute("CREATE TABLE IF NOT EXISTS t_walcheck (id INTEGER PRIMARY KEY, v BLOB)")
    for _ in range(pages // 10):
        with transaction(db):
            for _ in range(10):
                db.execute("INSERT INTO t_walcheck (v) VALUES (randomblob(3500))")


def _db_pages(settings) -> int:
    return Path(settings.path("centre.db")).stat().st_size // 4096


@pytest.fixture
def running(settings):
    """(centre.db handle, database pages before, a started Checkpointer); stopped and closed after."""
    db = connect(settings, "centre")
    _write_pages(db, 10)
    checkpointer = Checkpointer(settings)
    yield db, _db_pages(settings), checkpointer.start()
    checkpointer.stop()
    db.conn.close()


def test_commits_on_centre_db_checkpoint_only_past_the_larger_bound(settings) -> None:
    centre, metrics = connect(settings, "centre"), connect(settings, "metrics")
    try:
        assert centre.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == WAL_AUTOCHECKPOINT["centre"]
        assert metrics.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000  # SQLite's default
        _write_pages(centre, 10)
        before = _db_pages(settings)
        _write_pages(centre, 2000)  # twice SQLite's default: no commit copied anything back
        assert _db_pages(settings) == before
    finally:
        centre.conn.close()
        metrics.conn.close()


def test_the_thread_copies_the_log_back_and_leaves_nothing_behind(settings, running) -> None:
    db, start, checkpointer = running
    for _ in range(4):  # bursts with pauses, like requests
        _write_pages(db, 500)
        time.sleep(0.05)
    wait_for(lambda: _db_pages(settings) >= start + 1500, 15, "the log copied into the database file")
    assert checkpointer.rounds > 0
    checkpointer.stop()
    r = walcheck.checkpoint(db)
    assert r.log_pages == r.done_pages, r  # the last round copied everything back


def test_between_bursts_the_log_starts_again_instead_of_growing(settings, running) -> None:
    db, start, checkpointer = running
    _write_pages(db, 500)  # ~600 pages of log: 500 rows of a page each, and the tree above them
    wait_for(lambda: _db_pages(settings) >= start + 500, 15, "the log copied into the database file")
    _write_pages(db, 500)  # its first commit found the log copied back and started it again
    checkpointer.stop()
    wal_pages = Path(settings.path("centre.db-wal")).stat().st_size // 4096
    assert wal_pages < 1000, wal_pages  # one burst's worth, not both


def test_pace_follows_how_fast_the_log_grows() -> None:
    assert next_wait(0, 0, 1.0) == walcheck.MAX_WAIT_S  # nothing written: the long wait
    assert next_wait(1000, 1000, 1.0) == walcheck.MAX_WAIT_S
    assert next_wait(0, 500, 1.0) == pytest.approx(2.0)  # 500 pages/s: ~1000 pages in 2 s
    assert next_wait(0, 100_000, 1.0) == walcheck.MIN_WAIT_S  # a flood: as often as allowed
    assert next_wait(5000, 250, 1.0) == pytest.approx(4.0)  # restarted: the 250 pages are new


@pytest.mark.pg
def test_nothing_to_do_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    """PostgreSQL checkpoints by itself: the thread opens the database, sees the engine and ends."""
    on_pg = Settings(data_dir=tmp_path / "var", inventory_path=tmp_path / "none.yaml", testing=True,
                     database_url=pg_url)
    checkpointer = Checkpointer(on_pg).start()
    checkpointer.thread.join(15)
    assert not checkpointer.thread.is_alive()
    assert checkpointer.rounds == 0
    checkpointer.stop()
    from nms.dbpg import close_pools

    close_pools()
