"""Lifecycle, root cause, flapping, maintenance and escalation through the real state machine."""

from __future__ import annotations

import json

from nms import maintenance
from nms.alerts import store
from nms.alerts.engine import Engine
from nms.state import StateConfig
from tests.alerts.conftest import World, make_channels, make_rules


def test_link_cut_pages_once_and_lists_what_is_behind(world, engine):
    for _ in range(2):
        world.round()
    assert engine.evaluate(world.db, world.t).conditions == 0
    for _ in range(2):  # the SDH link is cut: LOS at the centre, the city agent's batches are lost
        world.round(los=("LOS",), hefei=False)
    engine.evaluate(world.db, world.t)
    pages = world.pages()
    assert [p[1] for p in pages] == ["link-down:prov-hefei"]
    root = world.alerts("rule = 'link-down'")[0]
    children = json.loads(root["children"])
    behind = {c["id"]: c["state"] for c in children if c["kind"] == "device"}
    assert behind == {
        "hefei-rtr1": "unreachable (parent)",
        "hefei-fw1": "unreachable (parent)",
        "feidong-rtr1": "unreachable (parent)",
    }
    los = world.alerts("rule = 'sdh-defect'")[0]
    assert los["root_id"] == root["id"] and los["state"] == "firing" and not los["notified"]
    assert any(c.get("alert_id") == los["id"] for c in children)


def test_parent_recovers_child_still_down_alerts_on_its_own(world, engine):
    world.round()
    for _ in range(2):
        world.round(los=("LOS",), hefei=False)
    engine.evaluate(world.db, world.t)
    for _ in range(2):  # link back, the county router stays down
        world.round(down=("feidong-rtr1",))
    engine.evaluate(world.db, world.t)
    link = world.alerts("rule = 'link-down' AND subject_id = 'prov-hefei'")[0]
    assert link["state"] == "resolved"
    assert [p[1] for p in world.pages()] == ["link-down:prov-hefei", "device-down:feidong-rtr1"]
    assert [p[1] for p in world.pages("resolved")] == ["link-down:prov-hefei"]
    # the MSTP link is down only because its end device is: folded under the device
    mstp = world.alerts("subject_id = 'hefei-feidong' AND state != 'resolved'")[0]
    dev = world.alerts("rule = 'device-down'")[0]
    assert mstp["root_id"] == dev["id"] and not mstp["notified"]


def test_dedup_and_grace(world):
    eng = Engine(
        make_rules(
            [
                {
                    "name": "device-down",
                    "kind": "state",
                    "subject": "device",
                    "severity": "critical",
                    "grace_s": 120,
                }
            ]
        ),
        world.inv,
        make_channels(),
    )
    world.round()
    for _ in range(2):
        world.round(down=("hefei-fw1",))
    eng.evaluate(world.db, world.t)
    eng.evaluate(world.db, world.t)
    (a,) = world.alerts()
    assert a["state"] == "pending" and world.pages() == []
    for _ in range(4):
        world.round(down=("hefei-fw1",))
        eng.evaluate(world.db, world.t)
    (a,) = world.alerts()
    assert a["state"] == "firing"
    assert len(world.pages()) == 1


def test_interface_toggling_every_poll_is_one_flapping_alert(db):
    world = World(db, StateConfig(1, 1))  # no hysteresis: every poll changes the interface state
    eng = Engine(
        make_rules(
            [{"name": "interface-down", "kind": "state", "subject": "interface", "severity": "minor"}],
            flap_threshold=3,
            flap_window_s=900,
        ),
        world.inv,
        make_channels(),
    )
    world.round()
    for i in range(20):
        state = "down" if i % 2 == 0 else "up"
        world.round(oper={"hefei-rtr1": {"GE0/0/2": state}})
        eng.evaluate(db, world.t)
    alerts = world.alerts()
    assert len(alerts) == 1
    assert alerts[0]["flapping"] == 1 and alerts[0]["state"] == "firing"
    firing = world.pages("firing") + world.pages("flapping")
    assert len(firing) <= 2  # the first page, then one "flapping" notice; never one per toggle
    # it calms down: resolves once the window has no more flaps
    for _ in range(40):
        world.round(step=30)
        eng.evaluate(db, world.t)
    assert world.alerts()[0]["state"] == "resolved"
    assert len(world.alerts()) == 1


