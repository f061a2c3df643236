"""Run the simulator as a child process and wait until it serves (for e2e tests)."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from probes.sim.control import get_status, send_fault

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class SimProcess:
    process: subprocess.Popen
    port: int
    control: str
    devices: int
    startup_s: float
    ready: dict  # the whole ready line (e.g. "wan_proxy": {agent: url} with --wan-proxy)

    def fault(self, action: str, *args: str, es: int = 0, ses: int = 0) -> dict:
        return send_fault(self.control, action, *args, es=es, ses=ses)

    def status(self) -> dict:
        return get_status(self.control)


@contextmanager
def run_subprocess(inventory: str | Path, *, port: int = 0, devices: list[str] | None = None,
                   wan_delay_ms: str = "0", env: dict[str, str] | None = None,
                   timeout: float = 60.0, extra_args: list[str] | None = None) -> Iterator[SimProcess]:
    """Start ``python -m probes.sim serve``; yield once it printed its ready line."""
    cmd = [sys.executable, "-m", "probes.sim", "serve", "--inventory", str(inventory),
           "--port", str(port), "--control-port", "0", "--wan-delay-ms", wan_delay_ms]
    for g in devices or []:
        cmd += ["--devices", g]
    cmd += extra_args or []
    errlog = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=errlog, text=True)
    try:
        assert proc.stdout is not None
        ready_fds, _, _ = select.select([proc.stdout], [], [], timeout)
        line = proc.stdout.readline() if ready_fds else ""
        if not line:
            proc.wait(timeout=5)
            errlog.seek(0)
            err = errlog.read()
            raise RuntimeError(f"simulator did not start: {err.strip()[-2000:]}")
        ready = json.loads(line)
        yield SimProcess(proc, ready["port"], ready["control"], ready["devices"], ready["startup_s"], ready)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        errlog.close()
