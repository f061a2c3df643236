"""kill -9 of a running centre during ingest: the databases stay consistent, no half batch,
and re-sending the unacknowledged batch stores it exactly once."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from nms.config import ROOT
from nms.schema import open_migrated
from tests.centre.helpers import T0, batch, poll

tokens = pytest.importorskip("nms.auth.tokens")

DEVICES = [f"dev{i:03d}" for i in range(150)]


def big_batch(seq: int) -> dict:
    """150 devices x 1 interface... with 20 interfaces each: a few thousand rows per batch."""
    samples = []
    for d in DEVICES:
        p = poll(d, T0 + seq * 60)
        p["interfaces"] = [dict(p["interfaces"][0], index=i, name=f"GE0/0/{i}") for i in range(20)]
        samples.append(p)
    return batch("hefei", seq, samples)


ROWS_PER_BATCH = len(DEVICES) * 21  # device row + 20 interface rows


def server_env(settings) -> dict[str, str]:
    """The environment of an ``nms serve`` child on the test's data directory and database."""
    return dict(
        os.environ,
        NMS_DATA_DIR=str(settings.data_dir),
        NMS_INVENTORY=str(settings.inventory_path),
        NMS_DATABASE_URL=settings.database_url,
        NMS_INSECURE_COOKIES="1",
    )


def stop_server(proc: subprocess.Popen, wait_s: float = 10) -> None:
    """Ctrl-C, as an operator stops it; killed if it takes longer than ``wait_s``."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(wait_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start_server(env: dict, extra: list[str] | tuple[str, ...] = ()) -> tuple[subprocess.Popen, str]:
    """``nms serve`` on a free port (``extra``: more of its options); its ingest URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "nms", "serve", "--port", "0", "--rollup-every", "0", *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = proc.stdout.readline()
    m = re.search(r"http://\S+?:(\d+)/", line)
    if not m:
        proc.kill()
        raise AssertionError(f"nms serve did not start: {line!r}")
    return proc, f"http://127.0.0.1:{m.group(1)}/api/v1/ingest"


def send(url: str, token: str, body: dict) -> dict:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def test_kill_9_during_ingest_leaves_whole_batches(settings):
    db = open_migrated(settings)
    _, token = tokens.create(db, "agent", "hefei", actor="test")
    db.conn.close()
    env = server_env(settings)
    proc, url = start_server(env)
    acked: list[int] = []
    in_flight: list[int] = []

    def pump() -> None:
        seq = 1
        while True:
            in_flight.append(seq)
            try:
                r = send(url, token, big_batch(seq))
            except (urllib.error.URLError, ConnectionError, OSError):
                return
            assert r == {"accepted": len(DEVICES), "duplicate": False}
            acked.append(seq)
            seq += 1

    t = threading.Thread(target=pump)
    t.start()
    try:
        while len(acked) < 3 and t.is_alive():
            time.sleep(0.02)
        time.sleep(0.15)  # somewhere inside the next batch
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        t.join(60)
        if proc.poll() is None:
            proc.kill()
    assert len(acked) >= 3

    mdb = open_migrated(settings, "metrics")
    cdb = open_migrated(settings, "centre")
    assert mdb.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert cdb.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = {s for (s,) in mdb.execute("SELECT seq FROM ingest_batches WHERE agent = 'hefei'")}
    assert set(acked) <= stored
    per_ts = dict(mdb.execute("SELECT ts, count(*) FROM ts_head GROUP BY ts").fetchall())
    assert per_ts == {T0 + s * 60: ROWS_PER_BATCH for s in stored}  # whole batches only
    mdb.conn.close()
    cdb.conn.close()

    # the agent re-sends what it has no acknowledgement for: stored exactly once
    pending = in_flight[-1]
    proc, url = start_server(env)
    try:
        r = send(url, token, big_batch(pending))
        assert r["duplicate"] == (pending in stored)
        r2 = send(url, token, big_batch(pending))
        assert r2 == {"accepted": 0, "duplicate": True}
    finally:
        stop_server(proc)
    mdb = open_migrated(settings, "metrics")
    n = mdb.execute("SELECT count(*) FROM ts_head WHERE ts = ?", (T0 + pending * 60,)).fetchone()[0]
    assert n == ROWS_PER_BATCH
    mdb.conn.close()
