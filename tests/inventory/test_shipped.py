"""The shipped inventory.yaml: the whole Anhui 2006 network loads cleanly and is shaped as documented."""

from __future__ import annotations

import ipaddress
from collections import Counter
from pathlib import Path

import pytest

from probes.common.inventory import load_inventory
from probes.common.inventory_model import Inventory

INVENTORY = Path(__file__).resolve().parents[2] / "inventory.yaml"
CITY_CODES = {
    "合肥市": "340100", "芜湖市": "340200", "蚌埠市": "340300", "淮南市": "340400", "马鞍山市": "340500",
    "淮北市": "340600", "铜陵市": "340700", "安庆市": "340800", "黄山市": "341000", "滁州市": "341100",
    "阜阳市": "341200", "宿州市": "341300", "巢湖市": "341400", "六安市": "341500", "亳州市": "341600",
    "池州市": "341700", "宣城市": "341800",
}  # fmt: skip


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return load_inventory(INVENTORY)


def kinds(inv: Inventory) -> Counter[str]:
    return Counter(s.kind for s in inv.sites.values())


def test_counts(inv: Inventory) -> None:
    k = kinds(inv)
    assert k["province"] == 1
    assert k["city"] == 17
    assert 95 <= k["county"] <= 110
    assert 18 <= k["department"] <= 22
    assert len(inv.devices) > 1000
    assert inv.source == str(INVENTORY)


def test_cities_are_the_2006_seventeen(inv: Inventory) -> None:
    cities = {s.name_zh: s.code for s in inv.sites.values() if s.kind == "city"}
    assert cities == CITY_CODES
    province = next(s for s in inv.sites.values() if s.kind == "province")
    assert (province.name_zh, province.code, province.parent) == ("安徽省", "340000", None)


def test_counties_belong_to_their_city(inv: Inventory) -> None:
    for s in inv.sites.values():
        if s.kind == "county":
            parent = inv.sites[s.parent]
            assert parent.kind == "city", s.id
            assert s.code[:4] == parent.code[:4], (s.id, s.code, parent.code)
        if s.kind == "department":
            assert inv.sites[s.parent].kind == "province"


def test_every_city_has_an_sdh_link_to_the_province(inv: Inventory) -> None:
    sdh_cities = set()
    for link in inv.links.values():
        if link.kind != "sdh-stm1":
            continue
        a, b = inv.devices[link.a.device], inv.devices[link.b.device]
        assert inv.sites[a.site].kind == "province"
        assert link.capacity_bps == 155_520_000
        assert link.network == "internal"
        assert link.circuit_id != "-"
        sdh_cities.add(b.site)
    assert sdh_cities == {s.id for s in inv.sites.values() if s.kind == "city"}


def test_every_node_has_its_seven_boxes(inv: Inventory) -> None:
    want = {("internal", r) for r in ("router", "firewall", "cipher", "switch")}
    want |= {("external", r) for r in ("router", "firewall", "switch")}
    by_site: dict[str, Counter[tuple[str, str]]] = {s: Counter() for s in inv.sites}
    for d in inv.devices.values():
        by_site[d.site][(d.network, d.role)] += 1
    for site, boxes in by_site.items():
        assert set(boxes) == want, site
    province = next(s.id for s in inv.sites.values() if s.kind == "province")
    assert all(n == 2 for n in by_site[province].values())  # redundant pairs at the centre


def test_links_follow_the_tree(inv: Inventory) -> None:
    """Each inter-site link joins a site and its parent, `a` on the parent's side."""
    for link in inv.links.values():
        sa, sb = inv.devices[link.a.device].site, inv.devices[link.b.device].site
        if sa != sb and not (link.kind == "fibre-ge" and inv.sites[sa].kind == inv.sites[sb].kind):
            assert inv.sites[sb].parent == sa, link.id
        assert inv.devices[link.a.device].network == link.network == inv.devices[link.b.device].network


def test_cipher_tunnels_go_to_the_parent_node(inv: Inventory) -> None:
    for d in inv.devices.values():
        if d.role != "cipher" or inv.sites[d.site].kind == "province":
            continue
        assert d.tunnel_peers, d.name
        for peer in d.tunnel_peers:
            assert inv.devices[peer].role == "cipher"
            assert inv.devices[peer].site == inv.sites[d.site].parent


def test_credentials(inv: Inventory) -> None:
    v3 = [c for c in inv.credentials.values() if c.version == "v3"]
    assert v3 and all(c.auth_proto == "SHA256" and c.priv_proto == "AES" for c in v3)
    for d in inv.devices.values():
        cred = inv.credentials[d.credential]
        if d.role in ("cipher", "firewall"):
            assert cred.version == "v3", d.name
    assert any(
        c.version == "v2c" and c.community_env == "NMS_SNMP_COMMUNITY" for c in inv.credentials.values()
    )


def test_agents_cover_every_site_once(inv: Inventory) -> None:
    covered = Counter(s for a in inv.agents.values() for s in a.sites)
    assert set(covered) == set(inv.sites)
    assert set(covered.values()) == {1}
    assert len(inv.agents) == 18
    assert sum(len(inv.devices_of_agent(a)) for a in inv.agents) == len(inv.devices)


def test_addresses_unique_per_network_and_private(inv: Inventory) -> None:
    seen = Counter((d.network, d.address) for d in inv.devices.values())
    assert max(seen.values()) == 1
    assert all(ipaddress.ip_address(d.address).is_private for d in inv.devices.values())
    for s in inv.sites.values():
        nets = dict(s.prefixes)
        assert set(nets) == {"internal", "external"}
    for d in inv.devices.values():
        prefix = ipaddress.ip_network(dict(inv.sites[d.site].prefixes)[d.network])
        assert ipaddress.ip_address(d.address) in prefix, d.name


def test_sim_address_unique_and_in_range(inv: Inventory) -> None:
    block = ipaddress.ip_network("127.34.0.0/16")
    addrs = [inv.sim_address(name) for name in inv.devices]
    assert len(set(addrs)) == len(addrs)
    assert all(ipaddress.ip_address(a) in block for a in addrs)
    first = sorted(inv.devices)[0]
    assert inv.sim_address(first) == "127.34.0.1"
    with pytest.raises(KeyError):
        inv.sim_address("no-such-device")


def test_loading_is_pure(inv: Inventory) -> None:
    again = load_inventory(INVENTORY)
    assert again == inv
    assert again is not inv and again.devices is not inv.devices


def test_docs_example_loads(tmp_path: Path) -> None:
    """The example in docs/inventory.md is a valid inventory."""
    doc = (INVENTORY.parent / "docs" / "inventory.md").read_text(encoding="utf-8")
    example = doc.split("## Example", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "example.yaml"
    path.write_text(example, encoding="utf-8")
    small = load_inventory(path)
    assert small.links["sdh-hefei"].capacity_bps == 155_520_000
    assert small.devices["hefei-int-rtr1"].interval_s == 30
    assert small.sites["hefei"].prefixes == (("internal", "10.34.1.0/24"),)


def test_sim_address_follows_device_set_changes() -> None:
    from probes.common.inventory_model import Device

    def dev(name: str) -> Device:
        return Device(name, "s", "router", "huawei", "AR2220", "auto", "10.34.0.1", "v2c-default")

    small = Inventory(devices={"b": dev("b"), "c": dev("c")})
    assert small.sim_address("c") == "127.34.0.2"
    small.devices["a"] = dev("a")
    assert [small.sim_address(n) for n in "abc"] == ["127.34.0.1", "127.34.0.2", "127.34.0.3"]
