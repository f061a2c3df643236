"""State machine: hysteresis, reasons, links from their ends, unreachable behind a parent, sites."""

from __future__ import annotations

from nms import sdh, state
from nms.state import StateConfig, apply_batch
from tests.centre.helpers import T0, poll, small_inventory

ALL = ("prov-rtr1", "hefei-rtr1", "hefei-fw1", "feidong-rtr1")


class Feeder:
    def __init__(self, db, config: StateConfig | None = None):
        self.db, self.seq, self.inv = db, 0, small_inventory()
        self.config = config or StateConfig(down_after=2, up_after=1)

    def minute(self, k: int, **per_device) -> None:
        """Poll every device at T0 + 60k; per_device[name] = dict of poll() overrides."""
        self.seq += 1
        polls = [poll(d, T0 + 60 * k, **per_device.get(d.replace("-", "_"), {})) for d in ALL]
        assert apply_batch(self.db, "prov", self.seq, polls, self.inv, self.config)

    def now(self, kind: str, subject: str) -> str:
        return state.current(self.db)[kind][subject]["state"]


def test_all_up_then_hysteresis_and_reasons(centre_db):
    f = Feeder(centre_db)
    f.minute(0)
    assert f.now("device", "hefei-rtr1") == "up"
    assert f.now("link", "prov-hefei") == "up"
    assert f.now("site", "hefei") == "up"
    f.minute(1, feidong_rtr1={"ok": False})
    assert f.now("device", "feidong-rtr1") == "up"  # one failed poll is not enough
    f.minute(2, feidong_rtr1={"ok": False})
    assert f.now("device", "feidong-rtr1") == "down"
    cur = state.current(centre_db)["device"]["feidong-rtr1"]
    assert cur["since"] == T0 + 60  # dated at the first failed poll
    assert cur["reason"] == "SNMP down: timeout"
    assert f.now("link", "hefei-feidong") == "down"
    assert f.now("site", "hefei-feidong") == "down"
    f.minute(3)
    assert f.now("device", "feidong-rtr1") == "up"
    evs = state.events(centre_db, kind="device", subject="feidong-rtr1")
    assert [(e["from"], e["to"], e["ts"]) for e in reversed(evs)] == [
        ("unknown", "up", T0),
        ("up", "down", T0 + 60),
        ("down", "up", T0 + 180),
    ]


def test_single_failures_never_flap(centre_db):
    f = Feeder(centre_db)
    for k in range(10):
        f.minute(k, hefei_fw1={"ok": k % 2 == 0})
    assert [e["to"] for e in state.events(centre_db, subject="hefei-fw1")] == ["up"]


def test_snmp_dead_but_ping_ok_is_its_own_state_not_down(centre_db):
    f = Feeder(centre_db, StateConfig(down_after=1, up_after=1))
    f.minute(0)
    ping_ok = {"alive": True, "rtt_ms": 3.0, "loss_pct": 0.0, "sent": 1}
    f.minute(1, hefei_rtr1={"ok": False, "icmp": ping_ok})
    cur = state.current(centre_db)
    assert (cur["device"]["hefei-rtr1"]["state"], cur["device"]["hefei-rtr1"]["reason"]) == (
        "snmp-unreachable",
        "SNMP unreachable, ping ok: timeout",
    )
    assert f.now("site", "hefei") == "degraded"
    # the box answers ping: what lies behind it is reachable, its interfaces are just not known
    assert f.now("device", "feidong-rtr1") == "up"
    assert cur["interface"]["hefei-rtr1:GE0/0/2"] == {
        "state": "unknown",
        "since": T0 + 60,
        "reason": "no SNMP data from device hefei-rtr1",
    }
    # neither SNMP nor ping: down, as before
    f.minute(2, hefei_rtr1={"ok": False, "icmp": {"alive": False, "rtt_ms": None, "loss_pct": 100.0}})
    cur = state.current(centre_db)["device"]["hefei-rtr1"]
    assert cur["state"] == "down" and cur["reason"].startswith("ICMP down")
    f.minute(3)
    assert f.now("device", "hefei-rtr1") == "up"
    assert f.now("interface", "hefei-rtr1:GE0/0/2") == "up"


