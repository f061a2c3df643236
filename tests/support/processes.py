"""Real processes on loopback for integration tests: centre, agent, Prometheus, inventory.

The centre is ``nms serve`` (subprocess, restartable on the same port); the agent is
``python agent.py run`` (subprocess, JSON logs captured to a file so the test knows
exactly which polls it made).  Nothing here fakes the network.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
# SNMP secrets shared by the simulator and the agent (test values, never real ones).
SNMP_SECRETS = {
    "NMS_SNMP_COMMUNITY": "agent-test-community",
    "NMS_SNMP_V3_AUTH": "agent-test-auth-key-1",
    "NMS_SNMP_V3_PRIV": "agent-test-priv-key-1",
}
TOKEN_ENV = "NMS_AGENT_TOKEN_TEST"


def wait_for(cond: Callable[[], Any], timeout: float, what: str, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def write_inventory(
    path: Path, site: str = "chaohu", agent: str = "chaohu", roles: tuple[str, ...] = ()
) -> Path:
    """A small inventory: the province site, ``site`` and its devices (optionally only some roles)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    full = yaml.load((ROOT / "inventory.yaml").read_text(encoding="utf-8"), Loader=loader)
    sites = [s for s in full["sites"] if s["id"] == site or s["parent"] is None]
    devices = [dict(d) for d in full["devices"] if d["site"] == site and (not roles or d["role"] in roles)]
    names = {d["name"] for d in devices}
    for d in devices:
        if "tunnel_peers" in d:
            d["tunnel_peers"] = [p for p in d["tunnel_peers"] if p in names]
    links = [
        ln
        for ln in full.get("links", [])
        if ln["a"].split(":")[0] in names and ln["b"].split(":")[0] in names
    ]
    return save_inventory(path, full, sites, devices, links, agent, [site])


def write_shipped_subset(
    path: Path, keep: set[str], agents: list[dict[str, Any]], interval_s: int | None = None
) -> Path:
    """The shipped inventory's sites ``keep`` with every device and link among them (tunnel
    peers trimmed to those kept) and the given ``agents``; ``interval_s`` for every device."""
    full = yaml.safe_load((ROOT / "inventory.yaml").read_text(encoding="utf-8"))
    sites = [s for s in full["sites"] if s["id"] in keep]
    extra = {} if interval_s is None else {"interval_s": interval_s}
    devices = [dict(d, **extra) for d in full["devices"] if d["site"] in keep]
    names = {d["name"] for d in devices}
    for d in devices:
        if "tunnel_peers" in d:
            d["tunnel_peers"] = [p for p in d["tunnel_peers"] if p in names]
    links = [ln for ln in full["links"] if {ln["a"].split(":")[0], ln["b"].split(":")[0]} <= names]
    doc = {"version": 1, "credentials": full["credentials"], "sites": sites, "devices": devices,
           "links": links, "agents": agents}
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def save_inventory(
    path: Path, full: dict, sites: list, devices: list, links: list, agent: str, agent_sites: list[str]
) -> Path:
    """Write a part of the shipped inventory (``full``) with one agent polling ``agent_sites``."""
    doc = {
        "version": 1,
        "credentials": full["credentials"],
        "sites": sites,
        "devices": devices,
        "links": links,
        "agents": [{"name": agent, "token_env": TOKEN_ENV, "sites": agent_sites}],
    }
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def write_secrets(path: Path) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.writelines(f"{k}={v}\n" for k, v in SNMP_SECRETS.items())
    return path


