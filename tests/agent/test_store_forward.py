"""The agent end to end: ``agent.py run`` polling the simulated province, pushing to ``nms serve``.

Every sample the agent took (its JSON log lists each poll) must be at the centre exactly
once and in order, whatever happened in between: the centre stopped, the centre answering
500, batches delivered twice, the agent killed with SIGKILL.
"""

from __future__ import annotations

import signal
import sqlite3
import time
from collections import defaultdict

import pytest
import yaml

from tests.agent.centre_stub import CentreStub
from tests.agent.conftest import AGENT, INTERVAL
from tests.support.processes import SNMP_SECRETS, Agent, Centre, wait_for

OUTAGE_POLLS = 10


def start_agent(tmp_path, p, centre_url: str, *extra: str) -> Agent:
    agent = Agent(
        tmp_path,
        p["path"],
        AGENT,
        centre_url,
        p["token"],
        p["sim"].port,
        ["--interval-override", INTERVAL, *extra],
    )
    agent.start()
    return agent


def metric(agent: Agent, name: str) -> float:
    for line in agent.scrape().splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{}"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not exposed")


def polls_after(agent: Agent, t: float) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for p in agent.polls():
        if p["ts"] > t:
            counts[p["device"]] += 1
    return counts


def assert_all_delivered_once_in_order(agent: Agent, centre: Centre, devices: list[str]) -> int:
    """Every poll the agent logged is stored once at the centre, same time, same duration, in order."""
    polls = agent.polls()
    by_device: dict[str, list[dict]] = defaultdict(list)
    for p in polls:
        by_device[p["device"]].append(p)
    assert set(by_device) == set(devices)
    for device, taken in by_device.items():
        stored = centre.device_series(device)
        assert [s["ts"] for s in stored] == [int(round(p["ts"])) for p in taken], device
        assert [s["ok"] for s in stored] == [1 if p["ok"] else 0 for p in taken], device
        assert [s["poll_s"] for s in stored] == [p["duration_s"] for p in taken], device
    batches = centre.batches(AGENT)
    seqs = [seq for seq, _ in batches]
    assert seqs == list(range(1, len(seqs) + 1))  # no batch lost, none stored twice
    assert sum(n for _, n in batches) == len(polls)  # every sample counted exactly once
    return len(polls)


# the centre answering 500 throughout is the slow tier's; a stopped centre stays in make test
@pytest.mark.parametrize("outage", ["stopped", pytest.param("http500", marks=pytest.mark.slow)])
def test_outage_loses_nothing_and_stores_each_sample_once(tmp_path, province, outage):
    centre: Centre = province["centre"]
    devices = sorted(d.name for d in province["inventory"].devices_of_agent(AGENT))
    front = CentreStub(mode="forward", forward_to=centre.url)  # the 500-then-forward server
    try:
        agent = start_agent(tmp_path, province, front.url if outage == "http500" else centre.url)
        wait_for(lambda: len(centre.batches(AGENT)) >= 2, 30, "first batches at the centre")
        t_out = time.time()
        if outage == "stopped":
            centre.stop()
        else:
            front.set_mode("fail")
        wait_for(
            lambda: (c := polls_after(agent, t_out)) and min(c.get(d, 0) for d in devices) >= OUTAGE_POLLS,
            60,
            f"{OUTAGE_POLLS} polls of every device during the outage",
        )
        assert metric(agent, "nms_agent_spool_batches") > 0
        assert metric(agent, "nms_agent_centre_up") == 0
        stored_during = len(centre.batches(AGENT)) if outage == "http500" else None
        if outage == "stopped":
            centre.start()
        else:
            assert len(centre.batches(AGENT)) == stored_during
            front.duplicate = True  # from now on every batch reaches the centre twice
            front.set_mode("forward")
        wait_for(
            lambda: (
                metric(agent, "nms_agent_spool_batches") == 0 and metric(agent, "nms_agent_centre_up") == 1
            ),
            60,
            "the spool to drain",
        )
        t_back = time.time()
        wait_for(
            lambda: min(polls_after(agent, t_back).get(d, 0) for d in devices) >= 2, 30, "live polls after"
        )
        assert agent.stop() == 0  # SIGTERM: polls in flight finish, the spool is flushed
    finally:
        front.close()
        if agent.proc and agent.proc.poll() is None:
            agent.kill()
    n = assert_all_delivered_once_in_order(agent, centre, devices)
    assert n >= len(devices) * (OUTAGE_POLLS + 2)
    assert any(e["event"] == "centre unreachable, spooling" for e in agent.events())
    log_text = agent.log.read_text()
    assert province["token"] not in log_text
    assert not any(secret in log_text for secret in SNMP_SECRETS.values())
    if outage == "http500":
        dup = [a for a in front.answers if a.get("duplicate") is True]
        assert dup and all(a["accepted"] == 0 for a in dup)  # the centre saw repeats and stored none


