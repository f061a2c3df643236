"""Tunnels are keyed by their expected peer: a vanished SA row is "down" on the same subject.

The reproduced bug: a tunnel was keyed by its row's name while the row existed and by
the peer's address once it vanished, so up -> gone -> up left an address-keyed subject
down for ever and its alert never resolved.
"""

from __future__ import annotations

import time

from nms import state
from nms.alerts.engine import Engine
from nms.state import StateConfig, apply_batch
from probes.common import topology
from probes.common.inventory_model import Device
from tests.alerts.conftest import make_channels, make_rules
from tests.centre.helpers import poll, small_inventory

RULES = [{"name": "tunnel-down", "kind": "state", "subject": "tunnel", "severity": "major"}]
ADDR = {"prov-cipher1": "10.0.1.1", "hefei-cipher1": "10.0.1.2", "feidong-cipher1": "10.0.1.3"}


def cipher_inventory():
    """The small province with a cipher machine at each level: county -> city -> province."""
    inv = small_inventory()
    for name, site, peers in (
        ("prov-cipher1", "anhui", ()),
        ("hefei-cipher1", "hefei", ("prov-cipher1",)),
        ("feidong-cipher1", "hefei-feidong", ("hefei-cipher1",)),
    ):
        inv.devices[name] = Device(
            name, site, "cipher", "cipher", "SJJ1631", "cipher-gateway", ADDR[name], "v3", tunnel_peers=peers
        )
    return inv


def row(peer: str, up: bool = True, *, expected: bool | None = True) -> dict:
    """A tunnel row as the poller reports it (``expected`` None: an agent that sends no list)."""
    t = {"peer": ADDR.get(peer, peer), "name": peer if up else None, "state": "up" if up else "down"}
    if expected is not None:
        t |= {"expected": expected, "sa": up}
    return t


class Cipher:
    """Polls of one cipher machine fed to the state machine, then the alert rules evaluated."""

    def __init__(self, db, device: str = "hefei-cipher1") -> None:
        self.db, self.device, self.seq = db, device, 0
        self.inv = cipher_inventory()
        self.t = time.time() - 3600
        self.engine = Engine(make_rules(RULES), self.inv, make_channels())

    def poll(self, *tunnels: dict) -> None:
        self.seq += 1
        self.t += 60
        p = poll(self.device, self.t) | {"tunnels": list(tunnels)}
        assert apply_batch(self.db, "hefei", self.seq, [p], self.inv, StateConfig(2, 1))
        self.engine.evaluate(self.db, now=self.t)

    def tunnels(self) -> dict[str, tuple[str, str | None]]:
        cur = state.current(self.db)["tunnel"]
        return {k: (v["state"], v["reason"]) for k, v in cur.items()}

    def alerts(self) -> list[tuple[str, str]]:
        return self.db.execute(
            "SELECT subject_id, state FROM alert_alerts WHERE rule = 'tunnel-down' ORDER BY id"
        ).fetchall()


def test_expected_peers_at_both_ends():
    peers = topology.build(cipher_inventory()).peers
    # the province's machine lists nobody and the city lists only the province: both ends count
    assert peers == {
        "prov-cipher1": ("hefei-cipher1",),
        "hefei-cipher1": ("prov-cipher1", "feidong-cipher1"),
        "feidong-cipher1": ("hefei-cipher1",),
    }


