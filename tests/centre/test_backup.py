"""Backups under write load: consistent, verified, generations, off-site copy, restore."""

from __future__ import annotations

import argparse
import sqlite3
import threading

import pytest

from nms import backup
from nms.backup import BackupError, restore, take_backup, verify
from nms.config import Settings
from nms.pipeline import ingest_batch
from nms.schema import open_migrated
from tests.centre.helpers import T0, batch, poll


@pytest.fixture
def settings(tmp_path) -> Settings:
    """SQLite files only: these tests read the copied files; PostgreSQL's are test_backup_pg.py."""
    return Settings(data_dir=tmp_path / "var", inventory_path=tmp_path / "no-inventory.yaml", testing=True,
                    database_url="")


class Writer(threading.Thread):
    """Keeps ingesting batches (samples + seq in one transaction, state in the other db)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(daemon=True)
        self.settings, self.stop, self.done = settings, threading.Event(), 0

    def run(self) -> None:
        mdb, cdb = open_migrated(self.settings, "metrics"), open_migrated(self.settings, "centre")
        seq = 0
        while not self.stop.is_set():
            seq += 1
            polls = [poll(f"dev{i}", T0 + 60 * seq, ok=(seq + i) % 7 != 0) for i in range(30)]
            ingest_batch(mdb, cdb, "hefei", batch("hefei", seq, polls), None, now=T0 + 60 * seq)
            self.done = seq
        mdb.conn.close()
        cdb.conn.close()


def seqs(path) -> list[int]:
    conn = sqlite3.connect(path)
    try:
        return [r[0] for r in conn.execute("SELECT seq FROM ingest_batches ORDER BY seq")]
    finally:
        conn.close()


def test_backup_under_load_restores_consistent(settings, tmp_path):
    w = Writer(settings)
    w.start()
    try:
        while w.done < 5:
            w.stop.wait(0.01)
        result = take_backup(settings, keep=2, offsite=str(tmp_path / "dr"))
        while w.done < result.counts["metrics"]["ingest_batches"] + 3:  # writes went on meanwhile
            w.stop.wait(0.01)
    finally:
        w.stop.set()
        w.join(30)
    counts = verify(result.path)
    assert counts == result.counts
    n = counts["metrics"]["ingest_batches"]
    assert n >= 5
    copied = seqs(result.path / "metrics.db")
    assert copied == list(range(1, n + 1))  # a prefix of what was written: no half batch, no gap
    conn = sqlite3.connect(result.path / "metrics.db")
    rows = conn.execute("SELECT count(*) FROM ts_head").fetchone()[0]
    conn.close()
    # each poll: a device row, plus one interface row when it answered
    assert rows == sum(1 + ((q + i) % 7 != 0) for q in range(1, n + 1) for i in range(30))
    assert verify(tmp_path / "dr" / result.path.name) == counts  # the off-site copy checks out too
    live = seqs(settings.data_dir / "metrics.db")
    assert len(live) > n

    aside = restore(settings, result.path)
    assert seqs(settings.data_dir / "metrics.db") == copied
    assert (aside / "metrics.db").exists()
    assert seqs(aside / "metrics.db") == live  # what was replaced is kept (WAL moved along)
    db = open_migrated(settings, "centre")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("SELECT count(*) FROM state_applied").fetchone()[0] == counts["centre"]["state_applied"]
    db.conn.close()


def test_generations_pruned_and_damage_detected(settings, tmp_path):
    open_migrated(settings, "metrics").conn.close()
    open_migrated(settings, "centre").conn.close()
    made = [take_backup(settings, keep=2).path for _ in range(3)]
    left = backup.generations(settings.data_dir / "backups")
    assert left == made[1:]
    with open(made[-1] / "centre.db", "r+b") as f:
        f.seek(200)
        f.write(b"\xff" * 64)
    with pytest.raises(BackupError, match="checksum"):
        verify(made[-1])
    with pytest.raises(BackupError, match="checksum"):
        restore(settings, made[-1])


def test_restore_refuses_while_centre_runs(settings, monkeypatch, capsys):
    open_migrated(settings, "metrics").conn.close()
    open_migrated(settings, "centre").conn.close()
    take_backup(settings)
    import os

    (settings.data_dir / "serve.pid").write_text(f"{os.getpid()}\n")  # this process stands for nms serve
    monkeypatch.setenv("NMS_DATA_DIR", str(settings.data_dir))
    parser = argparse.ArgumentParser()
    backup.register(parser.add_subparsers())
    args = parser.parse_args(["restore"])
    assert args.func(args) == 3
    assert "running" in capsys.readouterr().err
    args = parser.parse_args(["restore", "--force"])
    assert args.func(args) == 0
    assert list(settings.data_dir.glob("replaced-*/centre.db"))


def test_cli_backup_then_restore_refused_while_serve_runs(settings, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    from nms.config import ROOT
    from tests.centre.test_crash import start_server

    env = dict(os.environ, NMS_DATA_DIR=str(settings.data_dir), NMS_INVENTORY=str(settings.inventory_path))
    proc, _url = start_server(env)
    try:
        out = subprocess.run(
            [sys.executable, "-m", "nms", "backup", "--offsite", str(tmp_path / "dr")],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        assert "verified" in out.stdout and "copied to" in out.stdout
        out = subprocess.run(
            [sys.executable, "-m", "nms", "restore"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 3
        assert "running" in out.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    out = subprocess.run(
        [sys.executable, "-m", "nms", "restore", "--from", str(tmp_path / "dr")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "restored" in out.stdout
