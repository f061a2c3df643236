"""Notifications delivered to real peers on loopback: SMS gateway, SMTP, webhook, Alertmanager."""

from __future__ import annotations

import json
import time
import urllib.parse
from email import message_from_bytes
from email.header import decode_header, make_header

import pytest

from nms.alerts.channels import ConfigError, parse_channels
from nms.alerts.channels.webhook import verify
from nms.alerts.engine import Engine
from nms.alerts.outbox import Outbox
from tests.alerts.conftest import make_rules
from tests.alerts.peers import Alertmanager, HttpReceiver, SmtpSink
from tests.support.ports import free_port

HOOK_KEY = "hook-secret-for-tests"
SMS_KEY = "sms-gateway-key-for-tests"


@pytest.fixture
def peers(tmp_path):
    sms, hook, smtp = HttpReceiver().start(), HttpReceiver().start(), SmtpSink().start()
    am = Alertmanager(tmp_path).start()
    yield {"sms": sms, "hook": hook, "smtp": smtp, "am": am}
    for p in (sms, hook, smtp, am):
        p.stop()


def channels_for(peers, sms_url=None, **delivery):
    return parse_channels(
        {
            "channels": {
                "sms": {
                    "type": "sms",
                    "url": sms_url or peers["sms"].url + "/send",
                    "key_env": "NMS_TEST_SMS_KEY",
                    "params": {"apikey": "{key}", "mobile": "{to}", "content": "{message}"},
                    "ok_match": '"code": 0',
                },
                "mail": {
                    "type": "email",
                    "host": "127.0.0.1",
                    "port": peers["smtp"].port,
                    "sender": "nms@test.example",
                },
                "hook": {
                    "type": "webhook",
                    "url": peers["hook"].url + "/nms",
                    "secret_env": "NMS_TEST_HOOK_KEY",
                },
                "am": {"type": "alertmanager", "url": peers["am"].url},
            },
            "recipients": {
                "noc": [
                    {"channel": "sms", "to": "13800000001"},
                    {"channel": "mail", "to": "noc@test.example"},
                    {"channel": "hook"},
                    {"channel": "am"},
                ]
            },
            "delivery": delivery or {"backoff_s": 1},
        }
    )


@pytest.fixture(autouse=True)
def _secrets(monkeypatch):
    monkeypatch.setenv("NMS_TEST_HOOK_KEY", HOOK_KEY)
    monkeypatch.setenv("NMS_TEST_SMS_KEY", SMS_KEY)


def cut_link(world):
    world.round()
    for _ in range(2):
        world.round(los=("LOS",), hefei=False)


def test_every_channel_delivers_to_a_real_peer(world, peers):
    eng = Engine(make_rules(), world.inv, channels_for(peers))
    cut_link(world)
    eng.evaluate(world.db)
    assert Outbox(eng.channels).run_once(world.db) == 4
    statuses = world.db.execute(
        "SELECT channel, status, attempts FROM alert_notifications ORDER BY id"
    ).fetchall()
    assert statuses == [("sms", "sent", 1), ("mail", "sent", 1), ("hook", "sent", 1), ("am", "sent", 1)]

    (sms,) = peers["sms"].requests
    form = urllib.parse.parse_qs(sms.body.decode())
    assert form["apikey"] == [SMS_KEY] and form["mobile"] == ["13800000001"]
    text = form["content"][0]
    assert len(text) <= 70 and "prov-hefei" in text and "紧急" in text

    (mail,) = peers["smtp"].messages
    msg = message_from_bytes(mail.content)
    assert mail.rcpt_tos == ["noc@test.example"]
    assert str(make_header(decode_header(msg["Subject"]))) == "[NMS 紧急告警] prov-hefei link-down"

    (hook,) = peers["hook"].requests
    headers = {k.lower(): v for k, v in hook.headers.items()}
    assert verify(HOOK_KEY, headers["x-nms-timestamp"], hook.body, headers["x-nms-signature"])
    assert not verify("wrong-key", headers["x-nms-timestamp"], hook.body, headers["x-nms-signature"])
    body = json.loads(hook.body)
    assert body["rule"] == "link-down" and body["subject_id"] == "prov-hefei" and body["event"] == "firing"
    assert body["children_count"] >= 3

    listed = peers["am"].alerts()
    assert [(a["labels"]["alertname"], a["labels"]["subject"]) for a in listed] == [
        ("link-down", "prov-hefei")
    ]
    assert listed[0]["annotations"]["summary"] == "prov-hefei link-down"  # BASIC_RULES have no template

    # the attempts are logged and shown in the alert detail
    from nms.alerts.store import detail

    d = detail(world.db, body["alert_id"])
    assert {n["channel"]: n["log"][0]["ok"] for n in d["notifications"]} == {
        "sms": True,
        "mail": True,
        "hook": True,
        "am": True,
    }


