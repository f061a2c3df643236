"""Alert rules on reconciliation findings: a mis-cabled port pages where a rule says so."""

from __future__ import annotations

import time

import pytest

from ipam import observed
from nms.alerts.engine import Engine
from nms.alerts.rules import RulesError, load_rules
from tests.alerts.conftest import make_channels, make_rules

LLDP_RIGHT = {"local_port": "GE0/0/1", "remote_name": "hefei-rtr1", "remote_port": "GE0/0/2"}


def lldp(world, rows, ts):
    observed.record(world.db, "feidong-rtr1", "hefei-feidong", "专网",
                    {"interface": [], "arp": [], "lldp": rows}, ts)


def test_a_cabling_finding_fires_its_rule_and_resolves_when_the_cable_is_right(world):
    now = time.time()
    eng = Engine(make_rules([
        {"name": "cabling", "kind": "address_finding", "findings": ["cabling"], "severity": "minor"},
        {"name": "dups", "kind": "address_finding", "findings": "duplicate", "severity": "major"}]),
        world.inv, make_channels())
    lldp(world, [LLDP_RIGHT], now - 10)
    eng.evaluate(world.db, now - 9)
    assert world.alerts() == []
    lldp(world, [{**LLDP_RIGHT, "remote_name": "prov-rtr1", "remote_port": "POS1/0/0"}], now)
    eng.evaluate(world.db, now + 1)
    (alert,) = world.alerts()
    assert (alert["rule"], alert["subject_id"]) == ("cabling", "feidong-rtr1:GE0/0/1")
    assert alert["state"] == "firing"
    assert "hefei-feidong" in alert["reason"] and "prov-rtr1" in alert["reason"]
    lldp(world, [LLDP_RIGHT], now + 2)
    eng.evaluate(world.db, now + 3)
    assert [a["state"] for a in world.alerts()] == ["resolved"]


def test_the_shipped_rules_page_cabling_and_bad_finding_kinds_are_refused():
    shipped = load_rules()
    rule = shipped.get("cabling-mismatch")
    assert rule is not None and rule.kind == "address_finding" and rule.findings == ("cabling",)
    with pytest.raises(RulesError, match=r"rules\[x\]\.findings"):
        make_rules([{"name": "x", "kind": "address_finding", "findings": ["all"], "severity": "minor"}])
