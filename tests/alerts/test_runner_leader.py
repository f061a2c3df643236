"""Two alert runners on one database (two centres): one evaluates and notifies, never both;
when it stops, the other takes over (nms.leader in nms.alerts.runner).

On SQLite files here (several processes on one data directory); the leader's lock is the
same on PostgreSQL (tests/centre/test_leader.py runs it on both engines).  The PostgreSQL
variant of this scenario waits for the alert engine's SQL to run there.
"""

from __future__ import annotations

import time
from pathlib import Path

from nms.alerts.engine import Engine, notify_state_updated
from nms.alerts.runner import Runner
from nms.config import Settings
from nms.schema import open_migrated
from tests.alerts.conftest import World, make_channels, make_rules
from tests.alerts.peers import HttpReceiver
from tests.alerts.test_runner import wait


def test_one_runner_of_two_evaluates_and_sends_then_the_other_takes_over(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("NMS_TEST_HOOK_KEY", "k")
    settings = Settings(data_dir=tmp_path / "var", inventory_path=tmp_path / "none.yaml", testing=True,
                        database_url="")
    hook = HttpReceiver().start()
    db = open_migrated(settings, "centre")
    world = World(db)
    runners = [Runner(settings, Engine(make_rules(), world.inv, make_channels(hook.url + "/hook")),
                      interval_s=0.2).start() for _ in range(2)]
    for r in runners:
        r.sender.poll_s = 0.05
    try:
        assert wait(lambda: any(r.last is not None for r in runners))
        time.sleep(1.0)  # both have looped several times by now
        assert [r.last is not None for r in runners].count(True) == 1
        first = next(r for r in runners if r.last is not None)
        other = next(r for r in runners if r is not first)
        world.round()
        for _ in range(2):
            world.round(down=("hefei-fw1",))
        notify_state_updated()
        assert wait(lambda: len(hook.requests) == 1)
        time.sleep(1.0)
        assert len(hook.requests) == 1  # sent once, not once per runner
        assert other.last is None

        first.stop()  # this centre goes away: the other leads within a follower's retry
        for _ in range(2):
            world.round(down=("hefei-fw1", "feidong-rtr1"))
        notify_state_updated()
        assert wait(lambda: other.last is not None, 10)
        assert wait(lambda: len(hook.requests) == 2, 10)
        time.sleep(1.0)
        assert len(hook.requests) == 2
    finally:
        for r in runners:
            r.stop()
        hook.stop()
        db.conn.close()
