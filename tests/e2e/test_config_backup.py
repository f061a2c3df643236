"""Configuration backup in the running system, end to end with real processes.

``python -m probes.sim serve --ssh-port 0`` makes the routers and firewalls of a city answer
SSH on 127.34.x.y with running configs made from the inventory; ``nms serve`` backs them up
from its own background job (no ``nms configs schedule`` process), logging in with the
inventory's ``ssh_credentials`` default whose password only the secrets file holds.  The
``python -m probes.sim fault ... config-change`` command changes one router's running config:
the centre stores a new version, the API's diff shows the added line, and the
``config-changed`` alert fires for that router.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml

from nms.alerts import store as alerts_store
from nms.auth import tokens, users
from nms.configs import store
from nms.db import connect
from nms.schema import open_migrated
from probes.sim import run_subprocess
from tests.support.processes import ROOT, SNMP_SECRETS, Centre, wait_for, write_inventory

SITE = "chaohu"
DEVICES = ["chaohu-ext-fw1", "chaohu-ext-rtr1", "chaohu-int-fw1", "chaohu-int-rtr1"]  # Huawei, Topsec
CHANGED = "chaohu-int-rtr1"
SSH_PASSWORD_ENV = "NMS_SSH_NETOPS_PASSWORD"


def inventory(path: Path) -> Path:
    """The city's routers and firewalls, with the shipped inventory's SSH login reference."""
    write_inventory(path, SITE, SITE, roles=("router", "firewall"))
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    shipped = yaml.safe_load((ROOT / "inventory.yaml").read_text(encoding="utf-8"))
    doc["ssh_credentials"] = shipped["ssh_credentials"]
    assert doc["ssh_credentials"][0]["password_env"] == SSH_PASSWORD_ENV
    assert sorted(d["name"] for d in doc["devices"]) == DEVICES
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def secrets_file(path: Path) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.writelines(f"{k}={v}\n" for k, v in {**SNMP_SECRETS, SSH_PASSWORD_ENV: "e2e-ssh-pw-1"}.items())
    return path


def api(centre: Centre, token: str, path: str) -> dict | list:
    req = urllib.request.Request(centre.url + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback
        return json.loads(resp.read())


@pytest.mark.slow  # long end-to-end scenario: CI's slow tier (make test-slow)
def test_serve_backs_up_the_simulated_province_and_alerts_on_a_config_change(tmp_path: Path) -> None:
    inv_path = inventory(tmp_path / "inventory.yaml")
    secrets = secrets_file(tmp_path / "secrets.env")
    data = tmp_path / "centre"
    data.mkdir()
    centre = Centre(data, inv_path, extra_args=["--age-every", "0", "--configs-interval", "4",
                                                "--configs-tick", "0.5", "--configs-deadline", "30"])
    settings = centre.settings()
    db = open_migrated(settings)
    users.create(db, "noc", "operator", "anhui", "noc-password-12345", actor="test")
    token = tokens.create(db, "user", "noc", actor="test")[1]
    db.conn.close()
    # the simulator reads the SSH password from the same secrets file as the centre
    sim_env = {"NMS_SECRETS_FILE": str(secrets), SSH_PASSWORD_ENV: ""}
    with run_subprocess(inv_path, env=sim_env,
                        extra_args=["--ssh-port", "0", "--ssh-key-dir", str(tmp_path / "keys")]) as sim:
        assert sim.ready["ssh"]["devices"] == len(DEVICES)
        configs = tmp_path / "configs.yaml"
        configs.write_text(f"sim_port: {sim.ready['ssh']['port']}\n", encoding="utf-8")
        centre.env.update(NMS_SECRETS_FILE=str(secrets), NMS_CONFIGS_FILE=str(configs))
        centre.env.pop(SSH_PASSWORD_ENV, None)
        centre.start()
        try:
            db = connect(settings, "centre")

            def backed_up() -> list[dict]:
                rows = [r for r in store.status(db) if r["last_version"]]
                return rows if sorted(r["device"] for r in rows) == DEVICES else []

            rows = wait_for(backed_up, 60, "a first version of every router and firewall")
            ssh_port = sim.ready["ssh"]["port"]
            assert all(r["host"].startswith("127.34.") and r["port"] == ssh_port for r in rows)
            first = store.latest(db, CHANGED)
            assert f"sysname {CHANGED}" in first["content"] and first["trigger"] == "scheduler"

            # the operator's change, made with the simulator's fault command
            fault = [sys.executable, "-m", "probes.sim", "fault", "--control", sim.control]
            out = subprocess.run([*fault, "config-change", CHANGED], cwd=ROOT, capture_output=True, text=True,
                                 timeout=30, check=True)
            added = json.loads(out.stdout)["added"]
            assert added.startswith("ip route-static 192.0.2.1 ")

            wait_for(lambda: len(store.versions(db, CHANGED)) == 2, 30, f"a second version of {CHANGED}")
            assert all(len(store.versions(db, d)) == 1 for d in DEVICES if d != CHANGED)
            versions = api(centre, token, f"/api/v1/configs/devices/{CHANGED}/versions")
            assert [v["version"] for v in versions] == [2, 1]
            diff = api(centre, token, f"/api/v1/configs/diff?a={versions[1]['id']}&b={versions[0]['id']}")
            assert diff["changed"]
            lines = diff["diff"].split("\n")
            changes = [ln for ln in lines if ln[:1] in "+-" and ln[:3] not in ("+++", "---")]
            assert changes == [f"+ {added}"]  # volatile lines (the update time) left out

            def changed_alerts() -> list[dict]:
                return alerts_store.list_alerts(db, rule="config-changed")

            alert = wait_for(changed_alerts, 40, "the config-changed alert")
            assert [(a["subject"]["id"], a["state"]) for a in alert] == [(CHANGED, "firing")]
            assert alert[0]["summary"] == f"{CHANGED}配置变更"
        finally:
            centre.stop()
