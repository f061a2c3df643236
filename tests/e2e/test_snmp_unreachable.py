"""A wrong SNMP community is "SNMP unreachable, ping ok", not "device down" (real processes).

``python -m probes.sim serve`` answers SNMP on 127.34.x.y with the right community (and
loopback answers ping); ``python agent.py run --icmp on`` has a wrong community in its
secrets file but the right v3 keys; ``nms serve`` stores and derives state.  The v2c
devices must come out as ``snmp-unreachable`` with their own minor alert, the v3
device up, and every device's RTT and loss stored as series; the WAN end (MSTP link)
is pinged several times per poll.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml

from nms import state
from nms.alerts.engine import Engine
from nms.alerts.rules import load_rules
from nms.db import connect
from probes import icmp
from probes.common.inventory import load_inventory
from probes.sim import run_subprocess
from tests.alerts.conftest import make_channels
from tests.support.processes import SNMP_SECRETS, TOKEN_ENV, Agent, Centre, wait_for, write_secrets

ROOT = Path(__file__).resolve().parents[2]
KEEP = {"anhui", "chaohu", "chaohu-lujiang"}
V2C_ROUTERS = ("chaohu-int-rtr1", "lujiang-int-rtr1")  # credential v2c-default, ends of mstp-lujiang
V3_FIREWALL = "lujiang-int-fw1"  # credential v3-secure: its SNMP still works
INTERVAL = 2.0


def inventory(path: Path) -> Path:
    full = yaml.safe_load((ROOT / "inventory.yaml").read_text(encoding="utf-8"))
    names = {*V2C_ROUTERS, V3_FIREWALL}
    devices = [dict(d, tunnel_peers=[]) for d in full["devices"] if d["name"] in names]
    links = [ln for ln in full["links"] if {ln["a"].split(":")[0], ln["b"].split(":")[0]} <= names]
    assert [ln["id"] for ln in links] == ["mstp-lujiang"]
    doc = {
        "version": 1,
        "credentials": full["credentials"],
        "sites": [s for s in full["sites"] if s["id"] in KEEP],
        "devices": devices,
        "links": links,
        "agents": [{"name": "chaohu", "token_env": TOKEN_ENV, "sites": sorted(KEEP - {"anhui"})}],
    }
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.skipif(not icmp.available(), reason="no ICMP socket here (ping_group_range, not root)")
def test_wrong_community_is_snmp_unreachable_ping_ok_not_device_down(tmp_path):
    inv_path = inventory(tmp_path / "inventory.yaml")
    data = tmp_path / "centre"
    data.mkdir()
    centre = Centre(data, inv_path, extra_args=["--no-alerts"])
    sim_secrets = write_secrets(tmp_path / "sim-secrets.env")
    wrong = tmp_path / "agent-secrets.env"
    fd = os.open(wrong, os.O_WRONLY | os.O_CREAT, 0o600)
    wrong_values = {**SNMP_SECRETS, "NMS_SNMP_COMMUNITY": "not-the-community"}
    with os.fdopen(fd, "w") as f:
        f.writelines(f"{k}={v}\n" for k, v in wrong_values.items())
    centre.start()
    try:
        token = centre.agent_token("chaohu")
        with run_subprocess(inv_path, env=dict(SNMP_SECRETS, NMS_SECRETS_FILE=str(sim_secrets))) as sim:
            agent = Agent(
                tmp_path,
                inv_path,
                "chaohu",
                centre.url,
                token,
                sim.port,
                extra=[
                    "--icmp", "on", "--icmp-wan-interval", "0.4", "--interval-override", str(INTERVAL),
                    "--no-jitter", "--snmp-timeout", "0.5", "--snmp-retries", "0",
                ],
                env={"NMS_SECRETS_FILE": str(wrong)},
            )
            agent.start()
            try:
                db = connect(centre.settings())

                def states() -> dict[str, dict]:
                    return state.current(db)["device"]

                def settled() -> bool:
                    cur = states()
                    return all(cur.get(d, {}).get("state") == "snmp-unreachable" for d in V2C_ROUTERS) and (
                        cur.get(V3_FIREWALL, {}).get("state") == "up"
                    )

                wait_for(settled, 60, f"v2c routers snmp-unreachable, v3 firewall up (log {agent.log})")
                cur = states()
                for d in V2C_ROUTERS:
                    assert cur[d]["reason"] == "SNMP unreachable, ping ok: timeout"

                def wan_echoes() -> list[dict]:
                    polls = agent.polls(ok=False)
                    return [p["icmp"] for p in polls if p["device"] in V2C_ROUTERS and p["icmp"]]

                # the WAN ends are pinged between polls: several echoes per poll, none lost
                wait_for(lambda: max(i["sent"] for i in wan_echoes()) >= 3, 30, "a poll with 3 echoes")
                wan = wan_echoes()
                assert all(i["alive"] and i["loss_pct"] == 0.0 for i in wan)
                fw = [p["icmp"] for p in agent.polls(ok=True) if p["device"] == V3_FIREWALL]
                assert fw and all(i["sent"] == 1 for i in fw)  # not a WAN end: one echo per poll

                # its own alert, lower than device-down; device-down does not fire
                rules = load_rules()
                engine = Engine(rules, load_inventory(inv_path), make_channels())
                engine.evaluate(db, now=time.time() + 600)  # past every grace period
                alerts = db.execute(  # (agent-silent fires too: "now" is ten minutes ahead)
                    "SELECT rule, subject_id, severity, state FROM alert_alerts"
                    " WHERE subject_kind = 'device' ORDER BY subject_id"
                ).fetchall()
                assert alerts == [("snmp-unreachable", d, "minor", "firing") for d in sorted(V2C_ROUTERS)]
                assert rules.get("device-down").severity == "critical"
                db.conn.close()
            finally:
                agent.stop()
        for d in (*V2C_ROUTERS, V3_FIREWALL):  # RTT and loss are series, SNMP or not
            series = centre.device_series(d, ("rtt_ms", "loss_pct"))
            assert series and all(s["rtt_ms"] is not None and s["loss_pct"] == 0.0 for s in series), d
    finally:
        centre.stop()
