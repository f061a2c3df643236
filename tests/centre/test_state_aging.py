"""Aging, interfaces of dead devices, one network per site LAN: the wall display stays true."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest

from nms import state
from nms.schema import open_migrated
from nms.state import StateConfig, age_out, apply_batch
from probes.common.inventory_model import Device, Link, LinkEnd
from tests.centre.helpers import T0, poll, small_inventory

FAST = StateConfig(down_after=1, up_after=1)
CITY = ("hefei-rtr1", "hefei-fw1", "feidong-rtr1")


class Agents:
    """Batches from the province agent and the Hefei agent, each polling its own devices."""

    def __init__(self, db, inv=None, config: StateConfig = FAST):
        self.db, self.inv, self.config, self.seq = db, inv or small_inventory(), config, 0

    def send(self, agent: str, ts: float, devices, **per_device) -> None:
        self.seq += 1
        polls = [poll(d, ts, **per_device.get(d, {})) for d in devices]
        assert apply_batch(self.db, agent, self.seq, polls, self.inv, self.config)

    def age(self, now: float) -> int:
        return age_out(self.db, self.inv, now, self.config)

    def cur(self, kind: str, subject: str) -> tuple[str, str | None]:
        c = state.current(self.db)[kind][subject]
        return c["state"], c["reason"]


def test_silent_agent_makes_its_devices_unknown_and_a_poll_brings_them_back(centre_db):
    a = Agents(centre_db)
    a.send("prov", T0, ["prov-rtr1"])
    a.send("hefei", T0, CITY)
    for k in (1, 2, 3, 4):  # the province keeps polling; Hefei's agent went silent after T0
        a.send("prov", T0 + 60 * k, ["prov-rtr1"])
    assert a.age(T0 + 170) == 0  # 3 x 60 s < 180 s minimum: still trusted
    assert a.cur("device", "hefei-rtr1") == ("up", None)
    assert a.age(T0 + 240) > 0
    assert a.cur("device", "hefei-rtr1") == ("unknown", "no data for 240 s")
    assert a.cur("device", "feidong-rtr1")[0] == "unknown"
    assert a.cur("device", "prov-rtr1") == ("up", None)
    assert a.cur("interface", "hefei-rtr1:POS1/0/0") == ("unknown", "no data from device hefei-rtr1")
    assert a.cur("link", "prov-hefei") == ("unknown", "no data from hefei-rtr1")
    assert a.cur("site", "hefei") == ("unknown", "no data")
    assert a.cur("site", "anhui") == ("up", None)
    ev = state.events(centre_db, kind="device", subject="hefei-rtr1")[0]
    assert (ev["from"], ev["to"], ev["ts"], ev["reason"]) == ("up", "unknown", T0 + 180, "no data for 240 s")
    n = len(state.events(centre_db))
    a.age(T0 + 255)  # still silent: the reason counts on, no new event
    assert a.cur("device", "hefei-rtr1") == ("unknown", "no data for 255 s")
    assert len(state.events(centre_db)) == n
    a.send("hefei", T0 + 300, CITY)
    for kind, subject in (
        ("device", "hefei-rtr1"),
        ("interface", "hefei-rtr1:POS1/0/0"),
        ("link", "prov-hefei"),
        ("site", "hefei"),
        ("site", "hefei-feidong"),
    ):
        assert a.cur(kind, subject) == ("up", None), (kind, subject)


def test_stale_after_follows_the_poll_interval_and_the_env_factor(centre_db):
    inv = small_inventory()
    inv.devices["hefei-fw1"] = replace(inv.devices["hefei-fw1"], interval_s=300)
    a = Agents(centre_db, inv)
    a.send("hefei", T0, CITY)
    a.age(T0 + 600)
    assert a.cur("device", "hefei-rtr1")[0] == "unknown"
    assert a.cur("device", "hefei-fw1")[0] == "up"  # polled every 300 s: 900 s of silence allowed
    cfg = StateConfig.from_env({"NMS_STATE_STALE_FACTOR": "5"})
    assert (cfg.stale_after(60), cfg.stale_after(300)) == (300, 1500)
    assert StateConfig.from_env({}).stale_after(30) == 180
    with pytest.raises(ValueError, match="NMS_STATE_STALE_FACTOR"):
        StateConfig.from_env({"NMS_STATE_STALE_FACTOR": "three"})
    fast = StateConfig.from_env({"NMS_STATE_STALE_FACTOR": "1", "NMS_STATE_STALE_MIN_S": "5"})
    assert (fast.stale_after(10), fast.stale_after(2)) == (10, 5)
    with pytest.raises(ValueError, match="NMS_STATE_STALE_MIN_S"):
        StateConfig.from_env({"NMS_STATE_STALE_MIN_S": "-1"})


def test_silent_city_cut_off_by_its_sdh_link_is_unreachable_not_unknown(centre_db):
    a = Agents(centre_db)
    a.send("prov", T0, ["prov-rtr1"])
    a.send("hefei", T0, CITY)
    for k in (1, 2, 3, 4):  # the province sees LOS on the SDH link; Hefei's batches cannot arrive
        a.send("prov", T0 + 60 * k, ["prov-rtr1"], **{"prov-rtr1": {"los": ("LOS",)}})
    assert a.cur("link", "prov-hefei") == ("down", "SDH LOS at prov-rtr1:POS1/0/0")
    assert a.cur("device", "hefei-rtr1") == ("up", None)  # not stale yet
    a.age(T0 + 240)
    for dev in CITY:
        assert a.cur("device", dev) == ("unreachable", "parent down: link prov-hefei"), dev
    assert a.cur("interface", "hefei-rtr1:GE0/0/2") == ("unreachable", "parent down: link prov-hefei")
    assert a.cur("link", "hefei-feidong") == ("unreachable", "parent down: link prov-hefei")
    assert a.cur("site", "hefei")[0] == "unreachable"
    assert a.cur("site", "hefei-feidong")[0] == "unreachable"
    assert a.cur("link", "prov-hefei")[0] == "down"  # the root cause stays down
    ev = state.events(centre_db, kind="device", subject="feidong-rtr1")[0]
    assert (ev["to"], ev["reason"]) == ("unreachable", "parent down: link prov-hefei")
    # the link is repaired, Hefei's agent sends again
    a.send("prov", T0 + 300, ["prov-rtr1"])
    a.send("hefei", T0 + 300, CITY)
    assert {s["state"] for s in state.current(centre_db)["device"].values()} == {"up"}
    assert {s["state"] for s in state.current(centre_db)["link"].values()} == {"up"}


def test_interfaces_of_a_down_or_unreachable_device_do_not_stay_up(centre_db):
    a = Agents(centre_db)
    every = ["prov-rtr1", *CITY]
    a.send("prov", T0, every)
    a.send("prov", T0 + 60, every, **{"feidong-rtr1": {"ok": False}})
    assert a.cur("device", "feidong-rtr1")[0] == "down"
    assert a.cur("interface", "feidong-rtr1:GE0/0/1") == ("unknown", "device feidong-rtr1 down")
    a.send("prov", T0 + 120, every, **{"hefei-rtr1": {"ok": False}, "feidong-rtr1": {"ok": False}})
    assert a.cur("device", "hefei-rtr1")[0] == "down"
    assert a.cur("interface", "hefei-rtr1:POS1/0/0") == ("unknown", "device hefei-rtr1 down")
    assert a.cur("interface", "feidong-rtr1:GE0/0/1") == ("unreachable", "parent down: device hefei-rtr1")
    assert a.cur("interface", "prov-rtr1:POS1/0/0") == ("up", None)
    a.send("prov", T0 + 180, every)
    assert a.cur("interface", "feidong-rtr1:GE0/0/1") == ("up", None)
    assert a.cur("interface", "hefei-rtr1:POS1/0/0") == ("up", None)
    evs = state.events(centre_db, kind="interface", subject="feidong-rtr1:GE0/0/1")
    assert [e["to"] for e in reversed(evs)] == ["up", "unknown", "unreachable", "up"]


def _with_external_uplink():
    """Hefei also has a 外网 firewall, uplinked to the province's 外网 router."""
    inv = small_inventory()
    for name, site in (("prov-ext-rtr1", "anhui"), ("hefei-ext-fw1", "hefei")):
        inv.devices[name] = Device(
            name, site, "router", "huawei", "NE40E", "auto", "10.1.0.1", "v2", network="external"
        )
    inv.links["prov-hefei-ext"] = Link(
        "prov-hefei-ext",
        LinkEnd("prov-ext-rtr1", "GE0/0/0"),
        LinkEnd("hefei-ext-fw1", "GE0/0/0"),
        "fibre-ge",
        1_000_000_000,
        "AH-EXT-001",
        "external",
    )
    return inv


