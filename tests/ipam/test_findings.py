"""Reconciliation fed by polls: stored tables (ipam.observed) against the shipped plan and inventory."""

from __future__ import annotations

import time

import pytest

from ipam import addrs, findings, observed, store
from ipam.addresses import parse_prefix
from ipam.errors import BadInput, Conflict, Forbidden, NotFound
from nms import audit
from nms.config import ROOT
from probes.common.inventory import load_inventory

INV = load_inventory(ROOT / "inventory.yaml")
RTR, FW, SW = "yaohai-int-rtr1", "yaohai-int-fw1", "yaohai-int-sw1"  # county hefei-yaohai, 10.34.2.0/24
SITE, OTHER = "hefei-yaohai", "hefei-luyang"  # luyang: 10.34.3.0/24
NOW = time.time()


@pytest.fixture
def db(planned_db):
    return planned_db  # the shipped plan, imported with the shipped inventory's sites


def tables(interface=(), arp=(), lldp=()):
    return {"interface": list(interface), "arp": list(arp), "lldp": list(lldp)}


def ifa(address, ifname="GigabitEthernet0/0/9", plen=24):
    return {"address": address, "plen": plen, "ifname": ifname}


def arp(address, mac, ifname="GigabitEthernet0/0/9"):
    return {"address": address, "mac": mac, "ifname": ifname}


def consistent(db, ts=NOW):
    """What a healthy county reports: its own addresses, its neighbours, its planned cabling."""
    observed.record(db, RTR, SITE, "专网", tables(
        [ifa("10.34.2.1")], [arp("10.34.2.3", "02:00:00:00:00:03"), arp("10.34.2.4", "02:00:00:00:00:04")],
        [{"local_port": "GigabitEthernet0/0/0", "remote_name": "hefei-int-rtr1",
          "remote_port": "GigabitEthernet1/0/0"}]), ts)
    observed.record(db, FW, SITE, "专网", tables([ifa("10.34.2.3")], [arp("10.34.2.1", "02:00:00:00:00:01")]),
                    ts)


def kinds(out):
    return sorted((f["kind"], f["address"]) for f in out["findings"])


def test_a_network_that_matches_the_plan_has_no_findings(db):
    consistent(db)
    out = findings.findings(db, INV, None, now=NOW)
    assert out["findings"] == []
    assert out["devices_polled"] == 2 and out["rows"]["stored"] == 6


def test_unknown_mismatch_and_duplicate_with_where_and_when(db):
    consistent(db, NOW - 60)
    observed.record(db, RTR, SITE, "专网", tables(
        [ifa("10.34.2.1"), ifa("10.34.3.250", "Pos1/0/0")],  # luyang's management prefix, at yaohai
        [arp("10.34.2.3", "02:00:00:00:00:03"), arp("10.250.9.9", "02:00:00:00:00:99"),
         arp("10.34.2.4", "02:00:00:00:00:04"), arp("10.34.2.4", "02:00:00:00:0d:0d", "Pos1/0/0")]), NOW)
    out = findings.findings(db, INV, None, now=NOW)
    assert kinds(out) == [("duplicate", "10.34.2.4"), ("mismatch", "10.34.3.250"), ("unknown", "10.250.9.9")]
    by = {f["kind"]: f for f in out["findings"]}
    assert by["mismatch"]["planned_site"] == OTHER and by["mismatch"]["prefix"] == "10.34.3.0/24"
    assert by["mismatch"]["site"] == SITE and by["mismatch"]["space"] == "专网"
    dup = by["duplicate"]
    assert sorted((p["device"], p["ifname"], p["mac"]) for p in dup["places"]) == [
        (RTR, "GigabitEthernet0/0/9", "02:00:00:00:00:04"), (RTR, "Pos1/0/0", "02:00:00:00:0d:0d")]
    assert dup["first_seen"] == NOW - 60 and dup["last_seen"] == NOW  # the old MAC was first seen earlier
    assert by["unknown"]["places"][0]["first_seen"] == NOW


