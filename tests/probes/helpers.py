"""Real SNMP peers on loopback for the probe tests: snmpsim, net-snmp snmpd, a junk server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TESTBED = (REPO / ".." / "shared" / "testbed").resolve()


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_snmp(port: int, community: str, timeout: float = 120.0, proc: subprocess.Popen | None = None) -> None:
    """Wait until an agent answers sysObjectID (snmpsim indexes its files first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"agent exited with {proc.returncode}")
        r = subprocess.run(["snmpget", "-v2c", "-c", community, "-r", "0", "-t", "1", "-On",
                            f"127.0.0.1:{port}", "1.3.6.1.2.1.1.2.0"], capture_output=True, text=True)
        if r.returncode == 0 and "1.3.6.1.2.1.1.2.0" in r.stdout:
            return
        time.sleep(0.3)
    raise RuntimeError(f"no SNMP agent answered on 127.0.0.1:{port}")


def start_snmpsim(data_dirs: list[Path], probe_community: str) -> tuple[subprocess.Popen, int, Path]:
    """One snmpsim-command-responder serving every file of ``data_dirs`` (community = file path)."""
    exe = shutil.which("snmpsim-command-responder")
    if not exe:
        raise RuntimeError("snmpsim-command-responder is not installed")
    port = free_udp_port()
    # a stable cache dir so the slow first indexing of large walks happens once per machine
    cache = Path(tempfile.gettempdir()) / f"probes-snmpsim-cache-{os.getuid()}"
    cache.mkdir(exist_ok=True)
    log = Path(tempfile.mkdtemp(prefix="probes-snmpsim-")) / "snmpsim.log"
    cmd = [exe, f"--cache-dir={cache}", f"--agent-udpv4-endpoint=127.0.0.1:{port}"]
    cmd += [f"--data-dir={d}" for d in data_dirs]
    if os.getuid() == 0:
        cmd += ["--process-user=root", "--process-group=root"]
    proc = subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    try:
        wait_snmp(port, probe_community, proc=proc)
    except Exception:
        proc.kill()
        raise
    return proc, port, log


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