def test_external_uplink_does_not_keep_internal_devices_reachable(centre_db):
    a = Agents(centre_db, _with_external_uplink())
    every = ["prov-rtr1", "prov-ext-rtr1", "hefei-ext-fw1", *CITY]
    a.send("prov", T0, every)
    dead = {d: {"ok": False} for d in CITY}
    a.send("prov", T0 + 60, every, **{"prov-rtr1": {"los": ("LOS",)}}, **dead)
    assert a.cur("device", "hefei-ext-fw1") == ("up", None)  # 外网 still answers
    assert a.cur("device", "hefei-rtr1") == ("unreachable", "parent down: link prov-hefei")
    assert a.cur("device", "hefei-fw1") == ("unreachable", "parent down: link prov-hefei")


def test_serve_aging_loop_marks_a_silent_device_and_wakes_the_alerts(settings):
    from nms.alerts.engine import wait_for_update
    from nms.serve import aging_loop

    inv = small_inventory()
    db = open_migrated(settings, "centre")
    try:
        old = time.time() - 1000
        assert apply_batch(db, "hefei", 1, [poll(d, old) for d in CITY], inv, FAST)
        assert state.current(db)["device"]["hefei-rtr1"]["state"] == "up"
        wait_for_update(0)  # forget any earlier wake-up
        stop = threading.Event()
        t = threading.Thread(target=aging_loop, args=(settings, lambda: inv, 0.05, stop), daemon=True)
        t.start()
        try:
            assert wait_for_update(30)
            deadline = time.time() + 30
            while state.current(db)["device"]["hefei-rtr1"]["state"] != "unknown" and time.time() < deadline:
                time.sleep(0.05)
        finally:
            stop.set()
            t.join(10)
        cur = state.current(db)["device"]["hefei-rtr1"]
        assert cur["state"] == "unknown"
        assert cur["reason"].startswith("no data for ")
    finally:
        db.conn.close()


