"""A tiny province fed through the real state machine, and rule/channel builders."""

from __future__ import annotations

import time
from typing import Any

import pytest

from nms.alerts.channels import ChannelConfig, parse_channels
from nms.alerts.engine import Engine
from nms.alerts.rules import RuleSet, parse_rules
from nms.schema import create_schema
from nms.state import StateConfig, apply_batch
from tests.centre.helpers import poll, small_inventory

BASIC_RULES = [
    {"name": "device-down", "kind": "state", "subject": "device", "severity": "critical"},
    {"name": "link-down", "kind": "state", "subject": "link", "severity": "critical"},
    {
        "name": "sdh-defect",
        "kind": "state",
        "subject": "interface",
        "reason_match": "^SDH",
        "severity": "critical",
    },
    {"name": "interface-down", "kind": "state", "subject": "interface", "severity": "minor"},
]


def make_rules(rules: list[dict[str, Any]] | None = None, **defaults: Any) -> RuleSet:
    return parse_rules(
        {"version": 1, "defaults": {"notify": ["noc"], **defaults}, "rules": rules or BASIC_RULES}
    )


def make_channels(url: str = "http://127.0.0.1:9/hook", **delivery: Any) -> ChannelConfig:
    return parse_channels(
        {
            "channels": {"hook": {"type": "webhook", "url": url, "secret_env": "NMS_TEST_HOOK_KEY"}},
            "recipients": {"noc": [{"channel": "hook"}], "boss": [{"channel": "hook", "to": url + "/boss"}]},
            "delivery": delivery or {"backoff_s": 1},
        }
    )


class World:
    """prov-rtr1 -(SDH prov-hefei)- hefei-rtr1 -(MSTP hefei-feidong)- feidong-rtr1, + hefei-fw1."""

    def __init__(self, db, state_config: StateConfig | None = None) -> None:
        create_schema(db)  # what the centre does at start; stores make no tables per call
        self.db = db
        self.inv = small_inventory()
        self.seq = 0
        self.cfg = state_config or StateConfig(2, 1)
        self.t = time.time() - 3600

    def round(
        self,
        *,
        los: tuple[str, ...] = (),
        hefei: bool = True,
        down: tuple[str, ...] = (),
        oper: dict[str, dict[str, str]] | None = None,
        step: float = 30.0,
    ) -> float:
        """One poll of every device; the hefei agent's batch is lost when ``hefei`` is False."""
        self.t += step
        self.seq += 1
        oper = oper or {}
        apply_batch(
            self.db,
            "prov",
            self.seq,
            [poll("prov-rtr1", self.t, "prov-rtr1" not in down, los=los, oper=oper.get("prov-rtr1"))],
            self.inv,
            self.cfg,
        )
        if hefei:
            self.seq += 1
            apply_batch(
                self.db,
                "hefei",
                self.seq,
                [
                    poll(d, self.t, d not in down, los=los if d == "hefei-rtr1" else (), oper=oper.get(d))
                    for d in ("hefei-rtr1", "hefei-fw1", "feidong-rtr1")
                ],
                self.inv,
                self.cfg,
            )
        return self.t

    def alerts(self, where: str = "1=1") -> list[dict[str, Any]]:
        cur = self.db.execute(f"SELECT * FROM alert_alerts WHERE {where} ORDER BY id")
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur]

    def pages(self, event: str = "firing") -> list[tuple[int, str]]:
        return self.db.execute(
            "SELECT a.id, a.rule || ':' || a.subject_id FROM alert_notifications n JOIN alert_alerts a"
            " ON a.id = n.alert_id WHERE n.event = ? ORDER BY n.id",
            (event,),
        ).fetchall()


@pytest.fixture
def db(centre_db):
    return centre_db


@pytest.fixture
def world(db):
    return World(db)


@pytest.fixture
def engine(world):
    return Engine(make_rules(), world.inv, make_channels())
