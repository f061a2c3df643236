"""Rule files are checked whole; metric, SDH-bucket and config-event rules read real stored data."""

from __future__ import annotations

import time

import pytest

from nms.alerts.engine import Engine
from nms.alerts.rules import RulesError, load_rules, parse_rules
from nms.db import transaction
from nms.pipeline import store_batch
from nms.schema import open_migrated
from tests.alerts.conftest import make_channels, make_rules
from tests.centre.helpers import poll


def test_shipped_rules_load_and_cover_the_issue():
    rs = load_rules()
    kinds = {(r.kind, r.subject or r.metric) for r in rs.rules}
    assert {
        ("state", "device"),
        ("state", "link"),
        ("state", "tunnel"),
        ("state", "interface"),
        ("metric", "cpu_pct"),
        ("metric", "mem_pct"),
        ("metric", "sessions"),
        ("metric", "utilisation_pct"),
        ("metric", "error_pct"),
    } <= kinds
    assert {r.kind for r in rs.rules} >= {"sdh_errors", "agent_silent", "config_event"}
    assert rs.get("device-down").grace_s == 180 and rs.get("device-down").escalate


def test_every_problem_is_named():
    with pytest.raises(RulesError) as exc:
        parse_rules(
            {
                "version": 1,
                "rules": [
                    {"name": "a", "kind": "state", "subject": "device", "severity": "loud", "grace_s": -1},
                    {
                        "name": "b",
                        "kind": "metric",
                        "metric": "cpu_pct",
                        "severity": "major",
                        "colour": "red",
                    },
                    {"name": "a", "kind": "agent_silent", "severity": "info"},
                    {
                        "name": "c",
                        "kind": "state",
                        "subject": "device",
                        "severity": "info",
                        "reason_match": "(",
                    },
                ],
            },
            "r.yaml",
        )
    errors = exc.value.errors
    assert (
        "r.yaml: rules[a].severity: expected one of critical, major, minor, warning, info, got 'loud'"
        in errors
    )
    assert "r.yaml: rules[a].grace_s: must be >= 0, got -1" in errors
    assert "r.yaml: rules[b].colour: unknown field for a metric rule" in errors
    assert "r.yaml: rules[b].above: required field missing" in errors
    assert "r.yaml: rules[a].name: duplicate rule name" in errors
    assert any(e.startswith("r.yaml: rules[c].reason_match: not a regular expression") for e in errors)


def test_cpu_above_threshold_for_the_whole_window_fires(world, settings):
    mdb = open_migrated(settings, "metrics")
    now = time.time()
    hot = [poll("hefei-fw1", now - 300 + 60 * i) for i in range(6)]
    for p in hot:
        p["health"]["cpu_pct"] = 97.0
    cool = [poll("hefei-rtr1", now - 300 + 60 * i) for i in range(6)]
    cool[2]["health"]["cpu_pct"] = 99.0  # one spike is not "for 5 minutes"
    store_batch(mdb, "hefei", 1, hot + cool)
    eng = Engine(
        make_rules(
            [
                {
                    "name": "cpu-high",
                    "kind": "metric",
                    "metric": "cpu_pct",
                    "above": 90,
                    "for_s": 240,
                    "severity": "major",
                }
            ]
        ),
        world.inv,
        make_channels(),
    )
    eng.evaluate(world.db, now, metrics_db=mdb)
    assert [(a["subject_id"], a["value"]) for a in world.alerts()] == [("hefei-fw1", 97.0)]
    mdb.conn.close()


def test_link_utilisation_from_stored_rates(world, settings):
    mdb = open_migrated(settings, "metrics")
    now = time.time()
    polls = [poll("hefei-rtr1", now - 300 + 60 * i) for i in range(6)]
    for p in polls:
        for itf in p["interfaces"]:
            if itf["name"] == "GE0/0/2":  # end of the 10 Mbit/s MSTP link hefei-feidong
                itf["out_bps"] = 9_600_000.0
    store_batch(mdb, "hefei", 1, polls)
    eng = Engine(
        make_rules(
            [
                {
                    "name": "util",
                    "kind": "metric",
                    "metric": "utilisation_pct",
                    "above": 90,
                    "for_s": 240,
                    "severity": "minor",
                }
            ]
        ),
        world.inv,
        make_channels(),
    )
    eng.evaluate(world.db, now, metrics_db=mdb)
    assert [(a["subject_id"], a["value"]) for a in world.alerts()] == [("hefei-rtr1:GE0/0/2", 96.0)]
    mdb.conn.close()


def test_sdh_errored_seconds_per_bucket_and_config_change(world):
    now = time.time()
    end = int(now // 900 * 900)
    with transaction(world.db):
        world.db.execute(
            "INSERT INTO state_sdh_pm (device, interface, layer, interval_end, es, ses, uas, valid) VALUES"
            " ('prov-rtr1', 'POS1/0/0', 'line', ?, 200, 3, 0, 1),"
            " ('hefei-rtr1', 'POS1/0/0', 'line', ?, 5, 0, 0, 1)",
            (end, end),
        )
        world.db.execute(
            "CREATE TABLE IF NOT EXISTS config_events (id INTEGER PRIMARY KEY, ts REAL, device TEXT,"
            " kind TEXT, version_id INTEGER, previous_version_id INTEGER, detail TEXT)"
        )
        world.db.execute(
            "INSERT INTO config_events (ts, device, kind) VALUES (?, 'hefei-fw1', 'changed')", (now - 60,)
        )
    eng = Engine(
        make_rules(
            [
                {
                    "name": "sdh-es",
                    "kind": "sdh_errors",
                    "es_above": 120,
                    "ses_above": 15,
                    "severity": "major",
                },
                {
                    "name": "config-changed",
                    "kind": "config_event",
                    "events": ["changed"],
                    "severity": "warning",
                    "resolve_after_s": 3600,
                },
            ]
        ),
        world.inv,
        make_channels(),
    )
    eng.evaluate(world.db, now)
    got = sorted((a["rule"], a["subject_id"], a["state"]) for a in world.alerts())
    assert got == [("config-changed", "hefei-fw1", "firing"), ("sdh-es", "prov-rtr1:POS1/0/0", "firing")]
    eng.evaluate(world.db, now + 4000)  # an hour later the config change is old news; the bucket too
    assert {a["state"] for a in world.alerts()} == {"resolved"}


def test_a_rules_file_names_the_line_of_each_problem(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(
        "version: 1\n"
        "rules:\n"
        "  - name: a\n"
        "    kind: state\n"
        "    subject: device\n"
        "    severity: info\n"
        "    grace_s: -1\n"
        "  - {name: b, kind: metric, metric: cpu_pct, severity: info}\n",
        encoding="utf-8",
    )
    with pytest.raises(RulesError) as exc:
        load_rules(path)
    assert exc.value.errors == [
        f"{path}:7: rules[a].grace_s: must be >= 0, got -1",
        f"{path}:8: rules[b].above: required field missing",
    ]