def test_spooled_polls_replayed_after_aging_keep_the_event_timeline_in_order(centre_db):
    a = Agents(centre_db)
    a.send("prov", T0, ["prov-rtr1"])
    a.send("hefei", T0, CITY)
    a.age(T0 + 240)  # Hefei's batches were held by its agent while the link was cut
    assert a.cur("device", "hefei-rtr1")[0] == "unknown"
    for k in (1, 2, 3, 4, 5):  # ... and arrive now, oldest first
        a.send("hefei", T0 + 60 * k, CITY)
    assert a.cur("device", "hefei-rtr1") == ("up", None)
    evs = list(reversed(state.events(centre_db, kind="device", subject="hefei-rtr1")))
    # the polls came late but never more than stale_after apart: the aging is undone, no unknown time
    assert [e["to"] for e in evs] == ["up"]
    assert [e["ts"] for e in evs] == sorted(e["ts"] for e in evs)  # availability reads them in time order


def test_a_spooled_outage_replayed_in_order_after_aging_is_down_from_its_first_failed_poll(centre_db):
    a = Agents(centre_db, config=StateConfig(down_after=2, up_after=1))
    a.send("hefei", T0, CITY)
    a.age(T0 + 600)  # aged at T0 + 180 while the agent spooled
    for k in (1, 2, 3, 4, 5):
        a.send("hefei", T0 + 60 * k, CITY, **{"hefei-fw1": {"ok": False}})
    evs = list(reversed(state.events(centre_db, kind="device", subject="hefei-fw1")))
    assert [(e["ts"] - T0, e["from"], e["to"]) for e in evs] == [(0, "unknown", "up"), (60, "up", "down")]
    assert a.cur("device", "hefei-fw1")[0] == "down"
    assert [e["to"] for e in state.events(centre_db, kind="device", subject="hefei-rtr1")] == ["up"]