def test_shipped_hub_and_city_expect_their_spokes():
    from nms.config import ROOT
    from probes.common.inventory import load_inventory

    inv = load_inventory(ROOT / "inventory.yaml")
    peers = topology.build(inv).peers
    cities = {s.id for s in inv.sites.values() if s.kind == "city"}
    city_ciphers = {d.name for d in inv.devices.values() if d.role == "cipher" and d.site in cities}
    assert len(city_ciphers) == 17
    depts = {s.id for s in inv.sites.values() if s.kind == "department"}
    dept_ciphers = {d.name for d in inv.devices.values() if d.role == "cipher" and d.site in depts}
    # the hub lists nobody itself; the 17 cities (and the departments) list it
    assert set(peers["anhui-int-cipher1"]) == city_ciphers | dept_ciphers
    below = inv.subtree("hefei") - {"hefei"}
    counties = {d.name for d in inv.devices.values() if d.role == "cipher" and d.site in below}
    hub = {"anhui-int-cipher1", "anhui-int-cipher2"}
    assert counties and set(peers["hefei-int-cipher1"]) == hub | counties
    assert peers["yaohai-int-cipher1"] == ("hefei-int-cipher1",)


def test_up_gone_up_is_one_subject_and_its_alert_resolves(centre_db):
    c = Cipher(centre_db)
    c.poll(row("prov-cipher1"), row("feidong-cipher1"))
    assert c.tunnels() == {
        "hefei-cipher1>prov-cipher1": ("up", None),
        "hefei-cipher1>feidong-cipher1": ("up", None),
    }
    for _ in range(2):  # the SA to Feidong is gone: the poller reports the expected peer without a row
        c.poll(row("prov-cipher1"), row("feidong-cipher1", up=False))
    assert c.tunnels() == {
        "hefei-cipher1>prov-cipher1": ("up", None),
        "hefei-cipher1>feidong-cipher1": ("down", "no SA"),
    }
    assert c.alerts() == [("hefei-cipher1>feidong-cipher1", "firing")]
    assert state.current(centre_db)["device"]["hefei-cipher1"]["state"] == "degraded"
    c.poll(row("prov-cipher1"), row("feidong-cipher1"))
    assert c.tunnels() == {
        "hefei-cipher1>prov-cipher1": ("up", None),
        "hefei-cipher1>feidong-cipher1": ("up", None),
    }
    assert c.alerts() == [("hefei-cipher1>feidong-cipher1", "resolved")]
    assert state.current(centre_db)["device"]["hefei-cipher1"]["state"] == "up"


def test_a_vanished_row_is_down_even_when_the_agent_sent_no_expected_list(centre_db):
    c = Cipher(centre_db)
    c.poll(row("prov-cipher1", expected=None), row("feidong-cipher1", expected=None))
    for _ in range(2):
        c.poll(row("prov-cipher1", expected=None))  # the row is simply not in the table
    assert c.tunnels()["hefei-cipher1>feidong-cipher1"] == ("down", "no SA")
    c.poll(row("prov-cipher1", expected=None), row("feidong-cipher1", expected=None))
    assert c.tunnels()["hefei-cipher1>feidong-cipher1"] == ("up", None)
    assert c.alerts() == [("hefei-cipher1>feidong-cipher1", "resolved")]


def test_an_unexpected_peer_is_shown_but_never_down(centre_db):
    c = Cipher(centre_db)
    lab = row("10.9.9.9", expected=False) | {"name": "to-lab"}
    c.poll(row("prov-cipher1"), row("feidong-cipher1"), lab)
    assert c.tunnels()["hefei-cipher1>10.9.9.9"] == ("up", None)
    for _ in range(3):
        c.poll(row("prov-cipher1"), row("feidong-cipher1"))
    assert c.tunnels()["hefei-cipher1>10.9.9.9"] == ("unknown", "no SA (not an expected peer)")
    assert c.alerts() == []
    assert state.current(centre_db)["device"]["hefei-cipher1"]["state"] == "up"


def test_the_sim_address_of_a_peer_is_the_same_subject(centre_db):
    c = Cipher(centre_db)
    sim_addr = c.inv.sim_address("feidong-cipher1")
    c.poll(row("prov-cipher1"), {"peer": sim_addr, "name": "x", "state": "up"})
    assert set(c.tunnels()) == {"hefei-cipher1>prov-cipher1", "hefei-cipher1>feidong-cipher1"}
