"""Issue 16's "done when": a cut SDH link is red within 10 s, its city unreachable within 30 s,
one page; restore clears both as fast.  With the production timing: 60 s polls (the
inventory's), 10 s batches, 60 s backoff, the centre's default aging and state settings.

Real processes on loopback: ``python -m probes.sim serve`` (the province and Chaohu, WAN
forwarders, traps and syslog to the agents' receivers), ``nms serve`` and two ``agent.py run``
(the province's agent at the centre, Chaohu's through its forwarder).  The alert engine is
the shipped rules evaluated against the centre's database with a webhook standing for the
pager.  Variant ``no-trap``: the simulator sends nothing, the fast reachability probe alone
must see the cut (within 15 s).  The measured times are printed (README, "Events").
"""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from pathlib import Path

import pytest

from nms.alerts.engine import Engine
from nms.alerts.outbox import Outbox
from nms.alerts.rules import load_rules
from probes.common.inventory import load_inventory
from probes.sim import run_subprocess
from probes.sim.control import send_fault
from tests.alerts.conftest import make_channels
from tests.alerts.peers import HttpReceiver
from tests.events.conftest import udp_tcp_port
from tests.support.ports import free_port
from tests.support.processes import (
    SNMP_SECRETS,
    TOKEN_ENV,
    Agent,
    Centre,
    wait_for,
    write_secrets,
    write_shipped_subset,
)

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
CITY, UPLINK = "chaohu", "sdh-chaohu"
PROVINCE_TOKEN_ENV = "NMS_AGENT_TOKEN_TEST_PROVINCE"
RED_WITHIN_S, UNREACHABLE_WITHIN_S, NO_TRAP_RED_WITHIN_S = 10.0, 30.0, 15.0


def write_subset(path: Path) -> Path:
    """The province and the Chaohu subtree with every device and link among them; two agents."""
    keep = {"anhui"} | load_inventory(ROOT / "inventory.yaml").subtree(CITY)
    agents = [{"name": "province", "token_env": PROVINCE_TOKEN_ENV, "sites": ["anhui"]},
              {"name": CITY, "token_env": TOKEN_ENV, "sites": sorted(keep - {"anhui"})}]
    return write_shipped_subset(path, keep, agents)


