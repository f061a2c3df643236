"""The simulator sends what real devices send: a fault makes both ends of a link send
linkDown/linkUp (v2c and v3 authPriv, as their credentials say) and vendor syslog lines to
the agent's receivers; a device cut off from its agent says nothing that arrives; the
send-trap / send-syslog CLI reaches the receivers too."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from probes.common.inventory_model import AgentDef
from probes.sim import SimulatedProvince
from tests.events.conftest import Running
from tests.sim.conftest import CREDS, small_inventory

ENDS = {("anhui-rtr1", "GigabitEthernet0/0/1"), ("anhui-fw1", "GigabitEthernet0/0/1")}


def _run(agents: dict[str, tuple[str, ...]] | None = None) -> tuple[Running, SimulatedProvince]:
    inv = small_inventory()
    for name, sites in (agents or {}).items():
        inv.agents[name] = AgentDef(name, sites, "SIM_TEST_TOKEN")
    rx = Running(sim=True, inv=inv, creds=list(CREDS.values()))
    sim = SimulatedProvince(inv, port=0, credentials=CREDS)
    sim.start_events({"*": ("127.0.0.1", rx.trap_port)}, {"*": ("127.0.0.1", rx.syslog_port)})
    sim.start()
    return rx, sim


@pytest.fixture
def running() -> Iterator[tuple[Running, SimulatedProvince]]:
    rx, sim = _run()
    yield rx, sim
    sim.stop()
    rx.stop()


def _seen(events, kind: str) -> set[tuple[str | None, str, str]]:  # noqa: ANN001
    return {(e.device, e.subject, e.origin) for e in events if e.kind == kind}


def test_link_fault_sends_traps_and_syslog_from_both_ends(running) -> None:  # noqa: ANN001
    rx, sim = running
    sim.fault("link-down", "l-eth")
    want = {(d, i, o) for d, i in ENDS for o in ("trap", "syslog")}
    evs = rx.wait(lambda evs: want <= _seen(evs, "link-down"))
    assert _seen(evs, "link-down") == want
    traps = {e.device: e for e in evs if e.kind == "link-down" and e.origin == "trap"}
    # anhui-rtr1 speaks v2c (community), anhui-fw1 v3 authPriv: both decoded by the receiver
    assert rx.svc.traps.stats["bad_community"] == 0 and rx.svc.traps.stats["wrong_digest"] == 0
    assert traps["anhui-fw1"].raw[:5] != traps["anhui-rtr1"].raw[:5]
    proto = {e.device for e in evs if e.kind == "protocol-down" and b"IFNET/4/LINK_STATE" in e.raw}
    assert proto == {"anhui-rtr1", "anhui-fw1"}
    assert not [e for e in evs if e.kind in ("unknown-source", "unknown-trap")]

    sim.fault("link-up", "l-eth")
    evs = rx.wait(lambda evs: want <= _seen(evs, "link-up"))
    assert _seen(evs, "link-up") == want
    assert all(e.clears == "link-down" for e in evs if e.kind == "link-up")
    assert sim.status()["events_sent"]["traps"] == 4


def test_cut_off_end_is_silent_and_tunnel_drop_is_trapped() -> None:
    # one agent for both sites: its host hangs off anhui, so cutting l-sdh isolates hefei
    rx, sim = _run({"a": ("anhui", "hefei")})
    try:
        sim.fault("link-down", "l-sdh")
        evs = rx.wait(lambda evs: {("anhui-rtr1", "Pos1/0/0", "trap")} <= _seen(evs, "link-down")
                      and _seen(evs, "tunnel-down"))
        evs = rx.settle(0.5)
        assert {d for d, _, _ in _seen(evs, "link-down")} == {"anhui-rtr1"}
        assert _seen(evs, "tunnel-down") == {("anhui-cipher1", "hefei-cipher1", "trap")}
        assert sim.status()["events_sent"]["unreachable"] >= 2  # hefei-rtr1, hefei-cipher1
        sim.fault("link-up", "l-sdh")
        back = {("hefei-rtr1", "Pos2/0/0", "trap"), ("hefei-rtr1", "Pos2/0/0", "syslog"),
                ("anhui-rtr1", "Pos1/0/0", "trap")}
        evs = rx.wait(lambda evs: back <= _seen(evs, "link-up") and len(_seen(evs, "tunnel-up")) >= 2)
        assert {d for d, _, o in _seen(evs, "link-up") if o == "trap"} == {"anhui-rtr1", "hefei-rtr1"}
        assert {d for d, _, _ in _seen(evs, "tunnel-up")} == {"anhui-cipher1", "hefei-cipher1"}
        # hefei-rtr1 is H3C: its line is Comware's
        assert any(b"%%10IFNET/3/PHY_UPDOWN" in e.raw for e in evs if e.device == "hefei-rtr1")
    finally:
        sim.stop()
        rx.stop()


def test_device_down_is_silent_and_reboot_sends_cold_start(running) -> None:  # noqa: ANN001
    rx, sim = running
    sim.fault("device-down", "anhui-fw1")
    sim.fault("if-down", "anhui-fw1", "GigabitEthernet0/0/1")  # nobody hears a dead box
    sim.fault("reboot", "anhui-rtr1")
    evs = rx.wait(lambda evs: _seen(evs, "cold-start"))
    evs = rx.settle(0.3)
    assert _seen(evs, "cold-start") == {("anhui-rtr1", "", "trap")}
    assert not [e for e in evs if e.device == "anhui-fw1"]


def test_cli_sends_trap_and_syslog(service, tmp_path) -> None:  # noqa: ANN001
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    base = [sys.executable, "-m", "probes.sim"]
    trap = subprocess.run(base + ["send-trap", "--to", f"127.0.0.1:{service.trap_port}",
                                  "--from", "127.0.0.1", "--community", "s3cret-trap", "1.3.6.1.6.3.1.1.5.3",
                                  "1.3.6.1.2.1.31.1.1.1.1.7", "s", "GigabitEthernet0/0/7",
                                  "1.3.6.1.2.1.2.2.1.1.7", "i", "7"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert trap.returncode == 0, trap.stderr
    line = "%%01IFNET/4/IF_STATE(l)[1]:Interface Gi0/0/2 has turned into DOWN state."
    for extra in ([], ["--tcp"]):
        out = subprocess.run(base + ["send-syslog", "--to", f"127.0.0.1:{service.syslog_port}",
                                     "--from", "127.0.0.1", *extra, line],
                             capture_output=True, text=True, env=env, timeout=60)
        assert out.returncode == 0, out.stderr
    evs = service.wait(lambda evs: len(_seen(evs, "link-down")) >= 2 and len(evs) >= 3)
    assert ("hf-rtr1", "GigabitEthernet0/0/7", "trap") in _seen(evs, "link-down")
    assert [e.subject for e in evs if e.kind == "link-down" and e.origin == "syslog"] == ["Gi0/0/2"] * 2
    bad = subprocess.run(base + ["send-trap", "--to", "127.0.0.1:1", "--from", "127.0.0.1",
                                 "--community", "x",
                                 "1.3.6.1.6.3.1.1.5.3", "1.3.6.1.2.1.2.2.1.1.7", "q", "7"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 2 and "varbind type 'q'" in bad.stderr


def test_serve_cli_sends_to_the_agents_receiver() -> None:
    """``serve --trap-target hefei=... --syslog-target hefei=...`` on the project's inventory."""
    from probes.common.inventory import load_inventory
    from probes.sim import run_subprocess
    from probes.snmp.credential import Credential
    from tests.sim.test_subprocess import ENV, INVENTORY

    inv = load_inventory(INVENTORY)
    creds = [Credential(community=ENV["NMS_SNMP_COMMUNITY"]),
             Credential("v3", user="nmsmon", auth_proto="SHA256", auth_key=ENV["NMS_SNMP_V3_AUTH"],
                        priv_proto="AES", priv_key=ENV["NMS_SNMP_V3_PRIV"])]
    rx = Running(sim=True, inv=inv, creds=creds)
    ends = {(e.device, e.interface) for e in (inv.links["feidong-int-l1c"].a, inv.links["feidong-int-l1c"].b)}
    try:
        args = ["--trap-target", f"hefei=127.0.0.1:{rx.trap_port}",
                "--syslog-target", f"hefei=127.0.0.1:{rx.syslog_port}"]
        with run_subprocess(INVENTORY, devices=["feidong-*"], env=ENV, extra_args=args) as sim:
            sim.fault("link-down", "feidong-int-l1c")
            evs = rx.wait(lambda evs: {(d, i, "trap") for d, i in ends} <= _seen(evs, "link-down"))
            assert {(d, i) for d, i, _ in _seen(evs, "link-down")} == ends
            assert {o for _, _, o in _seen(evs, "link-down")} == {"trap", "syslog"}
        bad = subprocess.run([sys.executable, "-m", "probes.sim", "serve", "--inventory", str(INVENTORY),
                              "--trap-target", "nowhere=127.0.0.1:1"], capture_output=True, text=True,
                             env={**os.environ, **ENV}, timeout=120)
        assert bad.returncode == 2 and "unknown agent(s) nowhere" in bad.stderr
    finally:
        rx.stop()