def test_findings_go_when_the_next_poll_no_longer_shows_them(db):
    stranger = [arp("10.250.9.9", "02:00:00:00:00:99")]
    observed.record(db, RTR, SITE, "专网", tables([ifa("10.34.2.1")], stranger), NOW - 60)
    assert kinds(findings.findings(db, INV, None, now=NOW)) == [("unknown", "10.250.9.9")]
    observed.record(db, RTR, SITE, "专网", tables([ifa("10.34.2.1")]), NOW)
    assert findings.findings(db, INV, None, now=NOW)["findings"] == []


def test_a_county_administrator_sees_only_their_county(db):
    observed.record(db, RTR, SITE, "专网", tables([ifa("10.34.2.1"), ifa("10.34.3.250", "Pos1/0/0")],
                                                [arp("10.250.9.9", "02:00:00:00:00:99")]), NOW)
    observed.record(db, "luyang-int-rtr1", OTHER, "专网",
                    tables([ifa("10.34.3.1")], [arp("10.250.8.8", "02:00:00:00:00:98")]), NOW)
    province = findings.findings(db, INV, None, now=NOW)
    assert {f["site"] for f in province["findings"]} == {SITE, OTHER}
    mine = findings.findings(db, INV, frozenset({SITE}), now=NOW)
    assert {f["site"] for f in mine["findings"]} == {SITE}
    assert {f["address"] for f in mine["findings"]} == {"10.34.3.250", "10.250.9.9"}
    mismatch = next(f for f in mine["findings"] if f["kind"] == "mismatch")
    assert mismatch["planned_site"] is None and mismatch["prefix"] is None  # luyang's range is not named
    theirs = findings.findings(db, INV, frozenset({OTHER}), now=NOW)
    assert [f["address"] for f in theirs["findings"]] == ["10.250.8.8"]
    assert theirs["devices_polled"] == 1


def test_reclaimable_after_n_days_without_a_sighting(db):
    sp = store.space_id(db, "专网")
    pool = next(p for p in store.query(db, frozenset({SITE}), space=sp, family=4, pools_only=True))
    lan = store.add(db, sp, parse_prefix(str(pool.block.cidr).replace("/20", "/28")), status="allocated",
                    actor="t", site=SITE, purpose="county LAN")
    consistent(db, NOW)  # the county's devices report from now on
    later = time.time() + 31 * 86400
    consistent(db, later - 3600)  # and still do a month later: their own /24 is in use
    out = findings.findings(db, INV, None, now=later, reclaim_days=30)
    assert [(f["kind"], f["address"]) for f in out["findings"]] == [("reclaimable", lan.cidr)]
    assert findings.findings(db, INV, None, now=later, reclaim_days=40)["findings"] == []
    first = lan.cidr.split("/")[0][:-1] + "5"  # an address inside the LAN, seen now
    observed.record(db, FW, SITE, "专网", tables([ifa("10.34.2.3")], [arp(first, "02:00:00:00:00:55")]),
                    later - 60)
    assert "reclaimable" not in {f["kind"] for f in findings.findings(db, INV, None, now=later)["findings"]}


def test_interface_addresses_against_the_inventory_management_addresses(db):
    observed.record(db, RTR, SITE, "专网", tables([ifa("10.34.2.9")]), NOW)  # its own 10.34.2.1 missing
    observed.record(db, SW, SITE, "专网", tables([ifa("10.34.2.4"), ifa("10.34.2.3", "Vlanif2")]), NOW)
    out = findings.findings(db, INV, None, now=NOW, kind="mgmt-address")
    keys = sorted(f["key"] for f in out["findings"])
    assert keys == ["mgmt-address|yaohai-int-rtr1", "mgmt-address|yaohai-int-sw1|10.34.2.3"]
    assert "yaohai-int-fw1" in next(f["detail"] for f in out["findings"] if f["address"] == "10.34.2.3")


