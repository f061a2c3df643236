"""The agent without an inventory of its own: its assignment pulled from the centre.

Real processes and real HTTP: the agent (``agent.py run`` without ``--inventory``), the
simulated devices, and either the real centre (ETag/304, centre down -> the copy on disk,
also across a restart) or a stub centre that answers badly on purpose (a truncated body,
a corrupt one: the last good copy stays) or whose clock runs five minutes ahead.
"""

from __future__ import annotations

import json
import re
import stat
import time

import pytest

from probes.common.assignment import assignment_of, decode, encode
from probes.common.inventory import load_inventory
from probes.sim.province import SimulatedProvince
from tests.agent.centre_stub import CentreStub
from tests.agent.conftest import AGENT, INTERVAL
from tests.agent.test_store_forward import metric, polls_after
from tests.support.processes import SNMP_SECRETS, Agent, Centre, wait_for, write_inventory


def pulling_agent(workdir, centre_url: str, token: str, sim_port: int, *extra: str) -> Agent:
    workdir.mkdir(exist_ok=True)
    agent = Agent(
        workdir,
        None,
        AGENT,
        centre_url,
        token,
        sim_port,
        ["--interval-override", INTERVAL, "--config-interval", "0.5", *extra],
    )
    agent.start()
    return agent


def config_asks(agent: Agent, outcome: str) -> float:
    for line in agent.scrape().splitlines():
        if line.startswith(f'nms_agent_config_requests_total{{outcome="{outcome}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def every_device_polled(agent: Agent, devices: list[str], since: float, n: int = 1) -> bool:
    counts = polls_after(agent, since)
    return min(counts.get(d, 0) for d in devices) >= n


def test_agent_runs_from_the_centres_assignment_and_from_its_copy_while_the_centre_is_down(
    tmp_path, province
):
    centre: Centre = province["centre"]
    devices = sorted(d.name for d in province["inventory"].devices_of_agent(AGENT))
    agent = pulling_agent(tmp_path / "a", centre.url, province["token"], province["sim"].port)
    try:
        wait_for(
            lambda: every_device_polled(agent, devices, 0), 30, "every device polled from the pulled config"
        )
        copy = agent.spool_dir / f"{AGENT}.config.json"
        assert stat.S_IMODE(copy.stat().st_mode) == 0o600
        assert sorted(d.name for d in decode(copy.read_bytes(), AGENT).devices) == devices
        wait_for(lambda: config_asks(agent, "same") >= 2, 20, "304 answers to If-None-Match")
        assert config_asks(agent, "new") == 1  # one full answer, then only 304s
        wait_for(lambda: centre.batches(AGENT), 30, "batches at the centre")

        centre.stop()
        t_down = time.time()
        wait_for(
            lambda: agent.events("centre unreachable for configuration, running from the last good copy"),
            20,
            "the agent noticing the centre is gone",
        )
        wait_for(lambda: every_device_polled(agent, devices, t_down, 2), 30, "polls while the centre is down")
        assert agent.stop() == 0

        t_restart = time.time()
        agent.start()  # a restart while the centre is still down: the copy on disk
        wait_for(lambda: agent.events("running from the last good copy"), 20, "start from the copy on disk")
        wait_for(lambda: every_device_polled(agent, devices, t_restart, 2), 30, "polls after the restart")
        stored = len(centre.batches(AGENT))
        centre.start()
        wait_for(
            lambda: len(centre.batches(AGENT)) > stored, 40, "the spool delivered once the centre is back"
        )
        wait_for(
            lambda: agent.events("configuration from the centre again") or config_asks(agent, "same"),
            20,
            "the centre answering 304 again",
        )
    finally:
        if agent.proc and agent.proc.poll() is None:
            agent.kill()
    log_text = agent.log.read_text()
    assert province["token"] not in log_text
    assert not any(secret in log_text for secret in SNMP_SECRETS.values())


@pytest.fixture
def sim_only(tmp_path, monkeypatch):
    """One city's devices simulated, no centre: the agent talks to a stub."""
    for key, value in SNMP_SECRETS.items():
        monkeypatch.setenv(key, value)
    path = write_inventory(
        tmp_path / "inventory.yaml", site="chaohu", agent=AGENT, roles=("firewall", "switch")
    )
    inventory = load_inventory(path)
    sim = SimulatedProvince(inventory, port=0).start()
    stub = CentreStub()
    stub.config = encode(assignment_of(inventory, AGENT))
    yield inventory, sim, stub
    stub.close()
    sim.stop()


def test_corrupt_or_truncated_answers_keep_the_last_good_copy(tmp_path, sim_only):
    inventory, sim, stub = sim_only
    devices = sorted(d.name for d in inventory.devices_of_agent(AGENT))
    agent = pulling_agent(tmp_path / "a", stub.url, stub.token, sim.port)
    try:
        wait_for(lambda: every_device_polled(agent, devices, 0), 30, "every device polled")
        copy = agent.spool_dir / f"{AGENT}.config.json"
        good = copy.read_bytes()
        # the centre now drops the first device, but the answer is cut half-way through
        smaller = assignment_of(inventory, AGENT).model_dump(mode="json")
        dropped = smaller["devices"].pop(0)["name"]
        smaller_body = encode(decode(json.dumps(smaller).encode(), AGENT))
        stub.config, stub.config_mode = smaller_body, "truncate"
        wait_for(
            lambda: agent.events("configuration from the centre refused, keeping the last good copy"),
            20,
            "the truncated answer refused",
        )
        refusal = agent.events("configuration from the centre refused, keeping the last good copy")[0]
        assert "truncated" in refusal["error"] or "ETag" in refusal["error"], refusal
        # a body that hashes right but says nonsense (a port that is no number)
        corrupt = smaller_body.replace(b'"port":161', b'"port":"x"', 1)
        assert corrupt != smaller_body
        stub.config, stub.config_mode, stub.config_etag = corrupt, "as-is", None
        n = len(agent.events("configuration from the centre refused, keeping the last good copy"))
        wait_for(
            lambda: any(
                "port" in e["error"]
                for e in agent.events("configuration from the centre refused, keeping the last good copy")[n:]
            ),
            20,
            "the corrupt one refused",
        )
        t = time.time()
        wait_for(lambda: every_device_polled(agent, devices, t, 2), 30, "the dropped device still polled")
        assert copy.read_bytes() == good
        assert config_asks(agent, "refused") >= 2
        # a good answer is taken
        stub.config, stub.config_mode = smaller_body, "ok"
        wait_for(lambda: agent.events("configuration received")[1:], 20, "the good answer applied")
        assert copy.read_bytes() == smaller_body
        t = time.time()
        rest = [d for d in devices if d != dropped]
        wait_for(lambda: every_device_polled(agent, rest, t, 2), 30, "the others polled")
        assert polls_after(agent, t + 1).get(dropped, 0) == 0
    finally:
        if agent.proc and agent.proc.poll() is None:
            agent.kill()


def test_clock_minutes_apart_is_reported_and_samples_are_stamped_in_the_centres_time(tmp_path, sim_only):
    inventory, sim, stub = sim_only
    stub.clock_offset_s = 300.0  # the centre's clock five minutes ahead: ours is behind
    agent = pulling_agent(tmp_path / "a", stub.url, stub.token, sim.port)
    try:
        wait_for(lambda: agent.events("clock skew"), 20, "the skew reported")
        skew = agent.events("clock skew")[0]
        assert 4.9 <= skew["minutes"] <= 5.1 and "behind" in skew["detail"]
        assert 295 <= metric(agent, "nms_agent_clock_skew_seconds") <= 305
        wait_for(lambda: stub.samples(), 30, "samples at the stub")
        now = time.time()
        ts = [s["ts"] for s in stub.samples()]
        assert all(now + 250 <= t <= now + 310 for t in ts), ts[:5]
    finally:
        if agent.proc and agent.proc.poll() is None:
            agent.kill()
    assert re.search(r'"event": "clock skew"', agent.log.read_text())


def test_a_new_agent_waits_for_its_first_assignment_and_asks_again_soon(tmp_path, sim_only):
    inventory, sim, stub = sim_only
    devices = sorted(d.name for d in inventory.devices_of_agent(AGENT))
    body, stub.config = stub.config, None  # the centre does not know it yet (404): nothing to poll
    agent = Agent(
        tmp_path / "a",
        None,
        AGENT,
        stub.url,
        stub.token,
        sim.port,
        ["--interval-override", INTERVAL, "--config-interval", "60"],
    )
    (tmp_path / "a").mkdir()
    agent.start()
    try:
        wait_for(
            lambda: agent.events("centre unreachable for configuration, nothing to poll yet"), 20, "no config"
        )
        assert not agent.polls()
        stub.config = body
        t = time.time()
        wait_for(lambda: every_device_polled(agent, devices, t), 30, "polls soon after, not a minute later")
        assert time.time() - t < 30
    finally:
        if agent.proc and agent.proc.poll() is None:
            agent.kill()
