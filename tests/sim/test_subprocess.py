"""`python -m probes.sim serve` on the project's inventory, as other e2e tests run it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from probes.common.inventory import load_inventory
from probes.sim import run_subprocess

INVENTORY = Path(__file__).resolve().parents[2] / "inventory.yaml"
ENV = {"NMS_SNMP_COMMUNITY": "e2e-community", "NMS_SNMP_V3_AUTH": "e2e-auth-key",
       "NMS_SNMP_V3_PRIV": "e2e-priv-key"}


@pytest.mark.skipif(not INVENTORY.exists(), reason="inventory.yaml not in the repository yet")
def test_serve_subprocess_with_real_inventory():
    inv = load_inventory(INVENTORY)
    names = sorted(n for n in inv.devices if n.startswith("anhui-"))
    v2c = next(n for n in names if inv.credentials[inv.devices[n].credential].version == "v2c")
    with run_subprocess(INVENTORY, devices=["anhui-*"], env=ENV) as sim:
        assert sim.devices == len(names)
        host = inv.sim_address(v2c)
        cmd = ["snmpget", "-On", "-Oqv", "-t", "2", "-r", "1", "-v2c", "-c", ENV["NMS_SNMP_COMMUNITY"],
               f"{host}:{sim.port}", "1.3.6.1.2.1.1.5.0"]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        assert res.returncode == 0 and res.stdout.strip().strip('"') == v2c, res.stderr
        sim.fault("device-down", v2c)
        assert sim.status()["faulty"][0]["name"] == v2c
        quick = [*cmd[:4], "0.5", "-r", "0", *cmd[7:]]
        res = subprocess.run(quick, capture_output=True, text=True, timeout=30)
        assert res.returncode != 0 and "Timeout" in res.stderr


def test_serve_reports_missing_secret(tmp_path):
    if not INVENTORY.exists():
        pytest.skip("inventory.yaml not in the repository yet")
    env = {k: "" for k in ENV}
    with pytest.raises(RuntimeError, match="NMS_SNMP_COMMUNITY|NMS_SNMP_V3"):
        with run_subprocess(INVENTORY, devices=["anhui-*"], env=env):
            pass


@pytest.mark.parametrize(("argv", "message"), [
    (["serve", "--inventory", "/nonexistent/inventory.yaml"], "/nonexistent/inventory.yaml"),
    (["serve", "--inventory", str(INVENTORY), "--devices", "no-such-*"], "no device matches no-such-*"),
    (["serve", "--inventory", str(INVENTORY), "--wan-delay-ms", "fast"], "--wan-delay-ms"),
    (["fault", "--control", "http://10.1.1.1:80", "reboot", "x"], "refusing to contact 10.1.1.1"),
    (["fault", "--control", "http://127.0.0.1:1", "reboot", "x"], "cannot reach the simulator control"),
])
def test_cli_bad_input_is_named(argv, message):
    import os
    import sys

    if "serve" in argv and not INVENTORY.exists() and "/nonexistent" not in argv[2]:
        pytest.skip("inventory.yaml not in the repository yet")
    res = subprocess.run([sys.executable, "-m", "probes.sim", *argv], capture_output=True, text=True,
                         timeout=60, env={**os.environ, **ENV}, cwd=INVENTORY.parent)
    assert res.returncode in (1, 2) and message in res.stderr
    assert "Traceback" not in res.stderr
