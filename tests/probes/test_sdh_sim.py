"""SDH from the simulated NE40E ends of the shipped inventory: what a real poll reads.

The simulator serves SONET-MIB on every port of an ``sdh-stm1`` link; the poller finds it
by asking (``sonetMediumType``), whatever profile the router got.  The simulator's clock
and the poller's are moved together to let quarter hours pass.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import pytest

from nms import sdh
from nms.config import ROOT
from probes.common.inventory import load_inventory
from probes.poller import Poller
from probes.sim import SimulatedProvince
from probes.snmp import Credential, Target

COMMUNITY = "sdh-sim-community"


@pytest.fixture(scope="module")
def sim():
    inv = load_inventory(ROOT / "inventory.yaml")
    creds = {n: Credential(community=COMMUNITY) for n in inv.credentials}
    province = SimulatedProvince(inv, port=0, devices=["anhui-int-rtr1", "hefei-int-rtr1"], credentials=creds)
    province.start()
    yield province
    province.stop()


@pytest.fixture(autouse=True)
def _real_clock(sim):
    yield
    sim.clock = time.time
    sim.fault("clear-all")


def _poll(sim, poller: Poller, name: str) -> dict:
    host, port = sim.address(name)
    r = asyncio.run(poller.poll(Target(host, port, Credential(community=COMMUNITY), timeout=2, name=name)))
    assert r["ok"], r["error"]
    return r


def _port(result: dict, ifname: str) -> dict:
    index = next(i["index"] for i in result["interfaces"] if i["name"] == ifname)
    return next(s for s in result["sdh"] if s["ifIndex"] == index)


def test_agent_poll_of_the_province_ne40e_reads_its_sdh_ports(sim):
    host, port = sim.address("anhui-int-rtr1")
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "agent.py"),
            "poll",
            "--target",
            f"{host}:{port}",
            "--community",
            COMMUNITY,
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert r["profile"] == "huawei-vrp"  # no SDH in the profile's detection: the device answered
    sdh_ports = {i["name"] for i in r["interfaces"] if i["index"] in {s["ifIndex"] for s in r["sdh"]}}
    assert sdh_ports == {f"Pos1/0/{k}" for k in range(9)}  # its nine STM-1 links to the cities
    e = _port(r, "Pos1/0/0")
    assert (e["section_status"], e["line_status"], e["path_status"]) == ([], [], [])
    assert len(e["buckets"]) == 96  # first poll: the day the device holds
    ends = [b["interval_end"] for b in e["buckets"]]
    assert ends == list(range(ends[0], ends[0] + 96 * 900, 900)) and ends[-1] % 900 == 0
    assert ends[-1] <= time.time() < ends[-1] + 900
    for b in e["buckets"]:
        assert set(b) >= {"section", "line", "path", "es", "ses", "uas", "valid"} and b["valid"] is True
        assert set(b["section"]) == {"es", "ses", "sefs", "cv"} and set(b["path"]) == {
            "es",
            "ses",
            "cv",
            "uas",
        }
        assert b["line"]["es"] == b["path"]["es"] == b["es"] <= 2  # background errors only


def test_a_cut_shows_los_at_the_province_end_and_rdi_after_a_one_way_fault(sim):
    poller = Poller()
    sim.fault("link-down", "sdh-hefei")
    e = _port(_poll(sim, poller, "anhui-int-rtr1"), "Pos1/0/0")
    assert (e["section_status"], e["line_status"], e["path_status"]) == (["LOS"], ["AIS"], ["AIS"])
    sim.fault("link-up", "sdh-hefei")
    sim.fault("sdh-los", "hefei-int-rtr1", "Pos1/0/0")  # the city end stops hearing the province
    r = _poll(sim, poller, "anhui-int-rtr1")
    e = _port(r, "Pos1/0/0")
    assert (e["section_status"], e["line_status"], e["path_status"]) == ([], ["RDI"], ["RDI"])
    assert e["buckets"] == []  # nothing new since the last poll


def test_a_gap_between_polls_loses_no_quarter_hour(sim):
    # start in a later quarter hour: what earlier tests did to this port stays in older buckets
    now = [float((int(time.time()) // 900 + 2) * 900 + 30)]
    sim.clock = poller_clock = lambda: now[0]
    poller = Poller()
    poller.sdh.clock = poller_clock
    first = _port(_poll(sim, poller, "hefei-int-rtr1"), "Pos1/0/0")
    last = first["buckets"][-1]["interval_end"]

    now[0] += 600  # ten minutes on, the link is cut for five minutes; the agent hears nothing for 45
    sim.fault("link-down", "sdh-hefei")
    now[0] += 300
    sim.fault("link-up", "sdh-hefei")
    now[0] += 1800
    second = _port(_poll(sim, poller, "hefei-int-rtr1"), "Pos1/0/0")
    got = second["buckets"]
    assert [b["interval_end"] for b in got] == [last + 900, last + 1800, last + 2700]
    assert second["missed_intervals"] == 0
    assert sum(b["path"]["uas"] for b in got) == sum(b["line"]["uas"] for b in got) == 300
    assert sum(b["section"]["sefs"] for b in got) == 300  # the section layer saw every LOS second
    fig = sdh.g826(b["path"] for b in got)
    assert (fig.uas_s, fig.available_s) == (300, 2700 - 300) and fig.sesr == 0

    assert _port(_poll(sim, poller, "hefei-int-rtr1"), "Pos1/0/0")["buckets"] == []  # nothing twice

    now[0] += 25 * 3600  # longer than the device keeps: the newest 96 arrive, the rest is said lost
    late = _port(_poll(sim, poller, "hefei-int-rtr1"), "Pos1/0/0")
    assert len(late["buckets"]) == 96 and late["missed_intervals"] == 100 - 96


def test_after_a_reboot_the_device_holds_only_the_quarter_hours_since(sim):
    """Keep this test last in the module: the reboot is dated ahead of the real clock."""
    now = [float((int(time.time()) // 900 + 2) * 900 + 30)]
    sim.clock = poller_clock = lambda: now[0]
    poller = Poller()
    poller.sdh.clock = poller_clock
    assert len(_port(_poll(sim, poller, "hefei-int-rtr1"), "Pos1/0/0")["buckets"]) == 96
    sim.fault("reboot", "hefei-int-rtr1")  # 30 s into a quarter hour: that one is not whole any more
    now[0] += 3600
    e = _port(_poll(sim, poller, "hefei-int-rtr1"), "Pos1/0/0")
    q = now[0] - 30
    assert [b["interval_end"] for b in e["buckets"]] == [q - 1800, q - 900, q]
    assert all(b["valid"] for b in e["buckets"]) and e["missed_intervals"] == 1


def test_path_rows_on_a_stacked_sonet_path_interface_are_found_through_ifstack():
    """RFC 3592's own layout: the path table sits on a sonetPath ifIndex stacked on the medium."""
    from probes.sim.device import SONET
    from probes.snmp import ber

    inv = load_inventory(ROOT / "inventory.yaml")
    creds = {n: Credential(community=COMMUNITY) for n in inv.credentials}
    with SimulatedProvince(inv, port=0, devices=["hefei-int-rtr1"], credentials=creds) as one:
        dev = one.devices["hefei-int-rtr1"]
        medium, path = dev.interfaces["Pos1/0/0"].index, 9000
        view = dev.view
        for oid in [o for o in view.overlay if o[: len(SONET) + 2] == SONET + (2, 1)]:
            k = len(SONET) + 5  # SONET.2.1.<table>.1.<column>.<ifIndex>[.<interval>]
            if oid[k] == medium:  # move every path row from the medium's ifIndex to ours
                view.set(oid[:k] + (path,) + oid[k + 1 :], view.overlay[oid][1])
                view.hide(oid)
        view.set(SONET + (2, 1, 1, 1, 2, path), ber.enc_int(8))  # path RDI
        view.set((1, 3, 6, 1, 2, 1, 31, 1, 2, 1, 3, path, medium), ber.enc_int(1))  # ifStackStatus active
        e = _port(_poll(one, Poller(), "hefei-int-rtr1"), "Pos1/0/0")
    assert e["path_ifIndex"] == path and e["path_status"] == ["RDI"]
    assert len(e["buckets"]) == 96 and all(set(b["path"]) == {"es", "ses", "cv", "uas"} for b in e["buckets"])