def test_maintenance_mutes_and_skip_drops(world, engine):
    now = world.t
    wid = maintenance.add_window(world.db, "device", "hefei-fw1", now - 10, now + 86400, actor="test")
    world.round()
    for _ in range(2):
        world.round(down=("hefei-fw1",))
    engine.evaluate(world.db, world.t)
    (a,) = world.alerts("rule = 'device-down'")
    assert a["state"] == "firing" and a["muted"] == "maintenance"
    assert world.pages() == []
    store.set_window_mode(world.db, wid, "skip")
    engine.evaluate(world.db, world.t)
    assert world.alerts("rule = 'device-down' AND state != 'resolved'") == []
    assert world.pages() == []


def test_unacknowledged_alert_escalates_acknowledged_does_not(world):
    rules = make_rules(
        [
            {
                "name": "device-down",
                "kind": "state",
                "subject": "device",
                "severity": "critical",
                "escalate": [{"after_s": 300, "notify": ["boss"]}],
            }
        ]
    )
    eng = Engine(rules, world.inv, make_channels())
    world.round()
    for _ in range(2):
        world.round(down=("hefei-fw1", "feidong-rtr1"))
    eng.evaluate(world.db, world.t)
    fw = world.alerts("subject_id = 'hefei-fw1'")[0]
    store.acknowledge(world.db, fw["id"], "ops1", "on it")
    eng.evaluate(world.db, world.t + 400)
    esc = world.db.execute(
        "SELECT alert_id, recipient FROM alert_notifications WHERE event = 'escalation'"
    ).fetchall()
    rtr = world.alerts("subject_id = 'feidong-rtr1'")[0]
    assert esc == [(rtr["id"], "http://127.0.0.1:9/hook/boss")]
    eng.evaluate(world.db, world.t + 800)  # one step, escalated once
    assert (
        world.db.execute("SELECT COUNT(*) FROM alert_notifications WHERE event = 'escalation'").fetchone()[0]
        == 1
    )


def test_no_channels_records_but_says_nobody_was_told(world):
    eng = Engine(make_rules(), world.inv, None)
    world.round()
    for _ in range(2):
        world.round(down=("hefei-fw1",))
    eng.evaluate(world.db, world.t)
    (a,) = world.alerts("rule = 'device-down'")
    hist = world.db.execute(
        "SELECT event, detail FROM alert_history WHERE alert_id = ?", (a["id"],)
    ).fetchall()
    assert ("not-notified", "firing: no recipients configured for noc") in hist


def test_recurring_window_on_a_site_subtree_skips_everything_below(world, engine):
    day = 86400
    # a weekly window on the city and its counties that started two weeks ago and is on now
    wid = maintenance.add_window(
        world.db,
        "site",
        "hefei",
        world.t - 14 * day - 60,
        world.t - 14 * day + 7200,
        actor="test",
        subtree=True,
        rrule="weekly",
        reason="周二割接",
    )
    store.set_window_mode(world.db, wid, "skip")
    world.round()
    for _ in range(2):
        world.round(down=("feidong-rtr1", "hefei-fw1"))
    engine.evaluate(world.db, world.t)
    assert world.alerts() == [] and world.pages() == []
    # three days later the weekly window is not on: the same failures alert
    engine.evaluate(world.db, world.t + 3 * day)
    assert sorted(a["subject_id"] for a in world.alerts("root_id IS NULL")) == ["feidong-rtr1", "hefei-fw1"]


def test_sms_text_fits_one_message():
    from nms.alerts.message import SMS_MAX, sms_text

    long = "链路" + "很长的名字" * 30 + "中断"
    text = sms_text({"severity": "critical", "event": "firing", "summary": long, "started_ts": 1764097200.0})
    assert len(text) == SMS_MAX and text.startswith("【紧急告警】链路") and text.endswith("…")
    short = sms_text({"severity": "minor", "event": "resolved", "summary": "sdh-hefei", "resolved_ts": 1.0e9})
    assert short.startswith("【次要恢复】sdh-hefei") and len(short) < SMS_MAX
