"""Issue 2 end to end: simulator -> agent -> centre, faults seen and cleared in the centre's state.

Everything is a real process on loopback: ``python -m probes.sim serve`` answering SNMP
on 127.34.x.y, ``python agent.py run`` polling it and pushing over HTTP with its token,
and ``nms serve`` (the whole centre application) storing and deriving state.  The test
reads the state through the centre's own API with a viewer's token.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from probes.sim import run_subprocess
from tests.support.processes import (
    SNMP_SECRETS,
    TOKEN_ENV,
    Agent,
    Centre,
    write_secrets,
    write_shipped_subset,
)

ROOT = Path(__file__).resolve().parents[2]
INTERVAL = 3.0  # poll interval in this test (seconds); the logic is the production one
SNMP_TIMEOUT = 0.5
BATCH_INTERVAL = 0.5
CITY, COUNTY = "chaohu", "chaohu-lujiang"
LINK = "mstp-lujiang"  # chaohu-int-rtr1 <-> lujiang-int-rtr1
DEVICE = "lujiang-int-fw1"


def small_inventory(path: Path) -> Path:
    """The province, one city and one of its counties, with every device and link among them."""
    keep = {"anhui", CITY, COUNTY}
    return write_shipped_subset(path, keep, [{"name": CITY, "token_env": TOKEN_ENV, "sites": sorted(keep)}])


def prepare_centre(tmp_path: Path, prepare=None) -> tuple[Path, Path, Path, str, str]:  # noqa: ANN001
    """(inventory, secrets file, centre data dir, agent token, viewer token) of the small province;
    ``prepare(db)`` fills the centre's database further before it starts."""
    from nms.auth import tokens, users
    from nms.config import Settings
    from nms.schema import open_migrated

    inventory = small_inventory(tmp_path / "inventory.yaml")
    secrets_file = write_secrets(tmp_path / "secrets.env")
    data = tmp_path / "centre"
    data.mkdir()
    settings = Settings(data_dir=data, inventory_path=inventory)
    db = open_migrated(settings)
    agent_token = tokens.create(db, "agent", CITY, actor="test")[1]
    users.create(db, "watcher", "viewer", "anhui", "watcher-password-1234", actor="test")
    viewer_token = tokens.create(db, "user", "watcher", actor="test")[1]
    if prepare is not None:
        prepare(db)
    db.conn.close()
    return inventory, secrets_file, data, agent_token, viewer_token


@contextmanager
def running_province(tmp_path: Path, agent_args: list[str], agent_env: dict[str, str] | None = None,
                     prepare=None) -> Iterator[tuple]:  # noqa: ANN001
    """The small province live: centre, simulator and the city's agent (``agent_args`` added to
    its command line); yields (sim, centre, agent, viewer token)."""
    inventory, secrets_file, data, agent_token, viewer_token = prepare_centre(tmp_path, prepare)
    centre = Centre(data, inventory)
    centre.start()
    env = dict(SNMP_SECRETS, NMS_SECRETS_FILE=str(secrets_file))
    try:
        with run_subprocess(inventory, env=env) as sim:
            agent = Agent(tmp_path, inventory, CITY, centre.url, agent_token, sim.port, extra=agent_args,
                          env={"NMS_SECRETS_FILE": str(secrets_file), **(agent_env or {})})
            agent.start()
            try:
                yield sim, centre, agent, viewer_token
            finally:
                agent.stop()
    finally:
        centre.stop()


@pytest.fixture
def province(tmp_path: Path):
    with running_province(tmp_path, ["--interval-override", str(INTERVAL), "--no-jitter",
                                     "--snmp-timeout", str(SNMP_TIMEOUT), "--snmp-retries", "0",
                                     "--batch-interval", str(BATCH_INTERVAL)]) as running:
        yield running


def state_of(centre: Centre, token: str) -> dict:
    req = urllib.request.Request(centre.url + "/api/v1/state", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


def wait_state(centre, token, agent, kind: str, subject: str, wanted: str, timeout: float) -> float:
    """Seconds until ``subject`` of ``kind`` is in state ``wanted``; fails after ``timeout``."""
    start = time.monotonic()
    seen = None
    while time.monotonic() - start < timeout:
        agent.check()
        seen = state_of(centre, token)[f"{kind}s"].get(subject)
        if seen and seen["state"] == wanted:
            return time.monotonic() - start
        time.sleep(0.2)
    raise AssertionError(f"{kind} {subject}: wanted {wanted} within {timeout:.1f}s, last seen {seen}")


@pytest.mark.slow  # the full chain in 19 s; the fault tests of tests/e2e stay in make test
def test_faults_reach_the_centre_and_clear(province):
    sim, centre, agent, token = province
    # Allowance for one SNMP timeout, one batch interval and processing on a loaded machine.
    two_polls = 2 * INTERVAL + SNMP_TIMEOUT + BATCH_INTERVAL + 2.0

    # The whole small province comes up first.
    wait_state(centre, token, agent, "device", DEVICE, "up", 60)
    wait_state(centre, token, agent, "link", LINK, "up", 60)
    state = state_of(centre, token)
    assert all(v["state"] == "up" for v in state["devices"].values()), state["devices"]

    sim.fault("device-down", DEVICE)
    took = wait_state(centre, token, agent, "device", DEVICE, "down", two_polls)
    print(f"device down seen after {took:.1f}s (interval {INTERVAL}s)")
    assert state_of(centre, token)["devices"][DEVICE]["reason"], "a transition names its reason"

    sim.fault("device-up", DEVICE)
    took = wait_state(centre, token, agent, "device", DEVICE, "up", two_polls)
    print(f"device up again after {took:.1f}s")

    sim.fault("link-down", LINK)
    took = wait_state(centre, token, agent, "link", LINK, "down", two_polls)
    print(f"link down seen after {took:.1f}s")
    # Both routers still answer: the link is down, not the devices at its ends.
    devices = state_of(centre, token)["devices"]
    assert devices["chaohu-int-rtr1"]["state"] == "up"

    sim.fault("link-up", LINK)
    took = wait_state(centre, token, agent, "link", LINK, "up", two_polls)
    print(f"link up again after {took:.1f}s")
