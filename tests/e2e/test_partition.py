"""A cut city uplink cuts the city's agent off too: it spools, the centre ages its devices
to *unreachable (parent: link ...)*, and on restore the spool replays, each poll once.

Real processes on loopback: ``python -m probes.sim serve --wan-proxy`` (the simulated
province plus one TCP forwarder per city agent, cut while its path to the centre is
down), ``nms serve`` (the whole centre, aging every second), and two ``agent.py run``:
the province's agent straight to the centre, Chaohu's through its forwarder.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest

from probes.sim import run_subprocess
from probes.sim.control import send_fault
from tests.agent.test_store_forward import assert_all_delivered_once_in_order, metric, polls_after
from tests.support.processes import (
    SNMP_SECRETS,
    TOKEN_ENV,
    Agent,
    Centre,
    wait_for,
    write_secrets,
    write_shipped_subset,
)

ROOT = Path(__file__).resolve().parents[2]
CITY, COUNTY, UPLINK = "chaohu", "chaohu-lujiang", "sdh-chaohu"
PROVINCE_TOKEN_ENV = "NMS_AGENT_TOKEN_TEST_PROVINCE"
INTERVAL_S = 10  # the inventory's (its minimum): stale after 10 s with the settings below
POLL_EVERY = "2"  # the agents' override; > 1 s, the centre keys samples by whole seconds


def write_small_inventory(path: Path) -> Path:
    """Province, one city and one county; the province's agent and the city's agent."""
    agents = [{"name": "province", "token_env": PROVINCE_TOKEN_ENV, "sites": ["anhui"]},
              {"name": CITY, "token_env": TOKEN_ENV, "sites": [CITY, COUNTY]}]
    return write_shipped_subset(path, {"anhui", CITY, COUNTY}, agents, INTERVAL_S)


def devices_state(centre: Centre, token: str) -> dict[str, dict]:
    req = urllib.request.Request(centre.url + "/api/v1/state", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 - loopback
        return json.loads(resp.read())["devices"]


@pytest.fixture
def partitioned(tmp_path: Path):
    from nms.auth import tokens, users
    from nms.schema import open_migrated
    from probes.common.inventory import load_inventory

    inv_path = write_small_inventory(tmp_path / "inventory.yaml")
    inventory = load_inventory(inv_path)
    secrets_file = write_secrets(tmp_path / "secrets.env")
    (tmp_path / "centre").mkdir()
    centre = Centre(tmp_path / "centre", inv_path, extra_args=["--age-every", "1"])
    centre.env.update(NMS_STATE_STALE_FACTOR="1", NMS_STATE_STALE_MIN_S="1")
    db = open_migrated(centre.settings())
    users.create(db, "watcher", "viewer", "anhui", "watcher-password-1234", actor="test")
    viewer = tokens.create(db, "user", "watcher", actor="test")[1]
    db.conn.close()
    centre.start()
    sim_env = dict(SNMP_SECRETS, NMS_SECRETS_FILE=str(secrets_file))
    agents: list[Agent] = []
    try:
        with run_subprocess(inv_path, env=sim_env, extra_args=["--wan-proxy", centre.url]) as sim:
            ready = sim.ready
            assert list(ready["wan_proxy"]) == [CITY]  # the province's agent sits at the centre
            common = ["--interval-override", POLL_EVERY, "--no-jitter", "--snmp-timeout", "0.5",
                      "--snmp-retries", "0"]
            for name, url, env in (
                ("province", centre.url, {PROVINCE_TOKEN_ENV: centre.agent_token("province")}),
                (CITY, ready["wan_proxy"][CITY], {}),
            ):
                (tmp_path / name).mkdir()
                token = centre.agent_token(CITY) if name == CITY else "unused"
                agents.append(Agent(tmp_path / name, inv_path, name, url, token, ready["port"], common,
                                    env={"NMS_SECRETS_FILE": str(secrets_file), **env}))
                agents[-1].start()
            yield {"inventory": inventory, "centre": centre, "viewer": viewer, "control": ready["control"],
                   "province": agents[0], "city": agents[1]}
    finally:
        for a in agents:
            if a.proc is not None and a.proc.poll() is None:
                a.kill()
        centre.stop()


@pytest.mark.slow  # long end-to-end scenario: CI's slow tier (make test-slow)
def test_a_cut_uplink_silences_the_city_agent_and_the_spool_replays_once(partitioned):
    p = partitioned
    centre, viewer, city = p["centre"], p["viewer"], p["city"]
    city_devices = sorted(d.name for d in p["inventory"].devices_of_agent(CITY))
    behind_uplink = [n for n in city_devices if "-int-" in n]  # 专网: only the SDH uplink carries them

    def states() -> dict[str, dict]:
        city.check()
        p["province"].check()
        return devices_state(centre, viewer)

    wait_for(lambda: (s := states()) and len(s) == len(p["inventory"].devices)
             and all(v["state"] == "up" for v in s.values()), 60, "every device up")

    send_fault(p["control"], "link-down", UPLINK)
    t_cut = time.time()
    wait_for(lambda: metric(city, "nms_agent_spool_batches") > 0 and metric(city, "nms_agent_centre_up") == 0,
             30, "the city agent to spool")
    wait_for(lambda: all(states()[n]["state"] == "unreachable" for n in behind_uplink), 40,
             "the city's devices unreachable at the centre")
    during = states()
    print(f"city devices unreachable {time.time() - t_cut:.1f} s after the cut")
    assert all(f"link {UPLINK}" in during[n]["reason"] for n in behind_uplink), during
    assert all(during[n]["state"] != "up" for n in city_devices), during  # no green behind a cut
    assert during["anhui-int-rtr1"]["state"] == "up"  # the province's own agent pushes on
    wait_for(lambda: min(polls_after(city, t_cut).get(d, 0) for d in city_devices) >= 2, 20,
             "the city agent polling on during the cut")
    stored_during = len(centre.batches(CITY))

    send_fault(p["control"], "link-up", UPLINK)
    t_back = time.time()
    wait_for(lambda: metric(city, "nms_agent_spool_batches") == 0
             and metric(city, "nms_agent_centre_up") == 1, 30, "the spool to drain")
    wait_for(lambda: all(states()[n]["state"] == "up" for n in city_devices), 30,
             "the city's devices up again")
    assert len(centre.batches(CITY)) > stored_during
    assert city.stop() == 0  # SIGTERM: the last polls are flushed
    cut_polls = [q for q in city.polls() if t_cut < q["ts"] < t_back]
    assert len(cut_polls) >= 2 * len(city_devices)
    assert any(e["event"] == "centre unreachable, spooling" for e in city.events())
    # every poll the city agent logged (those taken during the cut too) is at the centre once
    assert assert_all_delivered_once_in_order(city, centre, city_devices) == len(city.polls())
