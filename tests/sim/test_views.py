"""Every kind's MIB view walks in strictly increasing OID order (overlay merged with walk)."""

from __future__ import annotations

import time

import pytest

from probes.common.inventory_model import CredentialRef, Device, Inventory, Link, LinkEnd, Site
from probes.sim.device import SimDevice
from probes.sim.walks import WALKS, resolve_path
from probes.snmp import Credential

KINDS = [("huawei", "router"), ("huawei", "firewall"), ("h3c", "router"), ("ruijie", "switch"),
         ("zte", "switch"), ("topsec", "firewall"), ("venustech", "firewall"), ("sangfor", "firewall"),
         ("hillstone", "firewall"), ("cipher", "cipher")]


def test_walks_exist_and_are_not_gpl():
    for ref in set(WALKS.values()):
        path = resolve_path(ref)
        assert path.exists(), path
        assert "librenms" not in str(path).lower()


@pytest.mark.parametrize(("vendor", "role"), KINDS)
def test_view_walk_is_strictly_increasing(vendor, role):
    inv = Inventory()
    inv.sites["anhui"] = Site("anhui", "安徽省", "Anhui", "340000", "province", None, 31.8, 117.2)
    inv.credentials["c"] = CredentialRef("c", "v2c", community_env="X")
    names = tuple(f"Port{i}" for i in range(60))  # more than most walks have: rows get added
    inv.devices["d1"] = Device("d1", "anhui", role, vendor, "m", "auto", "10.0.0.1", "c", interfaces=names,
                               tunnel_peers=("d2",))
    inv.devices["d2"] = Device("d2", "anhui", role, vendor, "m", "auto", "10.0.0.2", "c",
                               interfaces=("Port0",))
    inv.links["l"] = Link("l", LinkEnd("d1", "Port0"), LinkEnd("d2", "Port0"), "sdh-stm1", 155_520_000, "C1",
                          "internal")
    dev = SimDevice(inv, inv.devices["d1"], "127.34.0.1", Credential(community="x"), time.time())
    now = time.time()
    oid, count = (0, 0), 0
    seen_names = set()
    while (nxt := dev.view.next(oid, now)) is not None:
        assert nxt[0] > oid
        oid = nxt[0]
        count += 1
        if oid[:10] == (1, 3, 6, 1, 2, 1, 2, 2, 1, 2):  # ifDescr
            seen_names.add(nxt[1])
    assert count > 50
    assert all(any(n.encode() in v for v in seen_names) for n in names)
    assert dev.view.get((1, 3, 6, 1, 2, 1, 1, 5, 0), now).endswith(b"d1")


def test_tunnels_exist_at_both_ends_when_one_side_lists_them():
    inv = Inventory()
    inv.sites["anhui"] = Site("anhui", "安徽省", "Anhui", "340000", "province", None, 31.8, 117.2)
    inv.credentials["c"] = CredentialRef("c", "v2c", community_env="X")
    for name, peers in (("centre", ()), ("city-a", ("centre",)), ("city-b", ("centre",))):
        addr = f"10.0.0.{len(inv.devices) + 1}"
        inv.devices[name] = Device(name, "anhui", "cipher", "cipher", "m", "auto", addr, "c",
                                   interfaces=("eth0",), tunnel_peers=peers)
    centre = SimDevice(inv, inv.devices["centre"], "127.34.0.1", Credential(community="x"), time.time())
    assert list(centre.tunnels) == ["city-a", "city-b"]
    now = time.time()
    # cipherTunnelPeerAddr of row 2 is city-b's inventory address, cipherTunnelCount is 2
    peer_addr = centre.view.get((1, 3, 6, 1, 4, 1, 99934, 2, 2, 1, 2, 2), now)
    assert peer_addr.endswith(b"\x40\x04\x0a\x00\x00\x03")
    assert centre.view.get((1, 3, 6, 1, 4, 1, 99934, 2, 1, 3, 0), now).endswith(b"\x42\x01\x02")


def test_walk_cache_round_trip_and_refuses_a_shared_directory(tmp_path):
    from probes.sim.walks import WalkCache

    private = tmp_path / "private"
    first = WalkCache(private).get("cipher-gateway.snmprec")
    assert len(list(private.glob("*.pickle"))) == 1
    again = WalkCache(private).get("cipher-gateway.snmprec")  # from the pickle
    assert again.oids == first.oids and again.values == first.values
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    assert WalkCache(shared).get("cipher-gateway.snmprec").oids == first.oids
    assert not list(shared.glob("*.pickle"))
