"""The agent runs from its own install, with none of the centre's code (issue 15, point 4).

``scripts/agent_dist.py`` builds the install (``agent.py`` and ``probes/`` only) in a
temporary directory; the agent runs from there with a ``sitecustomize`` that makes
``nms``, ``ipam`` and ``dashboards`` unimportable even though the project is installed
editable, and that reports at exit which project modules the process loaded and from where.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from probes.common.inventory import load_inventory
from probes.sim.province import SimulatedProvince
from tests.agent.conftest import AGENT, INTERVAL
from tests.support.processes import ROOT, SNMP_SECRETS, Agent, wait_for, write_inventory

CENTRE_PACKAGES = ("nms", "ipam", "dashboards")
# Installed in front of every import: the centre's packages do not exist for this process.
GUARD = f'''
import atexit, importlib.abc, json, os, sys

BLOCKED = {CENTRE_PACKAGES!r}


class _NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (not in the agent install)", name=name)
        return None


sys.meta_path.insert(0, _NotInstalled())


@atexit.register
def _report():
    out = os.environ.get("AGENT_MODULES_REPORT")
    if out:
        loaded = {{n: getattr(m, "__file__", None) for n, m in list(sys.modules.items())
                  if n.split(".")[0] in BLOCKED + ("probes",)}}
        with open(out, "w") as f:
            json.dump(loaded, f)
'''


@pytest.fixture
def install(tmp_path) -> dict:
    """The agent's install built by scripts/agent_dist.py, and the environment to run it in."""
    home = tmp_path / "agent-node"
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "agent_dist.py"), str(home)],
        check=True, capture_output=True, timeout=60,
    )
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(GUARD, encoding="utf-8")
    report = tmp_path / "modules.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(PYTHONPATH=str(guard), PYTHONNOUSERSITE="1", AGENT_MODULES_REPORT=str(report), **SNMP_SECRETS)
    return {"home": home, "env": env, "report": report}


def assert_ran_without_centre(install: dict) -> dict[str, str]:
    """The process loaded probes from the install only, and nothing of nms/ipam/dashboards."""
    loaded = json.loads(install["report"].read_text())
    assert not [n for n in loaded if n.split(".")[0] in CENTRE_PACKAGES], loaded
    home = install["home"].resolve()
    files = [Path(f).resolve() for n, f in loaded.items() if f]
    assert files and all(f.is_relative_to(home) for f in files), loaded
    return loaded


def test_the_install_has_the_agent_and_not_the_centre(install):
    home = install["home"]
    assert (home / "agent.py").is_file() and (home / "probes" / "profiles" / "generic.yaml").is_file()
    assert not [p for p in ("nms", "ipam", "dashboards", "probes/sim") if (home / p).exists()]
    # In the same environment, the centre's package is not importable: the guard works.
    proc = subprocess.run(
        [sys.executable, "-c", "import nms"], cwd=home, env=install["env"], capture_output=True, text=True,
        timeout=60,
    )
    assert proc.returncode != 0 and "No module named 'nms'" in proc.stderr, proc.stderr


def _dist(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_install_lists_every_library_it_imports(install):
    """requirements.txt of the install names the distribution of each third-party import."""
    home = install["home"]
    listed = {_dist(line.split("==")[0]) for line in (home / "requirements.txt").read_text().split()}
    imported = set()
    for path in home.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"probes", "__future__"}
    dists = importlib.metadata.packages_distributions()
    # what a listed library itself requires is installed with it (pydantic -> pydantic-core)
    installed_with = set(listed)
    for name in listed:
        for req in importlib.metadata.requires(name) or []:
            if "extra ==" not in req:
                installed_with.add(_dist(re.split(r"[ ;<>=!~\[(]", req, maxsplit=1)[0]))
    missing = {m for m in third_party if not {_dist(d) for d in dists.get(m, [m])} & installed_with}
    assert third_party and not missing, f"imported by the agent but not in its requirements: {missing}"


@pytest.fixture
def sim(tmp_path, monkeypatch):
    for key, value in SNMP_SECRETS.items():
        monkeypatch.setenv(key, value)
    path = write_inventory(tmp_path / "inventory.yaml", site="chaohu", agent=AGENT)
    inventory = load_inventory(path)
    province = SimulatedProvince(inventory, port=0).start()
    yield {"inventory": inventory, "path": path, "province": province}
    province.stop()


def test_poll_from_the_install_reads_the_simulated_device(install, sim):
    inv = sim["inventory"]
    device = next(d for d in inv.devices.values() if inv.credentials[d.credential].version == "v3")
    ref = inv.credentials[device.credential]
    host, port = sim["province"].address(device.name)
    proc = subprocess.run(
        [
            sys.executable, "agent.py", "poll", "--target", f"{host}:{port}", "--json",
            "--v3-user", ref.user, "--auth-proto", ref.auth_proto, "--auth-key-env", ref.auth_key_env,
            "--priv-proto", ref.priv_proto, "--priv-key-env", ref.priv_key_env,
        ],
        cwd=install["home"], env=install["env"], capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["ok"] is True
    assert result["identity"]["sysName"] == device.name
    names = {row["name"] for row in result["interfaces"]}
    assert set(device.interfaces) <= names, names
    assert "probes.poller" in assert_ran_without_centre(install)


def test_run_from_the_install_delivers_polls_to_the_centre(tmp_path, install, province):
    """``agent.py run`` from the install polls the simulated city and the centre stores what it sent."""
    work = tmp_path / "agent-work"
    work.mkdir()
    agent = Agent(
        work, province["path"], AGENT, province["centre"].url, province["token"], province["sim"].port,
        ["--interval-override", INTERVAL], env=install["env"], home=install["home"],
    )
    agent.start()
    try:
        devices = list(province["inventory"].devices)
        polled = lambda: {p["device"] for p in agent.polls(ok=True)} == set(devices)  # noqa: E731
        wait_for(polled, 60, "a good poll of each device")
        wait_for(lambda: province["centre"].batches(AGENT), 30, "a batch at the centre")
    finally:
        code = agent.stop()
    assert code == 0, agent.tail()
    stored = province["centre"].device_series(devices[0])
    assert any(s["ok"] == 1 for s in stored), stored
    loaded = assert_ran_without_centre(install)
    assert {"probes.agent.run", "probes.common.settings", "probes.poller"} <= set(loaded)


def test_check_site_from_the_install_finds_a_dark_link(install):
    """The portal check runs from the install, with its shipped lists, without the centre."""
    from tests.portals.servers import Reply, Site

    site = Site()
    try:
        site.routes["/"] = Reply('<html><title>Portal</title><body><p>Welcome</p>'
                                 '<div style="display:none"><a href="http://x.example/">x</a></div></body></html>')
        proc = subprocess.run(
            [sys.executable, "agent.py", "check-site", site.url(), "--json"],
            cwd=install["home"], env=install["env"], capture_output=True, text=True, timeout=120,
        )
    finally:
        site.close()
    assert proc.returncode == 0, proc.stderr
    assert [f["kind"] for f in json.loads(proc.stdout)["findings"]] == ["dark-link"]
    assert "probes.portals.check" in assert_ran_without_centre(install)
