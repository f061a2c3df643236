"""The evaluator and sender threads: a slow gateway never holds up evaluation."""

from __future__ import annotations

import threading
import time

from nms.alerts.engine import Engine, notify_state_updated
from nms.alerts.runner import Runner
from nms.schema import open_migrated
from tests.alerts.conftest import World, make_channels, make_rules
from tests.alerts.peers import HttpReceiver


def wait(cond, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_hanging_gateway_does_not_hold_up_evaluation(settings, monkeypatch):
    monkeypatch.setenv("NMS_TEST_HOOK_KEY", "k")
    gate = threading.Event()
    hook = HttpReceiver(gate=gate).start()
    db = open_migrated(settings, "centre")
    world = World(db)
    engine = Engine(make_rules(), world.inv, make_channels(hook.url + "/hook"))
    runner = Runner(settings, engine, interval_s=30.0).start()
    runner.sender.poll_s = 0.05
    try:
        world.round()
        for _ in range(2):
            world.round(down=("hefei-fw1",))
        notify_state_updated()  # what the ingest path calls after a batch
        assert wait(lambda: len(hook.requests) == 1)  # the sender now hangs inside this request
        for _ in range(2):
            world.round(down=("hefei-fw1", "feidong-rtr1"))
        notify_state_updated()
        assert wait(
            lambda: (
                db.execute(
                    "SELECT COUNT(*) FROM alert_alerts WHERE subject_id = 'feidong-rtr1' AND state = 'firing'"
                ).fetchone()[0]
                == 1
            )
        )
        assert not gate.is_set() and len(hook.requests) == 1  # evaluated while the first send still hangs
        queued = db.execute("SELECT status FROM alert_notifications ORDER BY id").fetchall()
        assert queued == [("queued",), ("queued",)]  # first in flight (not yet recorded), second waiting
        gate.set()
        assert wait(lambda: len(hook.requests) == 2)
        assert wait(lambda: {s for (s,) in db.execute("SELECT status FROM alert_notifications")} == {"sent"})
    finally:
        gate.set()
        runner.stop()
        hook.stop()
        db.conn.close()


def test_hanging_sms_gateway_does_not_delay_the_webhook(settings, monkeypatch):
    from nms.alerts.channels import parse_channels

    monkeypatch.setenv("NMS_TEST_HOOK_KEY", "k")
    gate = threading.Event()
    sms, hook = HttpReceiver(gate=gate).start(), HttpReceiver().start()
    cfg = parse_channels(
        {
            "channels": {
                "sms": {"type": "sms", "url": sms.url + "/send"},
                "hook": {"type": "webhook", "url": hook.url + "/hook", "secret_env": "NMS_TEST_HOOK_KEY"},
            },
            "recipients": {"noc": [{"channel": "sms", "to": "13800000001"}, {"channel": "hook"}]},
        }
    )
    db = open_migrated(settings, "centre")
    world = World(db)
    runner = Runner(settings, Engine(make_rules(), world.inv, cfg), interval_s=30.0).start()
    runner.sender.poll_s = 0.05
    try:
        world.round()
        for _ in range(2):
            world.round(down=("hefei-fw1",))
        notify_state_updated()
        assert wait(lambda: len(sms.requests) == 1)
        assert wait(lambda: len(hook.requests) == 1)  # delivered while the SMS gateway still hangs
        # the receiver counts the request before it answers: the sender records "sent" just after
        assert wait(
            lambda: (
                dict(db.execute("SELECT channel, status FROM alert_notifications").fetchall())
                == {"sms": "queued", "hook": "sent"}
            )
        )
        assert not gate.is_set()
        gate.set()
        assert wait(
            lambda: (
                dict(db.execute("SELECT channel, status FROM alert_notifications").fetchall())
                == {"sms": "sent", "hook": "sent"}
            )
        )
    finally:
        gate.set()
        runner.stop()
        sms.stop()
        hook.stop()
        db.conn.close()
