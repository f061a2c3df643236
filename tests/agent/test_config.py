"""Configuration: jobs from the inventory, the token, and clear errors at start."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from probes.agent import config as cfg
from probes.agent.config import ConfigError, Timing
from probes.common.inventory import load_inventory
from tests.support.processes import ROOT, TOKEN_ENV, write_inventory


@pytest.fixture
def inv_path(tmp_path):
    return write_inventory(tmp_path / "inventory.yaml", site="chaohu", agent="chaohu")


def test_jobs_sim_addresses_and_refusals(inv_path, monkeypatch):
    monkeypatch.delenv("NMS_ALLOW_NETWORK", raising=False)
    inv = load_inventory(inv_path)
    sim = cfg.jobs_for(inv, "chaohu", Timing(override_s=2.0), sim_port=16100)
    assert [j.name for j in sim] == sorted(d.name for d in inv.devices_of_agent("chaohu"))
    assert all(j.problem is None and j.port == 16100 and j.host == inv.sim_address(j.name) for j in sim)
    assert {j.interval_s for j in sim} == {2.0}
    real = cfg.jobs_for(inv, "chaohu", Timing(scale=0.5))
    assert all(j.problem and j.problem.startswith("not allowed") for j in real)
    assert {j.interval_s for j in real} == {30.0}  # inventory default 60 s, scaled
    monkeypatch.setenv("NMS_ALLOW_NETWORK", "1")
    assert all(j.problem is None for j in cfg.jobs_for(inv, "chaohu", Timing()))


def test_unknown_agent_is_named(inv_path):
    with pytest.raises(ConfigError, match="no agent 'nosuch'.*chaohu"):
        cfg.load(inv_path, "nosuch")


def test_token_sources(tmp_path, monkeypatch):
    monkeypatch.setenv("TOK", " nms_abc \n")
    assert cfg.read_token(None, "TOK") == "nms_abc"
    monkeypatch.delenv("TOK")
    with pytest.raises(ConfigError, match="TOK"):
        cfg.read_token(None, "TOK")
    f = tmp_path / "token"
    f.write_text("nms_file\n")
    f.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        cfg.read_token(f, "TOK")
    f.chmod(0o600)
    assert cfg.read_token(f, "TOK") == "nms_file"


def run_agent(*args: str, env: dict[str, str] | None = None) -> tuple[int, list[dict]]:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "agent.py"), "run", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, **(env or {})),
    )
    return proc.returncode, [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]


def test_start_errors_exit_2_with_a_clear_message(inv_path, tmp_path):
    base = ["--inventory", str(inv_path), "--spool-dir", str(tmp_path / "s"), "--metrics-listen", "off"]
    code, logs = run_agent(*base, "--agent", "nosuch", "--centre", "http://127.0.0.1:1")
    assert code == 2 and "no agent 'nosuch'" in logs[-1]["error"]
    code, logs = run_agent(*base, "--agent", "chaohu", "--centre", "http://127.0.0.1:1", env={TOKEN_ENV: ""})
    assert code == 2 and TOKEN_ENV in logs[-1]["error"]
    code, logs = run_agent(
        *base, "--agent", "chaohu", "--centre", "http://10.34.0.250:8443", env={TOKEN_ENV: "nms_secret_value"}
    )
    assert code == 2 and "--centre" in logs[-1]["error"] and "refusing" in logs[-1]["error"]
    assert all("nms_secret_value" not in json.dumps(e) for e in logs)


def test_city_cipher_expects_its_counties_and_wan_ends_are_pinged_faster():
    inv = load_inventory(ROOT / "inventory.yaml")
    jobs = {j.name: j for j in cfg.jobs_for(inv, "chaohu", Timing(), sim_port=16100)}
    city = jobs["chaohu-int-cipher1"]
    counties = {d.name for d in inv.devices.values() if d.tunnel_peers == ("chaohu-int-cipher1",)}
    assert counties and "lujiang-int-cipher1" in counties
    want = {inv.devices[n].address for n in ("anhui-int-cipher1", "anhui-int-cipher2", *counties)}
    assert set(city.expected_peers) == want  # the inventory lists only the province on the city
    assert jobs["lujiang-int-cipher1"].expected_peers == (inv.devices["chaohu-int-cipher1"].address,)
    # ends of SDH/MSTP circuits every 15 s between polls; a LAN switch only at its polls
    assert jobs["chaohu-int-rtr1"].ping_every_s == 15.0 and jobs["lujiang-int-rtr1"].ping_every_s == 15.0
    assert jobs["chaohu-int-sw1"].ping_every_s is None
    assert all(j.ping_every_s is None for j in cfg.jobs_for(inv, "chaohu", Timing(), 16100, wan_ping_s=None))
