"""``python -m probes.events`` on the real inventory in sim mode: a line from a simulated
device's address comes out as that device's event."""

from __future__ import annotations

import json
import select
import socket
import subprocess
import sys
from pathlib import Path

from probes.common.inventory import load_inventory
from tests.conftest import ROOT
from tests.events.conftest import udp_tcp_port
from tests.support.ports import free_port
from tests.support.processes import write_secrets


def _line(stream, timeout_s: float = 20) -> str:  # noqa: ANN001
    """The next line of a child's pipe, failing instead of hanging when none comes."""
    ready, _, _ = select.select([stream], [], [], timeout_s)
    assert ready, "no output from python -m probes.events"
    return stream.readline()


def test_cli_maps_a_simulated_device(tmp_path: Path) -> None:
    inv = load_inventory(ROOT / "inventory.yaml")
    dev = next(d for d in inv.devices_of_agent("hefei") if d.vendor == "huawei")
    trap_port, syslog_port = free_port(kind=socket.SOCK_DGRAM), udp_tcp_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "probes.events", "--inventory", str(ROOT / "inventory.yaml"), "--sim",
         "--agent", "hefei", "--secrets-file", str(write_secrets(tmp_path / "secrets.env")),
         "--trap-listen", f"127.0.0.1:{trap_port}", "--syslog-listen", f"127.0.0.1:{syslog_port}"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "listening" in _line(proc.stderr)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((inv.sim_address(dev.name), 0))
            s.sendto(b"<13>Dec  6 10:00:00 r %%01IFNET/4/IF_STATE(l)[7]:Interface GigabitEthernet0/0/1 "
                     b"has turned into DOWN state.", ("127.0.0.1", syslog_port))
        ev = json.loads(_line(proc.stdout))
        assert (ev["device"], ev["kind"], ev["subject"]) == (dev.name, "link-down", "GigabitEthernet0/0/1")
    finally:
        proc.terminate()
        proc.wait(10)


def test_cli_refuses_without_listen_addresses() -> None:
    r = subprocess.run([sys.executable, "-m", "probes.events"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 2 and "--trap-listen" in r.stderr
