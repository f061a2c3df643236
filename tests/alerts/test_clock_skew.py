"""An agent whose clock runs ahead: its batches are refused and the shipped rule raises an alert."""

from __future__ import annotations

import time

import pytest

from nms.alerts.engine import Engine
from nms.alerts.rules import load_rules
from nms.pipeline import ClockSkew, ingest_batch
from tests.alerts.conftest import make_channels
from tests.centre.helpers import batch, poll, small_inventory


def skew_alerts(db) -> list[tuple[str, str]]:
    return db.execute(
        "SELECT subject_id, state FROM alert_alerts WHERE rule = 'agent-clock-skew' ORDER BY id"
    ).fetchall()


def test_clock_skew_alert_raised_then_resolved_when_in_time(metrics_db, centre_db):
    inv = small_inventory()
    engine = Engine(load_rules(), inv, make_channels())
    t = time.time() - 600

    def send(seq: int, polls: list[dict], now: float) -> None:
        ingest_batch(metrics_db, centre_db, "hefei", batch("hefei", seq, polls), inv, now=now)

    send(1, [poll("hefei-rtr1", t)], t + 1)
    engine.evaluate(centre_db, t + 2)
    assert skew_alerts(centre_db) == []
    for seq, dt in ((2, 60), (3, 120)):  # the agent's clock jumped a day ahead
        with pytest.raises(ClockSkew):
            send(seq, [poll("hefei-rtr1", t + dt - 1), poll("feidong-rtr1", t + 86400 + dt)], t + dt)
    engine.evaluate(centre_db, t + 121)
    (alert,) = centre_db.execute(
        "SELECT subject_kind, subject_id, state, severity, summary, value FROM alert_alerts"
        " WHERE rule = 'agent-clock-skew'"
    ).fetchall()
    assert alert[:4] == ("agent", "hefei", "firing", "major")
    assert "hefei" in alert[4] and alert[5] == 86400
    (refusals,) = centre_db.execute("SELECT refusals FROM ingest_clock_skew").fetchone()
    assert refusals == 2
    send(3, [poll("hefei-rtr1", t + 119)], t + 122)  # the in-time rest of the refused batch: same seq
    engine.evaluate(centre_db, t + 123)
    assert skew_alerts(centre_db) == [("hefei", "firing")]
    send(4, [poll("hefei-rtr1", t + 180), poll("feidong-rtr1", t + 180)], t + 181)  # clock fixed
    engine.evaluate(centre_db, t + 182)
    assert skew_alerts(centre_db) == [("hefei", "resolved")]