def test_sigkill_with_a_full_spool_then_restart_delivers_everything(tmp_path, province):
    centre: Centre = province["centre"]
    devices = sorted(d.name for d in province["inventory"].devices_of_agent(AGENT))
    centre.stop()
    agent = start_agent(tmp_path, province, centre.url)
    try:
        wait_for(
            lambda: min(polls_after(agent, 0).get(d, 0) for d in devices) >= 3, 40, "polls while centre down"
        )
        wait_for(lambda: metric(agent, "nms_agent_spool_batches") >= 2, 20, "batches in the spool")
        agent.kill()  # SIGKILL: no flush, no goodbye
        before = agent.polls()
        db = sqlite3.connect(agent.spool_dir / f"{AGENT}.db")
        spooled = db.execute("SELECT COALESCE(SUM(samples), 0) FROM batches").fetchone()[0]
        pending = db.execute("SELECT COUNT(*) FROM pending").fetchone()[0]
        db.close()
        assert spooled + pending == len(before)  # everything logged as polled is on disk
        centre.start()
        agent.start()  # same spool directory
        wait_for(
            lambda: len(centre.batches(AGENT)) > 0 and metric(agent, "nms_agent_spool_batches") == 0,
            60,
            "the spool to drain after restart",
        )
        assert agent.stop() == 0
    finally:
        if agent.proc and agent.proc.poll() is None:
            agent.kill()
    assert_all_delivered_once_in_order(agent, centre, devices)
    assert {p["ts"] for p in before} <= {p["ts"] for p in agent.polls()}
    starts = [e for e in agent.events("agent starting")]
    assert len(starts) == 2 and starts[1]["spooled_batches"] > 0


def test_sighup_reload_keeps_sequence_and_state(tmp_path, province):
    centre: Centre = province["centre"]
    devices = sorted(d.name for d in province["inventory"].devices_of_agent(AGENT))
    gone = devices[-1]
    agent_inv = tmp_path / "agent-inventory.yaml"  # the agent's own copy; the centre keeps its own
    agent_inv.write_text(province["path"].read_text())
    agent = Agent(
        tmp_path,
        agent_inv,
        AGENT,
        centre.url,
        province["token"],
        province["sim"].port,
        ["--interval-override", INTERVAL],
    )
    agent.start()
    try:
        wait_for(
            lambda: min(polls_after(agent, 0).get(d, 0) for d in devices) >= 2, 30, "polls of every device"
        )
        doc = yaml.safe_load(agent_inv.read_text())
        doc["devices"] = [d for d in doc["devices"] if d["name"] != gone]
        doc["links"] = [
            ln for ln in doc["links"] if gone not in (ln["a"].split(":")[0], ln["b"].split(":")[0])
        ]
        agent_inv.write_text(yaml.safe_dump(doc, allow_unicode=True))
        agent.signal(signal.SIGHUP)
        wait_for(lambda: len(agent.events("configuration applied")) >= 2, 10, "reload")
        t_reload = time.time()
        wait_for(
            lambda: min(polls_after(agent, t_reload).get(d, 0) for d in devices[:-1]) >= 3, 30, "polling on"
        )
        agent_inv.write_text("devices: [oops\n")  # a broken inventory is refused, polling goes on
        agent.signal(signal.SIGHUP)
        wait_for(
            lambda: agent.events("reload failed, keeping the running configuration"), 10, "refused reload"
        )
        n = len(agent.polls())
        wait_for(lambda: len(agent.polls()) > n + 3, 20, "polling after a failed reload")
        assert agent.stop() == 0
    finally:
        if agent.proc and agent.proc.poll() is None:
            agent.kill()
    applied = agent.events("configuration applied")
    assert applied[1]["removed"] == [gone] and applied[1]["added"] == [] and applied[1]["changed"] == []
    assert polls_after(agent, t_reload + 0.5).get(gone, 0) == 0  # at most the poll in flight at reload
    assert [e["error"] for e in agent.events("reload failed, keeping the running configuration")][0]
    assert_all_delivered_once_in_order(agent, centre, devices)  # one sequence across reloads


