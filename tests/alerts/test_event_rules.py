"""Alert rules on what devices report (``device_event``): five authentication failures from one
device in ten minutes page; one reported configuration change raises "configuration changed";
both resolve when their window no longer holds the events.  The shipped rules are the ones used."""

from __future__ import annotations

import json
import time

import pytest

from nms.alerts.engine import Engine
from nms.alerts.outbox import Outbox
from nms.alerts.rules import RulesError, load_rules, parse_rules
from nms.events import store
from probes.events.model import Event
from tests.alerts.conftest import make_channels
from tests.alerts.peers import HttpReceiver
from tests.centre.helpers import small_inventory

SITE_OF = {d.name: d.site for d in small_inventory().devices.values()}


def _push(db, seq: int, *events: tuple[float, str, str, str]) -> None:  # noqa: ANN001
    """Events (time, device, kind, text) as one agent batch into the event log."""
    batch = [Event(t, "10.0.0.1", dev, kind, "", "warning", text, b"", "syslog").as_dict()  # type: ignore[arg-type]
             for t, dev, kind, text in events]
    assert store.store(db, "hefei", "e1", seq, batch, SITE_OF, time.time()) == len(batch)


def _pages(hook: HttpReceiver) -> list[tuple[str, str, str]]:
    return [(b["event"], b["rule"], b["subject_id"]) for b in (json.loads(r.body) for r in hook.requests)]


def test_auth_failures_and_reported_config_change(centre_db, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("NMS_TEST_HOOK_KEY", "event-rules-hook")
    hook = HttpReceiver().start()
    try:
        rules = load_rules()  # the shipped file: auth-failures, config-change-reported
        engine = Engine(rules, small_inventory(), make_channels(hook.url + "/hook"))

        def run(now: float) -> list[tuple[str, str, str]]:
            engine.evaluate(centre_db, now=now)
            Outbox(engine.channels).run_once(centre_db)
            return _pages(hook)

        t0 = time.time() - 3000
        _push(centre_db, 1, *((t0 + 60 * i, "hefei-rtr1", "auth-failure", f"bad password {i}")
                              for i in range(4)))
        _push(centre_db, 2, (t0 + 30, "hefei-fw1", "login-failed", "ssh"),  # another device's
              (t0 + 40, "feidong-rtr1", "syslog", "session opened"))
        assert run(t0 + 300) == []  # 4 from hefei-rtr1, 1 from hefei-fw1: below 5
        _push(centre_db, 3, (t0 + 320, "hefei-rtr1", "login-failed", "ssh bad key"))
        assert run(t0 + 330) == [("firing", "auth-failures", "hefei-rtr1")]
        reason = centre_db.execute(
            "SELECT reason FROM alert_alerts WHERE rule = 'auth-failures'").fetchone()[0]
        assert reason.startswith("5 in 600 s, last: ssh bad key")
        _push(centre_db, 4, (t0 + 400, "feidong-rtr1", "config-changed", "%%01CFG/4/CFG_CHANGE"))
        assert run(t0 + 410)[-1] == ("firing", "config-change-reported", "feidong-rtr1")  # on its own
        run(t0 + 700)  # two failures have left the window: 3 < 5
        assert _resolved(centre_db, "auth-failures")
        assert not _resolved(centre_db, "config-change-reported")
        run(t0 + 400 + 3601)
        assert _resolved(centre_db, "config-change-reported")
        assert sum(p[0] == "firing" for p in _pages(hook)) == 2  # one page each
    finally:
        hook.stop()


def _resolved(db, rule: str) -> bool:  # noqa: ANN001
    return db.execute("SELECT state FROM alert_alerts WHERE rule = ?", (rule,)).fetchone()[0] == "resolved"


def test_bad_device_event_rules_are_named() -> None:
    base = {"name": "x", "kind": "device_event", "severity": "minor", "notify": ["noc"]}
    with pytest.raises(RulesError) as exc:
        parse_rules({"version": 1, "rules": [base]})
    assert "event_kinds" in str(exc.value)
    with pytest.raises(RulesError) as exc:
        parse_rules({"version": 1, "rules": [{**base, "event_kinds": ["Auth Failure"], "at_least": 0}]})
    text = str(exc.value)
    assert "event_kinds" in text and "at_least" in text


def test_reported_config_change_alert_links_to_the_config_versions(tmp_path, database_url) -> None:  # noqa: ANN001
    from tests.auth.helpers import app_db, make_app, role_client

    inv = small_inventory()
    app = make_app(tmp_path, inventory=inv, database_url=database_url)
    db = app_db(app)
    try:
        now = time.time()
        _push(db, 1, (now - 30, "feidong-rtr1", "config-changed", "%%01CFG/4/CFG_CHANGE"))
        Engine(load_rules(), inv, make_channels()).evaluate(db, now=now)
        (alert_id,) = db.execute(
            "SELECT id FROM alert_alerts WHERE rule = 'config-change-reported'").fetchone()
    finally:
        db.conn.close()
    page = role_client(app, "operator", "anhui").get(f"/console/alerts/{alert_id}").get_data(as_text=True)
    assert '/configs/device/feidong-rtr1"' in page and "versions and diff" in page
    viewer = role_client(app, "viewer", "anhui").get(f"/console/alerts/{alert_id}").get_data(as_text=True)
    assert f"告警 #{alert_id}" in viewer and "/configs/device/" not in viewer  # viewers lack configs.read
