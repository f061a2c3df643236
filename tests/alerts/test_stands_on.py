"""One answer to "which devices does a subject stand on", asked by maintenance windows,
the alerts' root cause and rule roles alike: on the shipped province they agree, kind by kind."""

from __future__ import annotations

import pytest

from nms import maintenance
from nms.alerts.conditions import _roles_ok
from nms.alerts.rules import parse_rules
from nms.alerts.topology import RootCause
from nms.config import ROOT
from probes.common import topology
from probes.common.inventory import load_inventory
from probes.common.inventory_model import Inventory
from probes.common.subject import Subject

FEIDONG_INT = ["feidong-int-cipher1", "feidong-int-fw1", "feidong-int-rtr1", "feidong-int-sw1"]
FEIDONG_EXT = ["feidong-ext-fw1", "feidong-ext-rtr1", "feidong-ext-sw1"]
# one subject of every kind, and the devices it stands on
EXPECTED = {
    ("device", "feidong-int-fw1"): ["feidong-int-fw1"],
    ("interface", "feidong-int-fw1:GigabitEthernet0/0/1"): ["feidong-int-fw1"],
    ("link", "feidong-int-l1b"): ["feidong-int-cipher1", "feidong-int-fw1"],  # cipher1 eth0 - fw1
    ("link", "ext-feidong"): ["feidong-ext-rtr1", "hefei-ext-rtr1"],
    ("tunnel", "hefei-int-cipher1>feidong-int-cipher1"): ["feidong-int-cipher1", "hefei-int-cipher1"],
    ("site", "hefei-feidong"): sorted(FEIDONG_INT + FEIDONG_EXT),
    ("site_network", "hefei-feidong/external"): FEIDONG_EXT,
    ("agent", "chaohu"): ["chaohu-int-cipher1", "chaohu-int-fw1", "chaohu-int-rtr1", "chaohu-int-sw1"],
}


@pytest.fixture(scope="module")
def province() -> Inventory:
    return load_inventory(ROOT / "inventory.yaml")


def window(kind: str, subject: str) -> maintenance.Window:
    return maintenance.Window(1, kind, subject, False, 0.0, 1.0, None, None, None)


@pytest.mark.parametrize(("key", "devices"), EXPECTED.items(), ids=[k for k, _ in EXPECTED])
def test_what_each_kind_stands_on(province, key, devices):
    assert sorted(topology.stands_on(Subject.parse(*key), province)) == devices


def test_a_tunnel_peer_reported_as_an_address_stands_on_that_device(province):
    address = province.devices["feidong-int-cipher1"].address
    s = Subject("tunnel", "hefei-int-cipher1", address)
    assert topology.stands_on(s, province) == {"hefei-int-cipher1", "feidong-int-cipher1"}


@pytest.mark.parametrize("key", EXPECTED, ids=[k for k, _ in EXPECTED])
def test_device_maintenance_and_device_root_cause_agree(province, key):
    """For every device nothing lies only behind (so a root cause reaches no further than a
    window): a window on it mutes the subject exactly when an alert root on it folds it."""
    rc = RootCause.build(province)
    leaves = [d for d in province.devices if not rc.behind("device", d) and (d,) != key[1:]]
    windows = {d for d in leaves if maintenance.covers(window("device", d), *key, province)}
    roots = {d for d in leaves if rc.covered_by(*key, "device", d)}
    assert windows == roots
    on = topology.stands_on(Subject.parse(*key), province)
    if key[0] in topology.NEEDS_ALL:  # several devices: no one of them alone takes it down
        assert windows == set()
    else:  # any one of them does, leaf or not (a device is its own window, no root of itself)
        assert windows == on & set(leaves)
        for d in on - {key[1]}:
            assert maintenance.covers(window("device", d), *key, province)
            assert rc.covered_by(*key, "device", d)


@pytest.mark.parametrize("link", ["feidong-int-l1b", "feidong-ext-l1a"])
def test_link_maintenance_and_link_root_cause_agree_on_its_interfaces(province, link):
    rc = RootCause.build(province)
    assert not rc.behind("link", link)  # the site LAN joins its ends too: nothing lost with it
    ln = province.links[link]
    ends = [f"{e.device}:{e.interface}" for e in (ln.a, ln.b)]
    others = [f"{ln.a.device}:not-this-port", "feidong-int-sw1:GigabitEthernet0/0/1"]
    for itf in ends + others:
        assert maintenance.covers(window("link", link), "interface", itf, province) is (itf in ends)
        assert rc.covered_by("interface", itf, "link", link) is (itf in ends)


def test_a_window_on_the_far_end_mutes_a_tunnel_now_as_the_root_cause_folds_it(province):
    tunnel = "hefei-int-cipher1>feidong-int-cipher1"
    for end in ("hefei-int-cipher1", "feidong-int-cipher1"):
        assert maintenance.covers(window("device", end), "tunnel", tunnel, province)
        assert RootCause.build(province).covered_by("tunnel", tunnel, "device", end)


def test_site_window_covers_what_stands_there_and_links_with_one_end_there(province):
    w = window("site", "hefei-feidong")
    for key in EXPECTED:
        inside = set(topology.stands_on(Subject.parse(*key), province)) & set(FEIDONG_INT + FEIDONG_EXT)
        expected = bool(inside) and key[0] != "agent"  # chaohu's agent stands elsewhere
        assert maintenance.covers(w, *key, province) is expected, key
    assert not maintenance.covers(w, "device", "hefei-ext-rtr1", province)


def test_a_root_cause_reaches_behind_a_window_does_not(province):
    """The documented difference: feidong's internal network lies only behind its router."""
    rc = RootCause.build(province)
    assert set(rc.behind("device", "feidong-int-rtr1")) == set(FEIDONG_INT) - {"feidong-int-rtr1"}
    assert rc.covered_by("site_network", "hefei-feidong/internal", "device", "feidong-int-rtr1")
    assert not maintenance.covers(
        window("device", "feidong-int-rtr1"), "site_network", "hefei-feidong/internal", province
    )


def test_rule_roles_match_any_device_a_subject_stands_on(province):
    rules = parse_rules(
        {
            "version": 1,
            "defaults": {"notify": ["noc"]},
            "rules": [
                {"name": f"fw-{k}", "kind": "state", "subject": k, "roles": ["firewall"], "severity": "major"}
                for k in ("link", "tunnel")
            ],
        }
    )
    links, tunnels = rules.rules
    assert _roles_ok(links, province, Subject("link", "feidong-int-l1b"))  # cipher1 - fw1
    assert not _roles_ok(links, province, Subject("link", "ext-feidong"))  # router - router
    assert not _roles_ok(tunnels, province, Subject("tunnel", "hefei-int-cipher1", "feidong-int-cipher1"))