def get(centre: Centre, path: str, token: str) -> dict:
    req = urllib.request.Request(centre.url + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 - loopback
        return json.loads(resp.read())


@pytest.mark.parametrize("traps", [True, False], ids=["traps", "no-trap"])
def test_cut_sdh_red_in_seconds_city_unreachable_one_page(
    tmp_path: Path, traps: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nms.auth import tokens, users
    from nms.db import connect
    from nms.schema import open_migrated

    monkeypatch.setenv("NMS_TEST_HOOK_KEY", "fast-detection-hook")
    inv_path = write_subset(tmp_path / "inventory.yaml")
    inventory = load_inventory(inv_path)
    secrets_file = write_secrets(tmp_path / "secrets.env")
    (tmp_path / "centre").mkdir()
    centre = Centre(tmp_path / "centre", inv_path, extra_args=["--no-alerts"])
    db = open_migrated(centre.settings())
    users.create(db, "watcher", "viewer", "anhui", "watcher-password-1234", actor="test")
    viewer = tokens.create(db, "user", "watcher", actor="test")[1]
    db.conn.close()
    centre.start()
    ports = {a: (free_port(kind=socket.SOCK_DGRAM), udp_tcp_port()) for a in ("province", CITY)}
    sim_args = ["--wan-proxy", centre.url]
    if traps:
        for a, (trap, syslog) in ports.items():
            sim_args += ["--trap-target", f"{a}=127.0.0.1:{trap}",
                         "--syslog-target", f"{a}=127.0.0.1:{syslog}"]
    city_devices = sorted(d.name for d in inventory.devices_of_agent(CITY))
    behind = [n for n in city_devices if "-int-" in n]  # 专网: only the SDH uplink carries them
    hook = HttpReceiver().start()
    engine = Engine(load_rules(), inventory, make_channels(hook.url + "/hook"))
    agents: list[Agent] = []
    alerts_db = None
    try:
        with run_subprocess(inv_path, env=dict(SNMP_SECRETS, NMS_SECRETS_FILE=str(secrets_file)),
                            extra_args=sim_args) as sim:
            for name, url, env in (
                ("province", centre.url, {PROVINCE_TOKEN_ENV: centre.agent_token("province")}),
                (CITY, sim.ready["wan_proxy"][CITY], {}),
            ):
                (tmp_path / name).mkdir()
                trap, syslog = ports[name]
                extra = ["--no-jitter", "--batch-interval", "10", "--backoff-max", "60",
                         "--trap-listen", f"127.0.0.1:{trap}", "--syslog-listen", f"127.0.0.1:{syslog}"]
                token = centre.agent_token(CITY) if name == CITY else "unused"
                agents.append(Agent(tmp_path / name, inv_path, name, url, token, sim.port, extra,
                                    env={"NMS_SECRETS_FILE": str(secrets_file), **env}))
                agents[-1].start()
            alerts_db = connect(centre.settings(), "centre")

            def evaluate() -> list[tuple[str, str, str]]:
                for a in agents:
                    a.check()
                engine.evaluate(alerts_db)
                Outbox(engine.channels).run_once(alerts_db)
                sent = [json.loads(r.body) for r in hook.requests]
                return [(b["event"], b["rule"], b["subject_id"]) for b in sent]

            def state() -> dict:
                return get(centre, "/api/v1/state", viewer)

            def wall_link() -> dict:
                wall = get(centre, "/api/v1/wall", viewer)
                return next(lk for e in wall["edges"] for lk in e["links"] if lk["id"] == UPLINK)

            wait_for(lambda: (s := state()) and len(s["devices"]) == len(inventory.devices)
                     and all(v["state"] == "up" for v in s["devices"].values()), 90, "every device up")
            assert wall_link()["state"] == "up"
            evaluate()
            assert hook.requests == []

            def after(fault: str, link: str, devices: str, what: str) -> tuple[float, float]:
                """Seconds from the fault until the wall shows the link, then the devices, so."""
                send_fault(sim.control, fault, UPLINK)
                t0 = time.monotonic()
                wait_for(lambda: wall_link()["state"] == link, 90, f"the SDH link {link}", every=0.1)
                t_link = time.monotonic() - t0
                wait_for(lambda: all(state()["devices"][n]["state"] == devices for n in behind), 90,
                         f"the city's 专网 {devices}", every=0.2)
                t_devices = time.monotonic() - t0
                print(f"\n{what}: link {link} on the wall after {t_link:.1f} s, city {devices} after"
                      f" {t_devices:.1f} s")
                return t_link, t_devices

            red_s, unreachable_s = after("link-down", "down", "unreachable", "cut")
            s = state()
            assert s["site_networks"][f"{CITY}/internal"]["state"] == "unreachable"
            assert all(f"link {UPLINK}" in s["devices"][n]["reason"] for n in behind)
            # the link-down rule's grace is 60 s: wait it out, evaluating as the centre would
            wait_for(lambda: evaluate(), 120, "the page", every=1.0)
            time.sleep(3)
            pages = evaluate()
            assert pages == [("firing", "link-down", UPLINK)], pages

            clear_red_s, clear_unreachable_s = after("link-up", "up", "up", "restore")
            pages = evaluate()
            assert pages == [("firing", "link-down", UPLINK), ("resolved", "link-down", UPLINK)], pages
            confirms = [p for a in agents for p in a.polls() if p.get("confirm")]
            print(f"fast detection ({'traps' if traps else 'no trap'}): red {red_s:.1f} s, unreachable"
                  f" {unreachable_s:.1f} s; restore: green {clear_red_s:.1f} s, up {clear_unreachable_s:.1f}"
                  f" s; {len(confirms)} confirming polls")
            assert red_s <= (RED_WITHIN_S if traps else NO_TRAP_RED_WITHIN_S)
            assert unreachable_s <= UNREACHABLE_WITHIN_S
            assert clear_red_s <= (RED_WITHIN_S if traps else NO_TRAP_RED_WITHIN_S)
            assert clear_unreachable_s <= UNREACHABLE_WITHIN_S
            if traps:
                assert any(p["confirm"].startswith("trap link-down") for p in confirms), confirms
    finally:
        for a in agents:
            if a.proc is not None and a.proc.poll() is None:
                a.kill()
        if alerts_db is not None:
            alerts_db.conn.close()
        hook.stop()
        centre.stop()
