"""Each fault is observable over SNMP and clearable, via the API, HTTP control and CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from probes.sim import SimError
from tests.sim.conftest import get_values, snmp, walk

SYSNAME, UPTIME = "1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.3.0"
IF_OPER, IF_HCIN = "1.3.6.1.2.1.2.2.1.8", "1.3.6.1.2.1.31.1.1.1.6"
SECTION_STATUS, LINE_STATUS = "1.3.6.1.2.1.10.39.1.2.1.1.1", "1.3.6.1.2.1.10.39.1.3.1.1.1"
SECTION_ES, SECTION_SES = "1.3.6.1.2.1.10.39.1.2.1.1.2", "1.3.6.1.2.1.10.39.1.2.1.1.3"
TUNNEL_STATE, TUNNEL_NAME = "1.3.6.1.4.1.99934.2.2.1.4", "1.3.6.1.4.1.99934.2.2.1.3"


def idx(sim, device: str, name: str) -> int:
    return sim.device(device).interface(name).index


def test_device_down_times_out_and_comes_back(sim):
    sim.fault("device-down", "anhui-rtr1")
    res = snmp("snmpget", sim, "anhui-rtr1", SYSNAME, timeout=0.5, retries=0)
    assert res.returncode != 0 and "Timeout" in res.stderr
    sim.fault("device-up", "anhui-rtr1")
    assert get_values(sim, "anhui-rtr1", SYSNAME) == ["anhui-rtr1"]


def test_if_down_sets_oper_status_and_freezes_counters(sim):
    i = idx(sim, "anhui-rtr1", "GigabitEthernet0/0/1")
    assert get_values(sim, "anhui-rtr1", f"{IF_OPER}.{i}") == ["1"]
    sim.fault("if-down", "anhui-rtr1", "GigabitEthernet0/0/1")
    first = get_values(sim, "anhui-rtr1", f"{IF_OPER}.{i}", f"{IF_HCIN}.{i}")
    time.sleep(0.3)
    second = get_values(sim, "anhui-rtr1", f"{IF_HCIN}.{i}")
    assert first[0] == "2" and first[1] == second[0]
    sim.fault("if-up", "anhui-rtr1", "GigabitEthernet0/0/1")
    assert get_values(sim, "anhui-rtr1", f"{IF_OPER}.{i}") == ["1"]


def test_link_down_takes_both_ends_down_and_raises_los_on_sdh(sim):
    a, b = idx(sim, "anhui-rtr1", "Pos1/0/0"), idx(sim, "hefei-rtr1", "Pos2/0/0")
    sim.fault("link-down", "l-sdh")
    assert get_values(sim, "anhui-rtr1", f"{IF_OPER}.{a}", f"{SECTION_STATUS}.{a}") == ["2", "2"]
    assert get_values(sim, "hefei-rtr1", f"{IF_OPER}.{b}", f"{SECTION_STATUS}.{b}") == ["2", "2"]
    sim.fault("link-up", "l-sdh")
    assert get_values(sim, "hefei-rtr1", f"{IF_OPER}.{b}", f"{SECTION_STATUS}.{b}") == ["1", "1"]


def test_reboot_resets_uptime_and_counters(sim):
    i = idx(sim, "anhui-rtr1", "GigabitEthernet0/0/1")
    before = int(get_values(sim, "anhui-rtr1", f"{IF_HCIN}.{i}")[0])
    sim.fault("reboot", "anhui-rtr1")
    res = snmp("snmpget", sim, "anhui-rtr1", UPTIME, f"{IF_HCIN}.{i}", extra=("-Oqvt",))
    uptime, octets = (int(x) for x in res.stdout.split())
    assert uptime < 3000  # < 30 s since the reboot
    assert octets < before and octets < 1_000_000_000


def test_sdh_los_and_errors(sim):
    a, b = idx(sim, "anhui-rtr1", "Pos1/0/0"), idx(sim, "hefei-rtr1", "Pos2/0/0")
    assert get_values(sim, "anhui-rtr1", f"{SECTION_STATUS}.{a}") == ["1"]
    sim.fault("sdh-los", "anhui-rtr1", "Pos1/0/0")
    assert get_values(sim, "anhui-rtr1", f"{SECTION_STATUS}.{a}", f"{IF_OPER}.{a}") == ["2", "2"]
    assert get_values(sim, "hefei-rtr1", f"{LINE_STATUS}.{b}") == ["4"]  # far end: RDI
    sim.fault("sdh-clear", "anhui-rtr1", "Pos1/0/0")
    assert get_values(sim, "anhui-rtr1", f"{SECTION_STATUS}.{a}") == ["1"]
    assert get_values(sim, "hefei-rtr1", f"{LINE_STATUS}.{b}") == ["1"]
    es0 = int(get_values(sim, "hefei-rtr1", f"{SECTION_ES}.{b}")[0])
    sim.fault("sdh-errors", "hefei-rtr1", "Pos2/0/0", es=7, ses=3)
    es, ses = (int(x) for x in get_values(sim, "hefei-rtr1", f"{SECTION_ES}.{b}", f"{SECTION_SES}.{b}"))
    # a quarter-hour boundary between the two reads would reset the current interval
    assert es >= 7 and ses >= 3 and (es >= es0 + 7 or es0 == 0)
    with pytest.raises(SimError, match="not an SDH interface"):
        sim.fault("sdh-los", "anhui-rtr1", "GigabitEthernet0/0/1")


def tunnel_rows(sim, device: str, v3: dict) -> dict[str, str]:
    """{row index: peer name} of a cipher machine's tunnel table, as a walk sees it."""
    return {k.rsplit(".", 1)[1]: v for k, v in walk(sim, device, TUNNEL_NAME, v3=v3).items()
            if k.lstrip(".").startswith(TUNNEL_NAME + ".")}


