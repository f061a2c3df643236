"""The demo's chain for portals, every part a real process: ``probes.sim serve --portals``
(HTTPS under the CA it made) -> ``agent.py run`` -> ``nms serve``; faults injected with the
simulator's fault CLI each come out as their finding and one alert."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from probes.sim import run_subprocess
from tests.portals.test_agent_centre import _alerts, _current, _wait, centre_data
from tests.support.processes import SNMP_SECRETS, TOKEN_ENV, Agent, Centre, write_secrets

ROOT = Path(__file__).resolve().parents[2]
AGENT, DEVICE = "hefei", "hefei-int-rtr1"
PORTALS = ("hefei-www", "hefei-zwfw", "hefei-feidong")


def inventory(path: Path) -> Path:
    full = yaml.safe_load((ROOT / "inventory.yaml").read_text(encoding="utf-8"))
    keep = {"anhui", "hefei", "hefei-feidong"}
    doc = {
        "version": 1,
        "credentials": full["credentials"],
        "sites": [s for s in full["sites"] if s["id"] in keep],
        "devices": [dict(d, tunnel_peers=[]) for d in full["devices"] if d["name"] == DEVICE],
        "agents": [{"name": AGENT, "token_env": TOKEN_ENV, "sites": sorted(keep)}],
        "portals": [dict(p, interval_s=10) for p in full["portals"] if p["id"] in PORTALS],
    }
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _fault(control: str, *args: str) -> None:
    cmd = [sys.executable, "-m", "probes.sim", "fault", "--control", control, *args]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr


@pytest.mark.slow  # long end-to-end scenario: CI's slow tier (make test-slow)
def test_sim_portal_faults_reach_the_centre_as_one_alert_each(tmp_path: Path, engine_env: str) -> None:
    inv = inventory(tmp_path / "inventory.yaml")
    secrets_file = write_secrets(tmp_path / "secrets.env")
    data, agent_token, viewer = centre_data(tmp_path, inv)
    portals = tmp_path / "portals"
    centre = Centre(data, inv)
    centre.start()
    try:
        with run_subprocess(inv, env=SNMP_SECRETS, extra_args=["--portals", str(portals)]) as sim:
            agent = Agent(tmp_path, inv, AGENT, centre.url, agent_token, sim.port,
                          extra=["--portal-map", str(portals / "portals.json"), "--portal-ca-file",
                                 str(portals / "ca.pem"), "--interval-override", "1", "--no-jitter",
                                 "--icmp", "off", "--portal-timeout", "5"],
                          env={"NMS_SECRETS_FILE": str(secrets_file)})  # fmt: skip
            agent.start()
            try:

                def learned():
                    """every portal checked and up"""
                    cur = _current(data)
                    return len(cur) == 3 and all(r["state"] == "up" for r in cur.values())

                _wait(learned, 60, show=lambda: _current(data))
                assert _alerts(centre, viewer) == []
                _fault(sim.control, "portal-defaced", "hefei-www")
                _fault(sim.control, "portal-clone", "hefei-www")
                _fault(sim.control, "portal-cert-expiring", "hefei-zwfw")
                _fault(sim.control, "portal-down", "hefei-feidong")
                expected = [("portal-clone", "hefei-www"), ("portal-defaced", "hefei-www"),
                            ("portal-down", "hefei-feidong"), ("portal-tls", "hefei-zwfw")]  # fmt: skip
                _wait(lambda: _alerts(centre, viewer) == expected, 60, show=lambda: _alerts(centre, viewer))
                cur = _current(data)
                assert {p: r["state"] for p, r in cur.items()} == {
                    "hefei-www": "tampered", "hefei-zwfw": "up", "hefei-feidong": "down"}  # fmt: skip
                tls = next(f for f in cur["hefei-zwfw"]["findings"] if f["kind"] == "tls-expiring")
                assert "expires in" in tls["detail"] and cur["hefei-zwfw"]["tls_days_left"] <= 5
                assert json.loads((portals / "portals.json").read_text())  # the map the agent read
            finally:
                agent.stop()
    finally:
        centre.stop()
