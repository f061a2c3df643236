"""One leader per background job across processes (nms.leader), on both engines.

Real locks only: PostgreSQL advisory locks on connections of their own, flock on SQLite;
the "other centre" is a real child process killed with SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from nms.config import Settings
from nms.leader import Leader, leader, ticks

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import sys, time
from pathlib import Path
from nms.config import Settings
from nms.leader import leader
lead = leader(Settings(data_dir=Path(sys.argv[1]), database_url=sys.argv[2]), sys.argv[3])
while not lead.leading():
    time.sleep(0.1)
print("leading", flush=True)
time.sleep(600)
"""


def _child(settings: Settings, job: str) -> subprocess.Popen[str]:
    """Another process contending for ``job`` on the same data directory or database."""
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(settings.data_dir), settings.database_url, job],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE, text=True,
    )


def _wait_leading(lead: Leader, timeout: float) -> float:
    """Seconds until ``lead`` leads (asking as a follower loop does); fails after ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if lead.leading():
            return time.monotonic() - start
        time.sleep(0.1)
    pytest.fail(f"{lead.job}: not leading after {timeout} s")


def test_only_one_holder_leads_until_it_lets_go(settings: Settings) -> None:
    a, b = leader(settings, "rollup"), leader(settings, "rollup")
    try:
        assert a.leading() is True
        assert b.leading() is False
        assert a.leading() is True  # holding is stable
        assert b.leading() is False
        other = leader(settings, "alerts")  # another job has a lock of its own
        assert other.leading() is True
        other.release()
        a.release()
        assert b.leading() is True
        assert a.leading() is False
    finally:
        a.release()
        b.release()


def test_threads_with_their_own_leaders_never_overlap(settings: Settings) -> None:
    """Four contenders loop over ``ticks``; at every moment at most one is inside the body."""
    inside, most, rounds = [0], [0], [0]
    guard = threading.Lock()
    stop = threading.Event()

    def contender() -> None:
        for _ in ticks(leader(settings, "state-aging"), stop, 0.02, follower_retry_s=0.02):
            with guard:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
                rounds[0] += 1
            time.sleep(0.005)
            with guard:
                inside[0] -= 1

    threads = [threading.Thread(target=contender) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    stop.set()
    for t in threads:
        t.join(10)
    assert rounds[0] >= 10
    assert most[0] == 1


def test_killed_leader_is_replaced_within_seconds(settings: Settings) -> None:
    """kill -9 of the leading process: its lock goes with it and this process leads in < 5 s."""
    child = _child(settings, "config-backup")
    mine = leader(settings, "config-backup")
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "leading"
        time.sleep(0.5)
        assert mine.leading() is False
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        assert _wait_leading(mine, 10) < 5.0
    finally:
        child.kill()
        child.wait()
        mine.release()


def test_a_follower_process_takes_over_when_this_one_lets_go(settings: Settings) -> None:
    mine = leader(settings, "inventory-watch")
    assert mine.leading()
    child = _child(settings, "inventory-watch")
    try:
        time.sleep(1.0)
        assert child.poll() is None
        mine.release()
        assert child.stdout is not None and child.stdout.readline().strip() == "leading"
        assert mine.leading() is False
    finally:
        child.kill()
        child.wait()


def test_bad_job_name_is_refused(settings: Settings) -> None:
    with pytest.raises(ValueError, match="job name"):
        leader(settings, "../etc/passwd")


@pytest.mark.pg
def test_leader_whose_connection_dies_stops_leading(pg_url: str, tmp_path: Path) -> None:
    """The server ends the leader's session (as when the network or PostgreSQL drops it):
    the lock is free, another takes it, and the old leader knows at its next check."""
    import psycopg

    settings = Settings(data_dir=tmp_path, database_url=pg_url, testing=True)
    a, b = leader(settings, "alerts", recheck_s=0.0), leader(settings, "alerts")
    try:
        assert a.leading() and not b.leading()
        with psycopg.connect(pg_url, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                ("nms-leader-alerts",),
            ).fetchall()
            assert killed  # both contenders' sessions: neither holds anything now
        assert _wait_leading(b, 5) < 5.0
        assert a.leading() is False
        assert b.leading() is True
    finally:
        a.release()
        b.release()