def test_tunnel_down_removes_its_row_on_both_ends(sim):
    v3 = {}
    assert get_values(sim, "anhui-cipher1", f"{TUNNEL_NAME}.1", f"{TUNNEL_STATE}.1", v3=v3) == [
        "hefei-cipher1", "1"]
    sim.fault("tunnel-down", "anhui-cipher1", "hefei-cipher1")
    # a dropped SA is not a row saying "down": the row is gone, as on a real cipher machine
    assert tunnel_rows(sim, "anhui-cipher1", v3) == {}
    assert tunnel_rows(sim, "hefei-cipher1", v3) == {}
    res = snmp("snmpget", sim, "anhui-cipher1", f"{TUNNEL_STATE}.1", v3=v3, extra=("-Oqv",))
    assert "No Such Instance" in res.stdout
    sim.fault("tunnel-up", "anhui-cipher1", "hefei-cipher1")
    assert tunnel_rows(sim, "hefei-cipher1", v3) == {"1": "anhui-cipher1"}
    assert get_values(sim, "hefei-cipher1", f"{TUNNEL_STATE}.1", v3=v3) == ["1"]
    sim.fault("device-down", "hefei-cipher1")  # the peer vanishing takes the tunnel down too
    assert tunnel_rows(sim, "anhui-cipher1", v3) == {}


@pytest.mark.parametrize("cut", [("link-down", "l-sdh"), ("sdh-los", "hefei-rtr1", "Pos2/0/0"),
                                 ("device-down", "hefei-rtr1")])
def test_cutting_the_path_between_cipher_machines_drops_their_tunnel(sim, cut):
    v3 = {}
    assert tunnel_rows(sim, "anhui-cipher1", v3) == {"1": "hefei-cipher1"}
    sim.fault(*cut)  # the SDH link (or the router) the tunnel crosses
    assert tunnel_rows(sim, "anhui-cipher1", v3) == {}
    assert tunnel_rows(sim, "hefei-cipher1", v3) == {}
    assert "hefei-cipher1" in next(d["tunnels_down"] for d in sim.status()["faulty"]
                                   if d["name"] == "anhui-cipher1")
    undo = {"link-down": "link-up", "sdh-los": "sdh-clear", "device-down": "device-up"}[cut[0]]
    sim.fault(undo, *cut[1:])
    assert tunnel_rows(sim, "anhui-cipher1", v3) == {"1": "hefei-cipher1"}
    assert tunnel_rows(sim, "hefei-cipher1", v3) == {"1": "anhui-cipher1"}


def test_a_cut_elsewhere_leaves_the_tunnel_up(sim):
    sim.fault("link-down", "l-eth")  # province router to firewall: not on the tunnel's path
    assert tunnel_rows(sim, "anhui-cipher1", {}) == {"1": "hefei-cipher1"}


def test_slow_device_replies_late(sim):
    sim.fault("slow", "feidong-fw1", "2.5")
    res = snmp("snmpget", sim, "feidong-fw1", SYSNAME, timeout=0.5, retries=0)
    assert res.returncode != 0 and "Timeout" in res.stderr  # the answer comes after the client gave up
    res = snmp("snmpget", sim, "feidong-fw1", SYSNAME, timeout=6, retries=0)
    assert res.returncode == 0 and "feidong-fw1" in res.stdout
    sim.fault("slow", "feidong-fw1", "0")
    assert get_values(sim, "feidong-fw1", SYSNAME, timeout=0.5, retries=0) == ["feidong-fw1"]


def test_bad_faults_are_named(sim):
    with pytest.raises(SimError, match="no simulated device 'nope'"):
        sim.fault("reboot", "nope")
    with pytest.raises(SimError, match="no interface 'Gi9'"):
        sim.fault("if-down", "anhui-rtr1", "Gi9")
    with pytest.raises(SimError, match="unknown fault"):
        sim.fault("explode", "anhui-rtr1")
    with pytest.raises(SimError, match="no tunnel to 'anhui-rtr1'"):
        sim.fault("tunnel-down", "anhui-cipher1", "anhui-rtr1")


def test_cli_and_http_control(sim):
    url = sim.start_control()
    cli = [sys.executable, "-m", "probes.sim"]
    env = {**os.environ}
    i = idx(sim, "hefei-rtr1", "GigabitEthernet1/0/1")
    res = subprocess.run([*cli, "fault", "--control", url, "if-down", "hefei-rtr1", "GigabitEthernet1/0/1"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert res.returncode == 0, res.stderr
    assert get_values(sim, "hefei-rtr1", f"{IF_OPER}.{i}") == ["2"]
    res = subprocess.run([*cli, "status", "--control", url], capture_output=True, text=True, timeout=60)
    assert '"interfaces_down"' in res.stdout and "GigabitEthernet1/0/1" in res.stdout
    res = subprocess.run([*cli, "fault", "--control", url, "reboot", "no-such-device"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 1 and "no simulated device 'no-such-device'" in res.stderr
    res = subprocess.run([*cli, "fault", "--control", url, "clear-all"], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0
    assert get_values(sim, "hefei-rtr1", f"{IF_OPER}.{i}") == ["1"]
