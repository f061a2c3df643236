"""One topology: the state machine's *unreachable (parent)* and the alerts' root-cause
grouping come from the same graph, so on the shipped province they agree link by link."""

from __future__ import annotations

from typing import Any

import pytest

from nms import state
from nms.alerts.topology import RootCause, assign_roots
from nms.config import ROOT
from nms.state import Machine, StateConfig
from probes.common import topology as core
from probes.common.inventory import load_inventory
from probes.common.inventory_model import Inventory
from tests.centre.helpers import T0, poll

FAST = StateConfig(down_after=1, up_after=1)


@pytest.fixture(scope="module")
def province() -> Inventory:
    return load_inventory(ROOT / "inventory.yaml")


def province_polls(inv: Inventory, ts: float, dead: set[str], cut_at: tuple[str, str] | None) -> list[dict]:
    """One poll per device, each reporting its link-end interfaces (``cut_at`` oper down)."""
    ports: dict[str, list[str]] = {}
    for link in inv.links.values():
        for end in (link.a, link.b):
            ports.setdefault(end.device, []).append(end.interface)
    polls = []
    for name in inv.devices:
        p: dict[str, Any] = poll(name, ts, ok=name not in dead)
        if p["ok"]:
            template = p["interfaces"][0]
            p["interfaces"] = [
                {**template, "index": i + 1, "name": itf, "oper": "down" if (name, itf) == cut_at else "up"}
                for i, itf in enumerate(ports.get(name, []))
            ]
            p["sdh"] = []
        polls.append(p)
    return polls


def run(inv: Inventory, polls: list[dict], m: Machine | None = None) -> Machine:
    m = m or Machine({}, FAST)
    for p in polls:
        state.apply_poll(m, p, inv)
    state.settle_own(m)
    state.derive(m, inv, max(p["ts"] for p in polls))
    return m


def test_alerts_use_the_state_machines_graph_built_once(province):
    topo = RootCause.build(province)
    assert topo.graph is core.build(province)  # cached per inventory, not rebuilt per batch
    assert RootCause.build(province).graph is topo.graph


def test_lan_joins_one_network_only(province):
    topo = core.build(province)
    for name, edges in topo.adj.items():
        for other, lid in edges:
            if lid is None:
                a, b = province.devices[name], province.devices[other]
                assert (a.site, a.network) == (b.site, b.network)


@pytest.mark.parametrize("city", ["hefei", "chaohu", "huangshan"])
def test_cut_sdh_link_state_and_alert_grouping_agree(province, city):
    link = province.links[f"sdh-{city}"]
    topo = RootCause.build(province)
    behind = topo.behind("link", link.id)
    assert behind and link.b.device in behind
    m = run(province, province_polls(province, T0, set(), None))
    m = run(province, province_polls(province, T0 + 60, set(behind), (link.a.device, link.a.interface)), m)
    devices = {n: s for (k, n), s in m.subjects.items() if k == "device"}
    unreachable = {n for n, s in devices.items() if s.state == "unreachable"}
    assert unreachable == behind
    assert {devices[n].reason for n in unreachable} == {f"parent down: link {link.id}"}
    assert not {n for n, s in devices.items() if s.state == "down"}
    # the alerts fold every one of them under the link
    roots = assign_roots(topo, [("link", link.id)] + [("device", n) for n in unreachable])
    assert set(roots) == {("device", n) for n in unreachable}
    assert set(roots.values()) == {("link", link.id)}


def test_a_router_that_answers_ping_is_no_root_for_a_device_down_behind_it(province):
    """SNMP failing on the county router (wrong community) while its firewall dies: two causes."""
    topo = RootCause.build(province)
    router, firewall = "lujiang-int-rtr1", "lujiang-int-fw1"
    assert firewall in topo.behind("device", router)
    subjects = [("device", router), ("device", firewall)]
    reasons = {("device", router): "SNMP unreachable, ping ok: timeout", ("device", firewall): "SNMP down"}
    assert assign_roots(topo, subjects, reasons) == {}
    assert assign_roots(topo, subjects, {("device", router): "SNMP down: timeout"}) == {
        ("device", firewall): ("device", router)
    }
