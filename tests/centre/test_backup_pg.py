"""Backups of a centre on PostgreSQL: pg_dump of one snapshot, verified, restored (nms.backup_pg).

PostgreSQL only (the ``pg`` tier): under ``CI=true`` a missing PostgreSQL fails these, it
never skips them (the ``pg_url`` fixture).  The SQLite backups are tests/centre/test_backup.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest

from nms import backup_pg
from nms.backup import BackupError, generations, restore, take_backup, verify
from nms.config import Settings
from nms.schema import migrate

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.pg


class Writer(threading.Thread):
    """Appends audit rows, one transaction each, as fast as it can (a centre under load)."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.stop, self.done = url, threading.Event(), 0

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.is_set():
                with conn.transaction():  # two rows per transaction: a snapshot never sees one alone
                    for half in ("a", "b"):
                        conn.execute(
                            "INSERT INTO audit_log (ts, actor, action, target) VALUES (%s, 'w', %s, 'x')",
                            (float(self.done), half),
                        )
                self.done += 1


@pytest.fixture
def pg_settings(tmp_path: Path, pg_url: str) -> Settings:
    settings = Settings(data_dir=tmp_path / "var", inventory_path=tmp_path / "none.yaml", testing=True,
                        database_url=pg_url)  # fmt: skip
    migrate(settings)
    return settings


def audit_ids(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM audit_log ORDER BY id")]


def test_backup_under_writes_is_one_snapshot_and_restores(pg_settings: Settings, tmp_path: Path) -> None:
    url = pg_settings.database_url
    w = Writer(url)
    w.start()
    try:
        while w.done < 20:
            w.stop.wait(0.01)
        result = take_backup(pg_settings, keep=2, offsite=str(tmp_path / "dr"))
        n = result.counts["postgresql"]["audit_log"]
        while w.done * 2 < n + 20:  # writes went on meanwhile
            w.stop.wait(0.01)
    finally:
        w.stop.set()
        w.join(30)
    assert (result.path / "database.pgdump").exists() and not list(result.path.glob("*.db"))
    manifest = json.loads((result.path / "manifest.json").read_text())
    assert manifest["engine"] == "postgresql" and manifest["server"].startswith("15")
    assert verify(result.path) == result.counts
    assert verify(tmp_path / "dr" / result.path.name) == result.counts  # the off-site copy checks out
    assert n >= 40 and n % 2 == 0  # whole transactions only
    # the archive holds exactly the counted snapshot, although the writer never paused
    assert backup_pg.dumped_counts(result.path / "database.pgdump")["audit_log"] == n
    live = audit_ids(url)
    assert len(live) > n

    aside = restore(pg_settings, result.path)
    assert audit_ids(url) == live[:n]  # the prefix that was committed at the snapshot: no gap, no half
    assert backup_pg.dumped_counts(aside / "database.pgdump")["audit_log"] == len(live)  # replaced data kept
    with psycopg.connect(url, autocommit=True) as conn:  # the append-only trigger came back with the rows
        with pytest.raises(psycopg.errors.IntegrityConstraintViolation):
            conn.execute("DELETE FROM audit_log")
        new = conn.execute(  # and the id sequence: a new row follows the restored ones
            "INSERT INTO audit_log (ts, actor, action, target) VALUES (1, 'a', 'b', 'c') RETURNING id"
        ).fetchone()[0]
    assert new > live[n - 1]


def test_damage_and_wrong_counts_are_detected(pg_settings: Settings) -> None:
    made = [take_backup(pg_settings, keep=2).path for _ in range(3)]
    assert generations(pg_settings.data_dir / "backups") == made[1:]
    dump = made[-1] / "database.pgdump"
    manifest_path = made[-1] / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["databases"]["postgresql"]["counts"]["ipam_spaces"] += 1  # the snapshot said one more row
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match="ipam_spaces: 2 rows, the snapshot had 3"):
        verify(made[-1])
    with pytest.raises(BackupError, match="ipam_spaces"):
        restore(pg_settings, made[-1])
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    with pytest.raises(BackupError, match="checksum"):
        verify(made[-1])


def nms(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nms", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT), **env})  # fmt: skip


def test_cli_backup_restore_and_refusals(pg_settings: Settings) -> None:
    env = {"NMS_DATA_DIR": str(pg_settings.data_dir), "NMS_DATABASE_URL": pg_settings.database_url}
    out = nms("backup", env=env)
    assert out.returncode == 0, out.stderr
    assert "verified (postgresql:" in out.stdout
    out = nms("restore", env={**env, "NMS_DATABASE_URL": ""})
    assert out.returncode == 1 and "a backup of PostgreSQL" in out.stderr  # not into SQLite files

    (pg_settings.data_dir / "serve.pid").write_text(f"{os.getpid()}\n")  # this process stands for nms serve
    out = nms("restore", env=env)
    assert out.returncode == 3 and "running" in out.stderr
    out = nms("restore", "--force", env=env)
    assert out.returncode == 0, out.stderr
    assert "restored into the PostgreSQL database" in out.stdout
    out = nms("migrate", "--check", env=env)  # the restored database is complete and current
    assert out.returncode == 0 and "up to date" in out.stdout
