"""The simulator's address, ARP and LLDP tables, read by the real poller over SNMP, and their faults."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from probes.plugins.addresses import Addresses
from probes.poller import Poller
from probes.sim import SimError
from probes.sim.addressing import mac_of
from probes.snmp import Target
from tests.sim.conftest import CREDS


def poll(sim, device: str, poller: Poller | None = None) -> dict:
    host, port = sim.address(device)
    cred = CREDS[sim.inventory.devices[device].credential]
    target = Target(host=host, port=port, credential=cred, name=device, timeout=2, retries=1)
    result = asyncio.run((poller or Poller()).poll(target))
    assert result["ok"], result
    return result


def tables(sim, device: str) -> dict:
    got = poll(sim, device)["addresses"]
    assert got is not None and got["bad"] == 0
    return got


def test_tables_follow_the_inventory(sim, inventory):
    t = tables(sim, "anhui-rtr1")
    rtr, fw = inventory.devices["anhui-rtr1"], inventory.devices["anhui-fw1"]
    first = next(iter(sim.device("anhui-rtr1").interfaces))
    assert [(a["address"], a["plen"], a["ifname"]) for a in t["interface"] if ":" not in a["address"]] == [
        (rtr.address, 24, first)]
    assert [a["address"][:6] for a in t["interface"] if ":" in a["address"]] == ["fe80::"]  # link-local only
    # its ARP table holds the other devices of its site and network, nothing from the recorded walk
    peers = sorted((d.address, mac_of(d.name).hex(":")) for d in inventory.devices.values()
                   if d.site == rtr.site and d.network == rtr.network and d.name != rtr.name)
    assert sorted((a["address"], a["mac"]) for a in t["arp"]) == peers
    assert (fw.address, mac_of("anhui-fw1").hex(":")) in peers and len(peers) == 2  # the cipher too
    assert sorted((n["local_port"], n["remote_name"], n["remote_port"]) for n in t["lldp"]) == [
        ("GigabitEthernet0/0/1", "anhui-fw1", "GigabitEthernet0/0/1"), ("Pos1/0/0", "hefei-rtr1", "Pos2/0/0")]
    cipher = tables(sim, "anhui-cipher1")  # no ARP, no LLDP on a cipher machine
    assert cipher["arp"] == [] and cipher["lldp"] == []
    assert inventory.devices["anhui-cipher1"].address in {a["address"] for a in cipher["interface"]}


def test_discrepancy_faults_add_and_remove_rows(sim, inventory):
    base = tables(sim, "anhui-rtr1")
    sim.fault("addr-unknown", "anhui-rtr1")
    sim.fault("addr-duplicate", "anhui-rtr1")
    sim.fault("addr-mismatch", "anhui-rtr1")
    sim.fault("lldp-miscabled", "l-eth")
    t = tables(sim, "anhui-rtr1")
    new_arp = [a for a in t["arp"] if a not in base["arp"]]
    assert sorted(a["address"].startswith("10.250.") for a in new_arp) == [False, True]
    dup = next(a for a in new_arp if not a["address"].startswith("10.250."))
    (same,) = [a for a in base["arp"] if a["address"] == dup["address"]]  # a neighbour's address ...
    assert dup["mac"] != same["mac"] and dup["ifname"] != same["ifname"]  # ... at a second MAC
    extra = [a for a in t["interface"] if a not in base["interface"]]
    assert len(extra) == 1 and extra[0]["address"] != inventory.devices["anhui-rtr1"].address
    eth = next(n for n in t["lldp"] if n["local_port"] == "GigabitEthernet0/0/1")
    assert eth["remote_name"] != "anhui-fw1"
    far = next(n for n in tables(sim, "anhui-fw1")["lldp"] if n["local_port"] == "GigabitEthernet0/0/1")
    assert far["remote_name"] == "anhui-rtr1"  # only the a end's view is mis-cabled
    assert sorted(sim.device("anhui-rtr1").status(0)["discrepancies"]) == [
        "duplicate", "miscabled:l-eth", "mismatch", "unknown"]
    for action, arg in (("addr-unknown-clear", "anhui-rtr1"), ("addr-duplicate-clear", "anhui-rtr1"),
                        ("addr-mismatch-clear", "anhui-rtr1"), ("lldp-miscabled-clear", "l-eth")):
        sim.fault(action, arg)
    assert tables(sim, "anhui-rtr1") == base
    sim.fault("addr-unknown", "anhui-rtr1")
    sim.fault("clear-all")
    assert tables(sim, "anhui-rtr1") == base


def test_bad_discrepancy_faults_are_named(sim):
    with pytest.raises(SimError, match="holds no ARP table"):
        sim.fault("addr-duplicate", "anhui-cipher1")
    with pytest.raises(SimError, match="no link 'l-nope'"):
        sim.fault("lldp-miscabled", "l-nope")
    with pytest.raises(SimError, match="expected 1 argument"):
        sim.fault("addr-unknown")


def test_tables_are_read_once_per_address_interval(sim, monkeypatch):
    monkeypatch.delenv("NMS_ADDRESS_INTERVAL_S", raising=False)
    poller = Poller()
    plugin = next(p for p in poller.plugins if isinstance(p, Addresses))
    now = [1000.0]
    plugin.clock = lambda: now[0]
    assert poll(sim, "anhui-fw1", poller)["addresses"] is not None
    now[0] += 600  # the generic profile says 900 s
    second = poll(sim, "anhui-fw1", poller)
    assert "addresses" not in second and second["interfaces"]  # the interface poll goes on
    now[0] += 300
    assert poll(sim, "anhui-fw1", poller)["addresses"] is not None
    monkeypatch.setenv("NMS_ADDRESS_INTERVAL_S", "0")  # tests and demos shorten it for every profile
    assert poll(sim, "anhui-fw1", poller)["addresses"] is not None
    monkeypatch.setenv("NMS_ADDRESS_INTERVAL_S", "soon")
    failed = poll(sim, "anhui-fw1", poller)
    assert failed["failed"] == [{"plugin": "addresses", "error": failed["failed"][0]["error"]}]
    assert "NMS_ADDRESS_INTERVAL_S" in failed["failed"][0]["error"]


def test_serve_can_start_with_one_discrepancy_of_each_kind():
    """``serve --discrepancies`` (the demo): listed in the ready line and the status; clear-all ends them."""
    from probes.sim import run_subprocess
    from probes.sim.control import get_status, send_fault
    from tests.support.processes import SNMP_SECRETS

    root = Path(__file__).resolve().parents[2]
    with run_subprocess(root / "inventory.yaml", devices=["hefei-*", "yaohai-*", "luyang-*"],
                        env=SNMP_SECRETS, extra_args=["--discrepancies"]) as sim:
        listed = dict(x.split() for x in sim.ready["discrepancies"])
        assert sorted(listed) == ["addr-duplicate", "addr-mismatch", "addr-unknown", "lldp-miscabled"]
        faulty = {d["name"]: d["discrepancies"] for d in get_status(sim.control)["faulty"]}
        assert sorted(k for v in faulty.values() for k in v) == sorted(
            ["duplicate", "unknown", "mismatch", f"miscabled:{listed['lldp-miscabled']}"])
        assert faulty[listed["addr-unknown"]] == ["duplicate", "unknown"]
        send_fault(sim.control, "clear-all")
        assert get_status(sim.control)["faulty"] == []


def test_tables_that_take_too_long_fail_only_their_part(sim, tmp_path):
    import shutil

    from probes import profile as profmod

    shutil.copytree(profmod.PROFILE_DIR, tmp_path / "profiles")
    generic = tmp_path / "profiles" / "generic.yaml"
    text = generic.read_text(encoding="utf-8")
    assert "  max_s: 20 " in text
    generic.write_text(text.replace("  max_s: 20 ", "  max_s: 0.3 "), encoding="utf-8")
    sim.fault("slow", "anhui-fw1", "0.1")  # every answer 100 ms late: the tables need several
    got = poll(sim, "anhui-fw1", Poller(profile_dir=str(tmp_path / "profiles")))
    assert "addresses" not in got and got["interfaces"] and got["health"] is not None
    assert got["failed"] == [{"plugin": "addresses",
                              "error": "snmp: addresses: tables not read within 0.3 s (addresses.max_s)"}]