class Centre:
    """``nms serve`` on a fixed loopback port; stop() and start() again keep the data."""

    def __init__(
        self,
        data_dir: Path,
        inventory: Path,
        port: int | None = None,
        *,
        extra_args: list[str] | None = None,
    ) -> None:
        """``extra_args`` go to ``nms serve`` (e.g. ``--age-every 1``)."""
        self.extra_args = list(extra_args or [])
        self.data_dir = data_dir
        self.inventory = inventory
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = dict(
            os.environ,
            NMS_DATA_DIR=str(data_dir),
            NMS_INVENTORY=str(inventory),
            NMS_INSECURE_COOKIES="1",
            PYTHONUNBUFFERED="1",
        )
        self.proc: subprocess.Popen | None = None
        self.log = data_dir / "centre.log"

    def settings(self):
        from nms.config import Settings

        return Settings(data_dir=self.data_dir, inventory_path=self.inventory)

    def agent_token(self, agent: str) -> str:
        from nms.auth import tokens
        from nms.schema import open_migrated

        db = open_migrated(self.settings())
        try:
            return tokens.create(db, "agent", agent, actor="test")[1]
        finally:
            db.conn.close()

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "nms",
                    "serve",
                    "--port",
                    str(self.port),
                    "--threads",
                    "4",
                    "--rollup-every",
                    "0",
                    *self.extra_args,
                ],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_for(self._answers, 30, f"the centre on {self.url} (log {self.log})")

    def _answers(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"centre exited: {self.log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(self.url + "/api/v1/ingest", timeout=1)
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False
        return True

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    # -- what the centre stored ---------------------------------------------------
    def batches(self, agent: str) -> list[tuple[int, int]]:
        """(seq, samples) of every batch stored for ``agent``."""
        from nms.db import connect

        db = connect(self.settings(), "metrics")
        try:
            if "ingest_batches" not in db.table_names():
                return []
            return [
                (r[0], r[1])
                for r in db.execute(
                    "SELECT seq, samples FROM ingest_batches WHERE agent = ? ORDER BY seq", (agent,)
                )
            ]
        finally:
            db.conn.close()

    def device_series(self, device: str, metrics: tuple[str, ...] = ("ok", "poll_s")) -> list[dict[str, Any]]:
        """Raw samples the centre stored for one device, oldest first."""
        from nms.db import connect
        from nms.store import SqliteTimeSeriesStore

        db = connect(self.settings(), "metrics")
        try:
            series = SqliteTimeSeriesStore(db).read_range(
                device, "", list(metrics), 0, int(time.time()) + 3600, level="raw"
            )
        finally:
            db.conn.close()
        return [{"ts": t, **{m: series.columns[m][i] for m in metrics}} for i, t in enumerate(series.ts)]


class Agent:
    """``python agent.py run`` as a child process; its JSON log tells which polls it made."""

    def __init__(
        self,
        workdir: Path,
        inventory: Path | None,
        agent: str,
        centre_url: str,
        token: str,
        sim_port: int | None,
        extra: list[str] | None = None,
        env: dict[str, str] | None = None,
        home: Path = ROOT,
    ) -> None:
        """``home`` holds the ``agent.py`` to run (and is its cwd): the project, or an agent's install."""
        self.home = home
        self.metrics_port = free_port()
        self.metrics_url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        self.spool_dir = workdir / "spool"
        self.log = workdir / "agent.log"
        self.cmd = [
            sys.executable,
            str(home / "agent.py"),
            "run",
            # without an inventory the agent pulls its assignment from the centre
            *(["--inventory", str(inventory)] if inventory is not None else ["--token-env", TOKEN_ENV]),
            "--agent",
            agent,
            "--centre",
            centre_url,
            "--spool-dir",
            str(self.spool_dir),
            "--metrics-listen",
            f"127.0.0.1:{self.metrics_port}",
            "--batch-interval",
            "0.5",
            "--backoff-max",
            "1",
            "--push-timeout",
            "5",
        ]
        if sim_port is not None:
            self.cmd += ["--sim-port", str(sim_port)]
        self.cmd += extra or []
        self.env = dict(os.environ, PYTHONUNBUFFERED="1", **{TOKEN_ENV: token}, **(env or {}))
        self.proc: subprocess.Popen | None = None
        self.running = False

    def start(self) -> None:
        self.running = True
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                self.cmd, cwd=self.home, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 30) -> int:
        assert self.proc is not None
        self.running = False
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"agent did not stop on SIGTERM; log:\n{self.tail()}") from None

    def kill(self) -> None:
        assert self.proc is not None
        self.running = False
        self.proc.kill()
        self.proc.wait()

    def events(self, event: str | None = None) -> list[dict[str, Any]]:
        self.check()
        out = []
        if not self.log.exists():
            return out
        for line in self.log.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and (event is None or rec.get("event") == event):
                out.append(rec)
        return out

    def check(self) -> None:
        """Fail at once (with the log) if the agent died while the test expects it to run."""
        if self.running and self.proc is not None and self.proc.poll() is not None:
            self.running = False
            raise AssertionError(f"agent exited with {self.proc.returncode}:\n{self.tail()}")

    def polls(self, ok: bool | None = None) -> list[dict[str, Any]]:
        return [p for p in self.events("poll") if ok is None or p["ok"] is ok]

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:]) if self.log.exists() else ""

    def scrape(self) -> str:
        self.check()
        with urllib.request.urlopen(self.metrics_url, timeout=5) as resp:
            return resp.read().decode()


class Prometheus:
    """A real Prometheus server on loopback scraping ``targets`` every second."""

    def __init__(self, workdir: Path, targets: list[str], binary: str = "/usr/bin/prometheus") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workdir = workdir
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "900ms", "evaluation_interval": "1s"},
            "scrape_configs": [{"job_name": "nms-agents", "static_configs": [{"targets": targets}]}],
        }
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log = workdir / "prometheus.log"
        self.cmd = [
            binary,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--storage.tsdb.retention.time=1h",
            "--log.level=warn",
        ]
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.cmd, stdout=out, stderr=subprocess.STDOUT)
        wait_for(self._ready, 30, f"prometheus on {self.url} (log {self.log})")

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"prometheus exited: {self.log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(self.url + "/-/ready", timeout=1) as resp:
                return resp.status == 200
        except OSError:
            return False

    def query(self, expr: str) -> list[dict[str, Any]]:
        url = self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=5) as resp:
            answer = json.loads(resp.read())
        assert answer["status"] == "success", answer
        return answer["data"]["result"]

    def targets(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(self.url + "/api/v1/targets", timeout=5) as resp:
            return json.loads(resp.read())["data"]["activeTargets"]

    def stop(self) -> None:
        stop_process(self.proc)


def stop_process(proc: subprocess.Popen | None, timeout: float = 20) -> None:
    """SIGTERM, then SIGKILL after ``timeout`` seconds; nothing if it is not running."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