def test_resolution_reaches_alertmanager(world, peers):
    eng = Engine(make_rules(), world.inv, channels_for(peers))
    cut_link(world)
    eng.evaluate(world.db)
    Outbox(eng.channels).run_once(world.db)
    world.round()
    eng.evaluate(world.db)
    Outbox(eng.channels).run_once(world.db)
    sent = world.db.execute(
        "SELECT channel, status FROM alert_notifications WHERE event = 'resolved'"
    ).fetchall()
    assert sorted(sent) == [("am", "sent"), ("hook", "sent"), ("mail", "sent"), ("sms", "sent")]
    assert [a for a in peers["am"].alerts() if a["status"]["state"] == "active"] == []


def test_gateway_down_retries_logs_and_evaluation_carries_on(world, peers):
    dead = f"http://127.0.0.1:{free_port()}/send"  # nothing listens there
    cfg = channels_for(peers, sms_url=dead, max_attempts=2, backoff_s=30)
    cfg.groups["noc"] = [("sms", "13800000001")]
    eng = Engine(make_rules(), world.inv, cfg)
    cut_link(world)
    eng.evaluate(world.db)
    out = Outbox(cfg)
    assert out.run_once(world.db) == 1
    (n,) = world.db.execute(
        "SELECT id, status, attempts, next_ts, last_error FROM alert_notifications"
    ).fetchall()
    assert n[1] == "retry" and n[2] == 1 and n[3] > time.time() + 20 and "unreachable" in n[4]
    assert out.run_once(world.db) == 0  # backing off: not due yet
    # evaluation is not held up by the dead gateway: a new failure still raises a new alert
    for _ in range(2):
        world.round(los=("LOS",), hefei=False, down=("prov-rtr1",))
    stats = eng.evaluate(world.db)
    assert stats.created >= 1
    assert out.run_once(world.db, now=time.time() + 60) >= 1
    status = world.db.execute(
        "SELECT status, attempts FROM alert_notifications WHERE id = ?", (n[0],)
    ).fetchone()
    assert status == ("failed", 2)
    from nms.alerts.store import notifications

    (failed,) = notifications(world.db, status="failed")
    assert failed["id"] == n[0] and [a["ok"] for a in failed["log"]] == [False, False]
    log = world.db.execute(
        "SELECT ok, detail FROM alert_notification_log WHERE notification_id = ?", (n[0],)
    ).fetchall()
    assert [ok for ok, _ in log] == [0, 0] and "gave up after 2 attempts" in log[-1][1]