def test_cabling_lldp_against_the_inventory_links(db):
    right = {"local_port": "GigabitEthernet0/0/0", "remote_name": "hefei-int-rtr1.example.net",
             "remote_port": "GigabitEthernet1/0/0"}
    observed.record(db, RTR, SITE, "专网", tables([ifa("10.34.2.1")], lldp=[right]), NOW - 1)
    assert findings.findings(db, INV, None, now=NOW)["findings"] == []
    wrong = {**right, "remote_name": "luyang-int-rtr1", "remote_port": "GigabitEthernet0/0/0"}
    observed.record(db, RTR, SITE, "专网", tables([ifa("10.34.2.1")], lldp=[wrong]), NOW)
    (f,) = findings.findings(db, INV, None, now=NOW)["findings"]
    assert f["kind"] == "cabling" and "mstp-yaohai" in f["detail"] and "hefei-int-rtr1" in f["detail"]
    assert f["places"][0]["remote"] == "luyang-int-rtr1 GigabitEthernet0/0/0"


def test_dismiss_needs_a_reason_and_is_audited(db):
    stranger = [arp("10.250.9.9", "02:00:00:00:00:99")]
    observed.record(db, RTR, SITE, "专网", tables([ifa("10.34.2.1")], stranger), NOW)
    (f,) = findings.findings(db, INV, None, now=NOW)["findings"]
    with pytest.raises(BadInput, match="reason"):
        findings.dismiss(db, INV, f["key"], " ", actor="op", sites=None)
    with pytest.raises(Forbidden):
        findings.dismiss(db, INV, f["key"], "lab box", actor="county", sites=frozenset({OTHER}))
    with pytest.raises(NotFound):
        findings.dismiss(db, INV, "unknown|专网|10.9.9.9|x", "no", actor="op", sites=None)
    findings.dismiss(db, INV, f["key"], "lab box, removed next week", actor="op", sites=None)
    assert findings.findings(db, INV, None, now=NOW)["findings"] == []
    (kept,) = findings.findings(db, INV, None, now=NOW, decided=True)["findings"]
    assert kept["decision"]["status"] == "dismissed"
    assert kept["decision"]["reason"] == "lab box, removed next week"
    (entry,) = audit.query(db, action="ipam.finding.dismiss")
    assert entry["actor"] == "op" and entry["target"] == f["key"]


def test_accept_allocates_the_address_as_observed(db):
    observed.record(db, RTR, SITE, "专网", tables([ifa("10.34.2.1"), ifa("10.34.3.250", "Pos1/0/0")],
                                                [arp("10.250.9.9", "02:00:00:00:00:99")]), NOW)
    out = findings.findings(db, INV, None, now=NOW)
    unknown = next(f for f in out["findings"] if f["kind"] == "unknown")
    mismatch = next(f for f in out["findings"] if f["kind"] == "mismatch")
    with pytest.raises(Conflict, match="only unknown"):
        findings.accept(db, INV, mismatch["key"], actor="op", sites=None)
    got = findings.accept(db, INV, unknown["key"], actor="op", sites=None, reason="printer of the county")
    assert got["prefix"] == "10.250.9.9/32"
    p = store.get(db, got["prefix_id"])
    assert (p.status, p.site) == ("allocated", SITE) and RTR in p.purpose
    assert [f["kind"] for f in findings.findings(db, INV, None, now=NOW)["findings"]] == ["mismatch"]
    assert audit.query(db, action="ipam.finding.accept")[0]["reason"] == "printer of the county"
    assert audit.query(db, action="ipam.prefix.create", target="")[0]["actor"] == "op"