def test_sdh_los_takes_link_down_with_reason(centre_db):
    f = Feeder(centre_db, StateConfig(down_after=1, up_after=1))
    f.minute(0)
    f.minute(1, hefei_rtr1={"los": ("LOS",)})
    cur = state.current(centre_db)
    assert cur["interface"]["hefei-rtr1:POS1/0/0"]["reason"] == "SDH LOS"
    assert cur["link"]["prov-hefei"]["state"] == "down"
    assert cur["link"]["prov-hefei"]["reason"] == "SDH LOS at hefei-rtr1:POS1/0/0"
    f.minute(2, prov_rtr1={"oper": {"POS1/0/0": "down"}})
    cur = state.current(centre_db)
    assert cur["link"]["prov-hefei"]["reason"] == "oper down at prov-rtr1:POS1/0/0"


def test_behind_a_down_link_is_unreachable_root_cause_is_down(centre_db):
    f = Feeder(centre_db, StateConfig(down_after=1, up_after=1))
    f.minute(0)
    # city router dies: it is the root cause; the county router behind it is unreachable
    f.minute(1, hefei_rtr1={"ok": False}, feidong_rtr1={"ok": False})
    cur = state.current(centre_db)
    assert cur["device"]["hefei-rtr1"]["state"] == "down"
    assert cur["device"]["feidong-rtr1"]["state"] == "unreachable"
    assert cur["device"]["feidong-rtr1"]["reason"] == "parent down: device hefei-rtr1"
    assert cur["site"]["hefei-feidong"]["state"] == "unreachable"
    assert cur["site"]["hefei"]["state"] == "degraded"  # the firewall still answers
    # the SDH link dies (LOS seen at the province end): the whole city is behind it
    f.minute(
        2,
        prov_rtr1={"los": ("LOS",)},
        hefei_rtr1={"ok": False},
        hefei_fw1={"ok": False},
        feidong_rtr1={"ok": False},
    )
    cur = state.current(centre_db)
    assert cur["link"]["prov-hefei"]["state"] == "down"
    assert cur["device"]["hefei-rtr1"]["state"] == "unreachable"
    assert cur["device"]["hefei-rtr1"]["reason"] == "parent down: link prov-hefei"
    assert cur["device"]["hefei-fw1"]["state"] == "unreachable"
    assert cur["site"]["hefei"]["state"] == "unreachable"
    f.minute(3)
    assert {s["state"] for s in state.current(centre_db)["device"].values()} == {"up"}


def test_replayed_batch_changes_nothing(centre_db):
    inv = small_inventory()
    polls = [poll(d, T0) for d in ALL]
    assert apply_batch(centre_db, "prov", 1, polls, inv)
    n = len(state.events(centre_db))
    assert not apply_batch(centre_db, "prov", 1, polls, inv)
    assert len(state.events(centre_db)) == n
    # an older poll arriving after a newer one is ignored
    apply_batch(centre_db, "prov", 2, [poll("hefei-fw1", T0 + 120, ok=False)] * 1, inv)
    apply_batch(centre_db, "prov", 3, [poll("hefei-fw1", T0 + 60, ok=False)], inv)
    assert state.current(centre_db)["device"]["hefei-fw1"]["state"] == "up"


def test_uas_buckets_recorded_once(centre_db):
    inv = small_inventory()
    b = [(T0 - 900, 30), (T0, 0)]
    apply_batch(centre_db, "prov", 1, [poll("prov-rtr1", T0, uas=b)], inv)
    apply_batch(centre_db, "prov", 2, [poll("prov-rtr1", T0 + 60, uas=b)], inv)
    rows = [(itf, end, uas) for _d, itf, end, _es, _ses, uas, _v in sdh.line_buckets(centre_db, 0, T0 + 900)]
    assert rows == [("POS1/0/0", T0 - 900, 30), ("POS1/0/0", T0, 0)]
