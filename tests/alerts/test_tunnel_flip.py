"""A tunnel dropping and coming back on the simulator: one subject, down then up, its alert resolved.

Real SNMP polls of the simulated province (the dropped SA's row vanishes from the cipher
machine's table) -> real ingest over HTTP -> state -> alerts.  Also: cutting the SDH
link under a tunnel takes the tunnel down, folded under the link's alert.
"""

from __future__ import annotations

import pytest

from nms import state
from nms.alerts.engine import Engine
from nms.schema import open_migrated
from tests.alerts.conftest import make_channels, make_rules
from tests.alerts.test_storm import CITY, RULES, Agents, centre, province  # noqa: F401 - fixtures

CITY_CIPHER, COUNTY_CIPHER = f"{CITY}-int-cipher1", "lujiang-int-cipher1"


def tunnels(db) -> dict[str, tuple[str, str | None]]:
    return {k: (v["state"], v["reason"]) for k, v in state.current(db)["tunnel"].items()}


def open_tunnel_alerts(db) -> list[tuple[str, str, int | None]]:
    return db.execute(
        "SELECT subject_id, state, root_id FROM alert_alerts WHERE rule = 'tunnel-down'"
        " AND state != 'resolved' ORDER BY subject_id"
    ).fetchall()


@pytest.fixture
def world(province, centre):  # noqa: F811
    """(simulator, both agents, engine with the tunnel rules, centre.db)."""
    inv, sim = province
    settings, url, tokens = centre
    db = open_migrated(settings, "centre")
    yield sim, Agents(inv, sim, url, tokens), Engine(make_rules(RULES), inv, make_channels()), db
    db.conn.close()


def test_tunnel_up_gone_up_returns_to_up_and_its_alert_resolves(world):
    sim, agents, engine, db = world
    agents.round()
    both = (f"{COUNTY_CIPHER}>{CITY_CIPHER}", f"{CITY_CIPHER}>{COUNTY_CIPHER}")
    before = tunnels(db)
    assert all(before[s] == ("up", None) for s in both)
    assert before[f"anhui-int-cipher1>{CITY_CIPHER}"] == ("up", None)  # the hub expects the city

    sim.fault("tunnel-down", CITY_CIPHER, COUNTY_CIPHER)
    for _ in range(2):
        agents.round()
    engine.evaluate(db)
    now = tunnels(db)
    assert all(now[s] == ("down", "no SA") for s in both)  # the same subjects, rows gone
    assert set(now) == set(before)  # no second subject keyed by address
    assert [a[:2] for a in open_tunnel_alerts(db)] == [(s, "firing") for s in sorted(both)]

    sim.fault("tunnel-up", CITY_CIPHER, COUNTY_CIPHER)
    agents.round()
    engine.evaluate(db)
    assert tunnels(db) == before
    assert open_tunnel_alerts(db) == []
    resolved = db.execute(
        "SELECT subject_id FROM alert_alerts WHERE rule = 'tunnel-down' AND state = 'resolved'"
    ).fetchall()
    assert sorted(r[0] for r in resolved) == sorted(both)


def test_sdh_cut_takes_the_tunnels_across_it_down_under_the_link_alert(world):
    sim, agents, engine, db = world
    agents.round()
    sim.fault("link-down", f"sdh-{CITY}")
    for _ in range(2):
        agents.round()
    engine.evaluate(db)
    hub_side = [f"anhui-int-cipher{i}>{CITY_CIPHER}" for i in (1, 2)]
    now = tunnels(db)
    assert all(now[s] == ("down", "no SA") for s in hub_side)
    assert now[f"{CITY_CIPHER}>{COUNTY_CIPHER}"] == ("up", None)  # not across the cut
    (link,) = db.execute(
        "SELECT id FROM alert_alerts WHERE rule = 'link-down' AND subject_id = ?", (f"sdh-{CITY}",)
    ).fetchall()
    alerts = {a[0]: a for a in open_tunnel_alerts(db)}
    assert set(hub_side) <= set(alerts)
    assert all(alerts[s][2] == link[0] for s in hub_side)  # consequences of the cut, not pages

    sim.fault("link-up", f"sdh-{CITY}")
    agents.round()
    engine.evaluate(db)
    assert all(tunnels(db)[s] == ("up", None) for s in hub_side)
    assert open_tunnel_alerts(db) == []