def test_bad_rows_are_counted_and_the_rest_is_stored_once(db):
    rows = [arp("10.34.2.3", "02:00:00:00:00:03"), arp("10.34.2.3", "02:00:00:00:00:03"),  # repeated
            arp("not an address", "02:00:00:00:00:05"), "garbage", arp("10.34.2.7", ""),      # unreadable
            arp("192.168.1.1", "02:00:00:00:00:06"), arp("fe80::1", "02:00:00:00:00:07"),    # outside
            arp("10.34.2.4", "02:00:00:00:00:04")]
    counts = observed.record(db, RTR, SITE, "专网", {**tables([ifa("10.34.2.1")], rows), "bad": 2}, NOW)
    assert (counts.rows, counts.stored, counts.bad, counts.outside, counts.duplicates) == (9, 3, 5, 2, 1)
    assert len(observed.current(db)) == 3
    again = observed.record(db, RTR, SITE, "专网", tables([ifa("10.34.2.1")], rows), NOW)  # the batch re-sent
    assert again.stale and len(observed.current(db, since=0)) == 3
    observed.record(db, RTR, SITE, "专网", tables([ifa("10.34.2.1")], rows), NOW + 900)
    assert len(observed.current(db, since=0)) == 3  # the next poll updates rows, never adds them twice


def test_an_arp_table_of_100000_rows(db):
    rows = [arp(f"10.{34 + i // 65536}.{i // 256 % 256}.{i % 256}",
                f"02:00:00:{i >> 16:02x}:{i >> 8 & 255:02x}:{i & 255:02x}") for i in range(100_000)]
    counts = observed.record(db, RTR, SITE, "专网", tables([ifa("10.34.2.1")], rows + rows[:1000]), NOW)
    assert (counts.stored, counts.duplicates, counts.bad, counts.outside) == (100_001, 1000, 0, 0)
    assert len(observed.current(db)) == 100_001
    out = findings.findings(db, INV, None, now=NOW)
    assert sum(out["counts"].values()) > 0 and out["rows"]["stored"] == counts.stored


def test_unknown_kind_is_refused(db):
    with pytest.raises(BadInput, match="kind"):
        findings.findings(db, INV, None, kind="everything")


def test_an_address_the_plan_records_for_a_device_of_another_site(db):
    sp = store.space_id(db, "专网")
    addrs.add(db, None, sp, "10.34.2.77", actor="t", device="luyang-int-rtr1")  # in yaohai's /24
    observed.record(db, RTR, SITE, "专网", tables([ifa("10.34.2.1"), ifa("10.34.2.77", "Pos1/0/0")]), NOW)
    (f,) = findings.findings(db, INV, None, now=NOW)["findings"]
    assert (f["kind"], f["address"], f["planned_site"]) == ("mismatch", "10.34.2.77", OTHER)
    assert "luyang-int-rtr1" in f["detail"]
    (mine,) = findings.findings(db, INV, frozenset({SITE}), now=NOW)["findings"]
    assert mine["planned_site"] is None and "luyang" not in mine["detail"]  # the other county is not named
    observed.record(db, "luyang-int-rtr1", OTHER, "专网", tables([ifa("10.34.3.1"), ifa("10.34.2.77")]), NOW)
    both = findings.findings(db, INV, None, now=NOW)["findings"]  # there, the range is yaohai's
    assert [(f["site"], f["planned_site"]) for f in both] == [(OTHER, SITE), (SITE, OTHER)]


def test_ipv6_addresses_are_reconciled_like_ipv4(db):
    sp = store.space_id(db, "专网")
    pool = next(p for p in store.query(db, frozenset({SITE}), space=sp, family=6, pools_only=True))
    inside = str(pool.cidr).split("/")[0] + "1"
    rows = [ifa("10.34.2.1"), ifa(inside, plen=64), ifa("fe80::1", plen=64)]
    observed.record(db, RTR, SITE, "专网", tables(rows), NOW)
    (f,) = findings.findings(db, INV, None, now=NOW)["findings"]
    assert (f["kind"], f["address"], f["planned_site"]) == ("unknown", inside, SITE)  # in the county's pool
    assert observed.polls(db)[RTR]["outside"] == 1  # the link-local address is in no space
