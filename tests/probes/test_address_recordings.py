"""Address, ARP/ND and LLDP tables of real device walks, against LibreNMS's parse of the same walks.

The LibreNMS files are GPL: read from ../shared/testbed at run time, never copied.  Agreement:
every IPv4 address LibreNMS found is ours too, on the same ifIndex, with the same prefix length
(where the walk has a netmask: without one LibreNMS guesses the class, we say None); every
IPv6 address LibreNMS found is ours on the same ifIndex; every LLDP neighbour LibreNMS lists
(local ifName, remote sysName) is ours.  We may find more (loopbacks, 0.0.0.0, neighbours
LibreNMS could not match to a device): the centre sorts those out (ipam.observed).
"""

from __future__ import annotations

import pytest

from probes.addresses import Reader, inet_index, mac
from tests.probes.helpers import librenms_expected

KEYS = ("ipv4-addresses", "ipv6-addresses", "discovery-protocols")


def _expected() -> dict[str, dict]:
    return {name: doc for name, doc in librenms_expected().items() if any(k in doc for k in KEYS)}


def _section(doc: dict, key: str, rows: str) -> list[dict]:
    return (((doc.get(key) or {}).get("discovery") or {}).get(rows)) or []


@pytest.fixture(scope="module")
def polled(librenms_polled):
    expected = _expected()
    return expected, {name: librenms_polled[name] for name in expected}


def test_interface_addresses_agree_with_librenms(polled):
    expected, results = polled
    checked = 0
    for name, doc in expected.items():
        got = results[name]
        assert got["ok"] and got.get("addresses") is not None, (name, got.get("error"), got.get("failed"))
        ours = {(a["address"], a["if_index"]): a["plen"] for a in got["addresses"]["interface"]}
        for row in _section(doc, "ipv4-addresses", "ipv4_addresses"):
            key = (row["ipv4_address"], row["ifIndex"])
            assert key in ours, f"{name}: {key} missing"
            assert ours[key] in (row["ipv4_prefixlen"], None), f"{name}: {key} /{ours[key]}"
            checked += 1
        for row in _section(doc, "ipv6-addresses", "ipv6_addresses"):
            assert (row["ipv6_compressed"], row["ifIndex"]) in ours, f"{name}: {row['ipv6_compressed']}"
            checked += 1
    assert checked > 200


def test_lldp_neighbours_agree_with_librenms(polled):
    expected, results = polled
    checked = 0
    for name, doc in expected.items():
        links = [x for x in _section(doc, "discovery-protocols", "links") if x.get("protocol") == "lldp"]
        ours = {(n["local_port"], n["remote_name"]) for n in results[name]["addresses"]["lldp"]}
        for link in links:
            assert (link["ifName"], link["remote_hostname"]) in ours, f"{name}: {link['ifName']}"
            checked += 1
    assert checked >= 10


def test_arp_tables_of_real_walks_read_cleanly(polled):
    _expected_, results = polled
    rows = {name: r["addresses"]["arp"] for name, r in results.items()}
    assert sum(map(len, rows.values())) > 500
    assert all(a["mac"] and len(a["mac"]) == 17 for table in rows.values() for a in table)
    bad = {name: r["addresses"]["bad"] for name, r in results.items() if r["addresses"]["bad"]}
    # fortigate's contributor truncated some ipAddrTable indexes to three arcs; ciena has a garbage row
    assert set(bad) == {"fortigate", "ciena-waveserver"} and max(bad.values()) <= 4


def test_index_and_value_quirks():
    assert inet_index([1, 4, 10, 0, 0, 1]) == "10.0.0.1"  # RFC 4001: length-prefixed
    assert inet_index([2, *[0xFE, 0x80] + [0] * 13 + [1]]) == "fe80::1"  # ASA: length implied
    assert inet_index([4, 20, *[0xFE, 0x80] + [0] * 13 + [1], 0, 0, 0, 3]) == "fe80::1"  # zone dropped
    for bad in ([9, 4, 1, 2, 3, 4], [1, 4, 10, 0], [1, 4, 300, 0, 0, 1]):
        with pytest.raises(ValueError):
            inet_index(bad)
    assert mac("0:1a:2b:3:4d:5e") == "00:1a:2b:03:4d:5e"
    assert mac(b"\x00\x1a\x2b\x3c\x4d\x5e") == "00:1a:2b:3c:4d:5e"
    assert mac("garbage") is None and mac(b"\x01") is None


def test_garbage_rows_are_counted_and_skipped():
    r = Reader({4: "Gi0/0/1"})
    spec = {"if_index": "a", "netmask": "m"}
    rows = r.ip_addr_table(
        spec,
        {
            "a": {"10.0.0.1": 4, "10.0.0": 4, "10.0.0.2": 4, "10.0.0.3": 4},
            "m": {"10.0.0.1": b"\xff\xff\xff\x00", "10.0.0.2": b"\xff\x00\xff\x00", "10.0.0.3": "junk"},
        },
    )
    assert [(x["address"], x["plen"], x["ifname"]) for x in rows] == [("10.0.0.1", 24, "Gi0/0/1")]
    assert r.bad == 3
    phys = {
        "4.10.0.0.9": b"\x02\0\0\0\0\x09",
        "4.10.0.0.8": b"\x02",
        "4.10.0.0.7": b"\x02\0\0\0\0\x07",
        "x": b"\x02\0\0\0\0\x01",
    }
    arp = r.arp({"phys": "p", "type": "t"}, {"p": phys, "t": {"4.10.0.0.7": 2}}, v6=False)
    assert [a["address"] for a in arp] == ["10.0.0.9"]
    assert r.bad == 5  # a short MAC and an index without an address; the invalid(2) row is dropped