def test_management_addresses_are_refused_per_device_without_crashing(tmp_path, province):
    """Without --sim-port the agent would contact real addresses: netguard refuses, it says so."""
    agent = Agent(
        tmp_path,
        province["path"],
        AGENT,
        province["centre"].url,
        province["token"],
        None,
        ["--interval-override", INTERVAL],
    )
    agent.env.pop("NMS_ALLOW_NETWORK", None)
    agent.start()
    try:
        devices = {d.name for d in province["inventory"].devices_of_agent(AGENT)}
        refused = wait_for(lambda: agent.events("device not polled"), 20, "per-device refusals")
        text = agent.scrape()
        assert agent.proc.poll() is None  # still running
        assert agent.stop() == 0
    finally:
        if agent.proc and agent.proc.poll() is None:
            agent.kill()
    assert {e["device"] for e in refused} == devices
    assert all("not allowed" in e["problem"] and "NMS_ALLOW_NETWORK" in e["problem"] for e in refused)
    assert agent.polls() == []  # nothing was sent towards those addresses
    assert f'nms_agent_devices{{state="not_polled"}} {float(len(devices))}' in text


@pytest.mark.slow  # long end-to-end scenario: CI's slow tier (make test-slow)
def test_dead_and_slow_devices_do_not_hold_up_the_others(tmp_path, province):
    """A device that stops answering backs off and is reported down; a slow one delays only itself."""
    centre: Centre = province["centre"]
    sim = province["sim"]
    devices = sorted(d.name for d in province["inventory"].devices_of_agent(AGENT))
    dead, slow, healthy = devices[0], devices[1], devices[2:]
    agent = start_agent(tmp_path, province, centre.url, "--snmp-timeout", "0.5")
    try:
        wait_for(lambda: min(polls_after(agent, 0).get(d, 0) for d in devices) >= 1, 30, "first polls")
        sim.fault("device-down", dead)
        sim.fault("slow", slow, "0.4")
        t_fault = time.time()
        wait_for(
            lambda: min(polls_after(agent, t_fault).get(d, 0) for d in healthy) >= 10, 40, "healthy polls"
        )
        during = polls_after(agent, t_fault)
        down_metric = [
            ln for ln in agent.scrape().splitlines() if ln.startswith(f'nms_device_up{{device="{dead}"')
        ]
        sim.fault("device-up", dead)
        sim.fault("slow", slow, "0")
        wait_for(lambda: agent.events("device reachable again"), 40, "the dead device to come back")
        assert agent.stop() == 0
    finally:
        if agent.proc and agent.proc.poll() is None:
            agent.kill()
    failed = [p for p in agent.polls() if p["device"] == dead and p["ts"] > t_fault and not p["ok"]]
    assert failed and {p["error"] for p in failed} == {"timeout"}
    assert during[dead] <= 5  # backed off: 1x, 2x, 4x, 8x the interval, not every 1.2 s
    assert during[slow] < min(during[d] for d in healthy)
    assert down_metric and down_metric[0].endswith(" 0.0")
    assert [e["device"] for e in agent.events("device unreachable")][:1] == [dead]
    assert_all_delivered_once_in_order(agent, centre, devices)  # failed polls are samples too