def test_a_failing_gateway_costs_one_attempt_per_pass_not_one_per_message(world, peers):
    dead = f"http://127.0.0.1:{free_port()}/send"
    cfg = channels_for(peers, sms_url=dead, backoff_s=30)
    cfg.groups["noc"] = [("sms", "13800000001"), ("sms", "13800000002"), ("sms", "13800000003"), ("hook", "")]
    eng = Engine(make_rules(), world.inv, cfg)
    cut_link(world)
    eng.evaluate(world.db)
    assert Outbox(cfg).run_once(world.db) == 2  # one SMS attempt, then the webhook
    rows = world.db.execute(
        "SELECT channel, status, attempts FROM alert_notifications ORDER BY id"
    ).fetchall()
    assert rows == [("sms", "retry", 1), ("sms", "queued", 0), ("sms", "queued", 0), ("hook", "sent", 1)]
    assert Outbox(cfg).run_once(world.db) == 0  # all three SMS wait out the back-off


def test_gateway_error_status_and_refusal_are_failures(world, peers):
    peers["sms"].reply = b'{"code": 17, "msg": "balance"}'
    cfg = channels_for(peers)
    cfg.groups["noc"] = [("sms", "13800000001")]
    eng = Engine(make_rules(), world.inv, cfg)
    cut_link(world)
    eng.evaluate(world.db)
    Outbox(cfg).run_once(world.db)
    ((status, err),) = world.db.execute("SELECT status, last_error FROM alert_notifications").fetchall()
    assert status == "retry" and "refused" in err and len(peers["sms"].requests) == 1


def test_rate_limit_per_recipient(world, peers):
    cfg = channels_for(peers, rate_limit=1)
    cfg.groups["noc"] = [("hook", "")]
    eng = Engine(make_rules(), world.inv, cfg)
    world.round()
    for _ in range(2):
        world.round(down=("hefei-fw1", "feidong-rtr1"))
    eng.evaluate(world.db)
    Outbox(cfg).run_once(world.db)
    statuses = sorted(s for (s,) in world.db.execute("SELECT status FROM alert_notifications"))
    assert statuses == ["rate_limited", "sent"]
    assert len(peers["hook"].requests) == 1


def test_inline_secret_refused_and_missing_secret_named(monkeypatch):
    with pytest.raises(ConfigError) as exc:
        parse_channels(
            {
                "channels": {
                    "hook": {
                        "type": "webhook",
                        "url": "http://127.0.0.1:1/",
                        "secret": "x",
                        "secret_env": "K",
                    }
                }
            }
        )
    assert "channels[hook].secret: secret given inline" in exc.value.errors[0]
    monkeypatch.delenv("NMS_TEST_HOOK_KEY")
    cfg = parse_channels(
        {
            "channels": {
                "hook": {"type": "webhook", "url": "http://127.0.0.1:1/", "secret_env": "NMS_TEST_HOOK_KEY"}
            }
        }
    )
    from nms.alerts.channels import ChannelError

    with pytest.raises(ChannelError, match="define environment variable NMS_TEST_HOOK_KEY"):
        cfg.channels["hook"].send("", {"event": "test"})


def test_notification_peer_outside_loopback_refused(monkeypatch):
    monkeypatch.delenv("NMS_ALLOW_NETWORK", raising=False)
    cfg = parse_channels({"channels": {"am": {"type": "alertmanager", "url": "http://10.34.0.99:9093"}}})
    from nms.alerts.channels import ChannelError

    with pytest.raises(ChannelError, match="outside 127.0.0.0/8"):
        cfg.channels["am"].send("", {"event": "firing", "rule": "x"})


def test_a_channels_file_names_the_line_of_each_problem(tmp_path):
    from nms.alerts.channels import load_channels

    path = tmp_path / "channels.yaml"
    path.write_text(
        "channels:\n"
        "  mail: {type: email, host: 127.0.0.1, sender: nobody, port: 70000}\n"
        "recipients:\n"
        "  noc:\n"
        "    - {channel: nope, to: a@b}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as exc:
        load_channels(path)
    assert exc.value.errors == [
        f"{path}:2: channels[mail].sender: expected an e-mail address, got 'nobody'",
        f"{path}:2: channels[mail].port: must be <= 65535, got 70000",
        f"{path}:5: recipients[noc][0].channel: no channel 'nope'",
    ]

