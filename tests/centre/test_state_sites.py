"""Live site state per network (专网 internal / 外网 external), by the report's rule (nms.sitenet)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from nms import availability, sitenet, state
from nms.state import StateConfig, apply_batch
from tests.centre.helpers import T0, poll, small_inventory

STATES = state.STATES  # with snmp-unreachable (SNMP fails, ping answers)


def county_inventory():
    """The small province; Feidong has a 专网 router and switch and a 外网 router."""
    inv = small_inventory()
    rtr = inv.devices["feidong-rtr1"]
    inv.devices["feidong-sw1"] = replace(rtr, name="feidong-sw1", role="switch")
    inv.devices["feidong-ext-rtr1"] = replace(rtr, name="feidong-ext-rtr1", network="external")
    return inv


def feed(db, inv, minutes: int, failing: dict[str, range]) -> None:
    """Every device polled once a minute; ``failing[name]``: the minutes it does not answer."""
    for k in range(minutes):
        polls = [poll(d, T0 + 60 * k, ok=k not in failing.get(d, ())) for d in inv.devices]
        assert apply_batch(db, "hefei", k + 1, polls, inv, StateConfig(down_after=2, up_after=1))


def test_dead_internal_router_with_live_external_router_is_internal_down_external_up(centre_db):
    inv = county_inventory()
    feed(centre_db, inv, 3, {"feidong-rtr1": range(1, 3)})
    cur = state.current(centre_db)
    internal = cur["site_network"]["hefei-feidong/internal"]
    external = cur["site_network"]["hefei-feidong/external"]
    assert (internal["state"], internal["reason"]) == ("down", "all routers down")
    assert internal["since"] == T0 + 60  # the router's outage, dated at its first failed poll
    assert (external["state"], external["reason"]) == ("up", None)
    site = cur["site"]["hefei-feidong"]
    # the site is the worse of its networks, and says which is which (never "degraded", never up)
    assert site["state"] == "down"
    assert site["reason"] == "专网 internal down (all routers down); 外网 external up"
    # the switch behind the dead router still answers its agent: not evidence the 专网 works
    assert cur["device"]["feidong-sw1"]["state"] == "up"
    # the report says the same for the same minutes
    rows = availability.report(centre_db, T0, T0 + 180, inv, kinds=["site"])
    county = {r["network"]: r for r in rows if r["subject"] == "hefei-feidong"}
    assert (county["internal"]["down_s"], county["external"]["up_s"]) == (120, 180)


def test_an_other_device_down_degrades_its_network_only(centre_db):
    inv = county_inventory()
    feed(centre_db, inv, 3, {"feidong-sw1": range(1, 3)})
    cur = state.current(centre_db)
    internal = cur["site_network"]["hefei-feidong/internal"]
    assert (internal["state"], internal["reason"]) == ("degraded", "1 of 1 other devices not up")
    assert cur["site_network"]["hefei-feidong/external"]["state"] == "up"
    assert cur["site"]["hefei-feidong"]["state"] == "degraded"
    # ... and the report counts that time as degraded too (one rule)
    rows = availability.report(centre_db, T0, T0 + 180, inv, kinds=["site"])
    county = {r["network"]: r for r in rows if r["subject"] == "hefei-feidong"}
    assert county["internal"]["degraded_s"] == 120 and county["external"]["degraded_s"] == 0
    feed_back = [poll(d, T0 + 180) for d in inv.devices]
    assert apply_batch(centre_db, "hefei", 9, feed_back, inv)
    assert state.current(centre_db)["site"]["hefei-feidong"] == {
        "state": "up",
        "since": T0 + 180,
        "reason": None,
    }


def test_a_network_without_a_router_is_judged_by_all_its_devices():
    inv = county_inventory()
    inv.devices["feidong-ext-fw1"] = replace(
        inv.devices["feidong-rtr1"], name="feidong-ext-fw1", role="firewall", network="external"
    )
    del inv.devices["feidong-ext-rtr1"]
    nets = sitenet.networks(inv)["hefei-feidong"]
    assert (nets["internal"].core, nets["internal"].others) == (("feidong-rtr1",), ("feidong-sw1",))
    assert (nets["external"].core, nets["external"].others) == (("feidong-ext-fw1",), ())
    assert sitenet.explain(nets["external"], "down", ["down"], []) == "all devices down"


def test_the_rule():
    assert sitenet.fold(["down", "up"]) == "degraded"  # some but not all routers down
    assert sitenet.fold(["down", "unreachable"]) == "down"
    assert sitenet.fold(["unreachable", "unknown"]) == "unreachable"
    assert sitenet.fold(["unknown"], ["up"]) == "unknown"  # no data from the routers
    assert sitenet.fold(["up", "unknown"], ["unknown"]) == "up"  # silence is not an outage
    assert sitenet.fold(["up"], ["degraded"]) == "degraded"
    assert sitenet.fold(["snmp-unreachable"]) == "degraded"  # it answers ping: not down
    assert sitenet.fold(["up"], ["snmp-unreachable"]) == "degraded"
    assert sitenet.fold(["down"], ["up"]) == "down"
    assert sitenet.worst({"internal": "down", "external": "up"}) == "down"
    assert sitenet.worst({"internal": "unknown", "external": "up"}) == "up"
    assert sitenet.worst({"internal": "unknown"}) == "unknown"


@given(
    st.lists(st.sampled_from(STATES), min_size=1, max_size=4),
    st.lists(st.sampled_from(STATES), max_size=4),
)
@hsettings(max_examples=200, deadline=None)
def test_the_report_folds_histories_with_the_live_rule(core, others):
    """At every moment the report's site network is what the live state would say then."""
    flat = [[(0.0, 10.0, x)] for x in core], [[(0.0, 10.0, x)] for x in others]
    assert availability.site_timeline(flat[0], 0, 10, flat[1]) == [(0, 10, sitenet.fold(core, others))]
