"""``python -m nms.demo`` on PostgreSQL (issue 19): two centres behind haproxy keep the
province running when one of them is killed.

A throwaway cluster (tests/support/pgcluster.py), the real demo (simulator, two ``nms
serve``, haproxy, agents pushing through nginx's TLS and haproxy), real HTTP.  The wall API
answers through the balancer before and after ``kill -9`` of a centre (taken while both
agents keep pushing), new polls keep arriving (the wall's "data as of" moves on), the
survivor leads every background job, and no batch is lost: every batch each agent numbered
is in the database or still in its spool (the keys of ``ingest_batches`` and ``ts_head``
keep a re-sent batch or sample from being stored twice).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.ports import free_port
from tests.support.processes import ROOT, stop_process, wait_for

AGENTS = ("chaohu", "hefei")


def _get(url: str, token: str) -> tuple[int, dict | None]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except OSError:
        return 0, None


class Output:
    """The demo's stdout, read as it comes (the banner names the centres and the kiosk token)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.text = ""
        self.proc = proc
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.text += line

    def find(self, pattern: str) -> re.Match[str] | None:
        if self.proc.poll() is not None:
            raise AssertionError(f"demo exited: {self.text[-3000:]}")
        return re.search(pattern, self.text)


def _batches(url: str, agent: str) -> dict[tuple[str, int], int]:
    """(epoch, seq) -> samples of every batch the centres stored for ``agent``."""
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT epoch, seq, samples FROM ingest_batches WHERE agent = %s", (agent,))
        return {(e, s): n for e, s, n in rows}


def _spool(data_dir: Path, agent: str) -> tuple[str, int, set[int], int]:
    """The agent's spool: (epoch, next seq, seqs not yet acknowledged, batches dropped or dead)."""
    import sqlite3

    path = next((data_dir / "spool" / agent).glob("*.db"))
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as db:
        meta = dict(db.execute("SELECT key, value FROM meta"))
        ident = dict(db.execute("SELECT key, value FROM identity"))
        unacked = {r[0] for r in db.execute("SELECT seq FROM batches")}
    lost = meta["dropped_batches"] + meta["dead_batches"]
    return ident.get("epoch", ""), int(meta["next_seq"]), unacked, lost


@pytest.mark.slow  # the whole demo, twice a centre's start: CI's slow tier
def test_demo_on_postgresql_survives_a_killed_centre(tmp_path: Path, pg_url: str) -> None:
    data_dir = tmp_path / "demo"
    cmd = [
        sys.executable, "-m", "nms.demo", "--data-dir", str(data_dir), "--agents", ",".join(AGENTS),
        "--port", str(free_port()), "--snmp-port", str(free_port(kind=socket.SOCK_DGRAM)),
        "--sim-control-port", str(free_port()), "--wan-proxy-base-port", "0", "--tls-port", str(free_port()),
        "--events-base-port", "0", "--ssh-port", str(free_port()), "--backup-interval", "3600",
        "--agent-metrics-base-port", str(free_port()),
    ]
    env = dict(os.environ, NMS_DATABASE_URL=pg_url, NMS_ADMIN_PASSWORD="demo-test-password-1")
    demo = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    out = Output(demo)
    try:
        banner = wait_for(lambda: out.find(r"Wall display \(kiosk, no login\): (\S+)/wall\?kiosk=(\S+)"), 180,
                          "the demo's banner")
        url, kiosk = banner.group(1), banner.group(2)
        centres = [(int(pid), int(port)) for pid, port in
                   re.findall(r"centre\d pid (\d+) on 127\.0\.0\.1:(\d+)", out.text)]
        assert len(centres) == 2, out.text
        wall = url + "/api/v1/wall"

        def as_of() -> float | None:
            status, doc = _get(wall, kiosk)
            assert status == 200, f"the wall through haproxy answered {status}"
            return doc["as_of"] if doc else None

        before = wait_for(as_of, 180, "polls on the wall through the balancer")
        # both centres serve: each answers the wall directly too
        for _pid, port in centres:
            assert _get(f"http://127.0.0.1:{port}/api/v1/wall", kiosk)[0] == 200

        victim, survivor = centres
        wait_for(lambda: len(_batches(pg_url, AGENTS[0])) >= 2, 120, "batches stored")
        os.kill(victim[0], signal.SIGKILL)  # the agents keep pushing meanwhile: some batch dies with it
        killed = time.monotonic()
        answered = 0
        while time.monotonic() - killed < 10:  # haproxy redispatches: no request fails
            assert as_of() is not None
            answered += 1
            time.sleep(0.2)
        assert answered >= 20
        assert demo.poll() is None  # one centre of two died: the demo carries on
        # the survivor leads every background job now (nms.leader), within seconds
        log = data_dir / "logs" / "centre2.log"
        for job in ("alerts", "state-aging", "config-backup", "inventory-watch"):
            wait_for(lambda job=job: f"now leads {job}" in log.read_text(errors="replace"), 15,
                     f"centre2 leading {job}")
        assert time.monotonic() - killed < 25
        newer = wait_for(lambda: (t := as_of()) is not None and t > before and t, 180,
                         "new polls after the kill")
        assert newer > before
        assert _get(f"http://127.0.0.1:{survivor[1]}/api/v1/wall", kiosk)[0] == 200

        # nothing lost: every batch each agent numbered is stored or still spooled
        time.sleep(5)
        for agent in AGENTS:
            epoch, next_seq, unacked, lost = _spool(data_dir, agent)
            stored = _batches(pg_url, agent)
            mine = {seq for (e, seq) in stored if e == epoch}
            assert lost == 0
            missing = set(range(1, next_seq)) - mine - unacked
            assert not missing, f"{agent}: batches neither stored nor spooled: {sorted(missing)[:10]}"
            assert len(mine) >= 3
    finally:
        stop_process(demo, timeout=60)  # SIGTERM: the demo stops its children and haproxy
