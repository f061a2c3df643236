"""``python -m nms.demo``: its agents have no inventory file of their own and poll what they
pulled from the centre (over the demo's nginx TLS when nginx is installed)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from probes.common.assignment import decode
from tests.support.ports import free_port
from tests.support.processes import ROOT, stop_process, wait_for

AGENT = "chaohu"


def _agent_pid(data_dir: Path) -> int | None:
    """The demo's agent process (by its spool directory on the command line)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"agent.py" in b" ".join(argv) and str(data_dir / "spool" / AGENT).encode() in argv:
            return int(entry.name)
    return None


@pytest.mark.slow  # long end-to-end scenario: CI's slow tier (make test-slow)
def test_demo_agents_pull_their_assignment_without_an_inventory(tmp_path):
    data_dir = tmp_path / "demo"
    cmd = [
        sys.executable,
        "-m",
        "nms.demo",
        "--data-dir",
        str(data_dir),
        "--agents",
        AGENT,
        "--port",
        str(free_port()),
        "--snmp-port",
        str(free_port(kind=socket.SOCK_DGRAM)),
        "--sim-control-port",
        str(free_port()),
        "--wan-proxy-base-port",
        "0",
        "--tls-port",
        str(free_port()),
        "--agent-metrics-base-port",
        str(free_port()),
    ]
    env = dict(os.environ, NMS_ADMIN_PASSWORD="demo-test-password-1")
    demo = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    log = data_dir / "logs" / f"agent-{AGENT}.log"

    def events(name: str) -> list[dict]:
        if demo.poll() is not None:
            raise AssertionError(f"demo exited: {demo.stdout.read().decode()[-2000:]}")
        if not log.exists():
            return []
        out = []
        for line in log.read_text(errors="replace").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("event") == name:
                out.append(rec)
        return out

    try:
        wait_for(lambda: events("configuration received"), 90, "the agent's assignment from the centre")
        wait_for(lambda: [p for p in events("poll") if p["ok"]], 60, "polls of the pulled devices")
        pid = _agent_pid(data_dir)
        assert pid is not None
        argv = (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")
        assert b"--inventory" not in argv
        environ = (Path("/proc") / str(pid) / "environ").read_bytes().split(b"\0")
        assert not any(v.startswith(b"NMS_INVENTORY=") for v in environ)
        if shutil.which("nginx"):
            centre = argv[argv.index(b"--centre") + 1].decode()
            assert centre.startswith("https://127.0.0.1:") and b"--ca-file" in argv
        copy = decode((data_dir / "spool" / AGENT / f"{AGENT}.config.json").read_bytes(), AGENT)
        polled = {p["device"] for p in events("poll")}
        assert polled <= {d.name for d in copy.devices} and len(copy.devices) > 10
        # its portals came with the assignment too, and it checks them at the simulator's portals
        assert copy.portals and all(p.agent == AGENT for p in copy.portals)
        applied = wait_for(lambda: events("portals applied"), 60, "the pulled portals scheduled")
        assert applied[-1]["portals"] == len(copy.portals)
    finally:
        stop_process(demo, timeout=60)  # SIGTERM: the demo stops its children
