"""Two centres on one database (issue 19): wall streams of one see what the other ingested,
and the changes announced by one process wake the waiters of another (nms.notify, nms.updates).

Real ``nms serve`` processes and real HTTP; on SQLite both share a data directory (today's
``PRAGMA data_version`` polling), on PostgreSQL one database (``LISTEN``/``NOTIFY``: the stream
of centre B polls only every 30 s there, so only a notification can wake it in time).
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from dashboards import sse
from dashboards.walldata import WallFeed
from nms import notify, updates
from nms.auth import tokens
from nms.config import Settings
from nms.schema import open_migrated
from probes.common.inventory import load_inventory
from tests.centre.helpers import batch, poll, small_inventory
from tests.support.centres import SharedCentre
from tests.support.processes import wait_for, write_inventory
from tests.support.sse import SseClient

ROOT = Path(__file__).resolve().parents[2]
AGENT = "chaohu"


def _tokens(settings: Settings) -> tuple[str, str]:
    db = open_migrated(settings)
    try:
        agent = tokens.create(db, "agent", AGENT, actor="test")[1]
        kiosk = tokens.create(db, "kiosk", actor="test")[1]
    finally:
        db.conn.close()
    return agent, kiosk


def _post(url: str, token: str, body: dict) -> dict:
    import json

    req = urllib.request.Request(
        url + "/api/v1/ingest", data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback
        return json.loads(resp.read())


@pytest.mark.slow  # two nms serve and a stream: 20 s; the slow tier runs it on both engines
def test_wall_stream_of_one_centre_sees_a_batch_ingested_through_another(
    settings: Settings, tmp_path: Path, database_url: str
) -> None:
    inv_path = write_inventory(tmp_path / "inventory.yaml", site="chaohu", agent=AGENT)
    device = sorted(load_inventory(inv_path).devices)[0]
    settings = Settings(data_dir=settings.data_dir, inventory_path=inv_path, database_url=database_url)
    agent_token, kiosk = _tokens(settings)
    poll_s = "30" if database_url else "1"  # on PostgreSQL only a NOTIFY can wake B in time
    a = SharedCentre(settings.data_dir, inv_path, database_url, extra_args=["--no-alerts"])
    b = SharedCentre(settings.data_dir, inv_path, database_url, extra_args=["--no-alerts"],
                     env={"NMS_WALL_POLL_S": poll_s})
    stream = None
    try:
        a.start()
        b.start()
        stream = SseClient(b.url + "/api/v1/wall/stream", {"Authorization": f"Bearer {kiosk}"})
        _at, first = stream.next("wall", 20)
        assert first["as_of"] is None  # nothing polled yet
        time.sleep(1.5)  # B's listener is up (it starts with the process) and the stream is waiting
        ts = int(time.time())
        got = _post(a.url, agent_token, batch(AGENT, 1, [poll(device, ts)]) | {"epoch": "e1"})
        sent = time.monotonic()
        assert got["accepted"] == 1
        at, doc = stream.next("wall", 10, where=lambda d: d["as_of"] == ts)
        assert at - sent < 2.0, f"B's stream took {at - sent:.1f} s to show A's batch"
    finally:
        if stream is not None:
            stream.close()
        a.stop()
        b.stop()


JOBS = ("state-aging", "inventory-watch")


@pytest.mark.slow  # two nms serve, one killed
def test_each_job_runs_in_one_centre_and_the_survivor_takes_over(
    settings: Settings, tmp_path: Path, database_url: str
) -> None:
    """Two ``nms serve`` on one database: each job has one leader; kill -9 it and the other
    centre leads within seconds (nms.leader wired into nms serve)."""
    inv_path = write_inventory(tmp_path / "inventory.yaml", site="chaohu", agent=AGENT)
    args = ["--no-alerts", "--age-every", "0.5", "--inventory-every", "0.5", "--configs-interval", "0"]
    centres = [SharedCentre(settings.data_dir, inv_path, database_url, extra_args=args) for _ in range(2)]

    def leads(c: SharedCentre, job: str) -> bool:
        return c.log.exists() and f"now leads {job}" in c.log.read_text(errors="replace")

    try:
        for c in centres:
            c.start()
        for job in JOBS:
            wait_for(lambda job=job: any(leads(c, job) for c in centres), 20, f"a leader of {job}")
        time.sleep(2)  # both centres have tried several times by now
        for job in JOBS:
            assert [leads(c, job) for c in centres].count(True) == 1, job
        leader_ = next(c for c in centres if leads(c, "state-aging"))
        other = next(c for c in centres if c is not leader_)
        leader_.kill()
        killed = time.monotonic()
        wait_for(lambda: leads(other, "state-aging"), 10, "the other centre leading state-aging")
        assert time.monotonic() - killed < 5.0
    finally:
        for c in centres:
            c.stop()


INGEST = """
import sys, time
from nms import notify
from nms.config import Settings
from nms.db import connect
from nms.pipeline import ingest_batch
from tests.centre.helpers import batch, poll, small_inventory
settings = Settings(database_url=sys.argv[1])
notify.start(settings).listening.wait(10)
ts = int(sys.argv[2])
centre, metrics = connect(settings, "centre"), connect(settings, "metrics")
ingest_batch(metrics, centre, "hefei", batch("hefei", 1, [poll("hefei-rtr1", ts)]) | {"epoch": "e1"},
             small_inventory())
print("ingested", flush=True)
time.sleep(2)  # the publisher sends its NOTIFY
"""


@pytest.mark.pg
def test_wall_stream_wakes_for_a_batch_another_process_ingested(pg_url: str, tmp_path: Path) -> None:
    """The wall's stream here (polling only every 30 s) shows a batch that another process
    ingested on the same PostgreSQL database within 2 s: woken by its NOTIFY."""
    settings = Settings(data_dir=tmp_path / "var", database_url=pg_url, testing=True)
    for name in ("centre", "metrics"):
        open_migrated(settings, name).close()
    bus = notify.start(settings)
    assert bus is not None and bus.listening.wait(10)
    inv = small_inventory()
    # Workaround until the state area runs on PostgreSQL: without an SDH link the wall computes no
    # backbone availability, whose nms.state.initial_states has "subquery in FROM must have an alias".
    inv.links.pop("prov-hefei")
    feed = WallFeed(settings, lambda: inv)
    events: queue.Queue[tuple[float, str]] = queue.Queue()
    # heartbeats often (they do not look at the database): the reader can stop when the test ends
    gen = sse.stream(feed, None, sse.StreamConfig(poll_s=30, heartbeat_s=0.1, max_age_s=40))
    finished = threading.Event()

    def consume() -> None:
        for e in gen:
            if finished.is_set():
                return
            if e.startswith("event: wall"):
                events.put((time.monotonic(), e))

    reader = threading.Thread(target=consume, daemon=True)
    reader.start()
    try:
        _at, first = events.get(timeout=20)
        assert '"as_of":null' in first
        ts = int(time.time())
        child = subprocess.Popen([sys.executable, "-c", INGEST, pg_url, str(ts)], cwd=ROOT, text=True,
                                 env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE)
        assert child.stdout is not None and child.stdout.readline().strip() == "ingested"
        done = time.monotonic()
        at, doc = events.get(timeout=5)
        assert f'"as_of":{ts}' in doc
        assert at - done < 2.0
        assert child.wait(30) == 0
    finally:
        finished.set()
        updates.changed()  # wakes the stream, which then sees it is finished
        reader.join(10)
        notify.stop()
        feed.close()


CHILD = """
import sys, time
from dashboards import sse
from dashboards.walldata import WallFeed
from nms import notify, updates
from nms.config import Settings
bus = notify.start(Settings(database_url=sys.argv[1]))
bus.listening.wait(10)
print("ready", flush=True)
for line in sys.stdin:
    updates.notify_state_updated() if line.strip() == "state" else updates.changed(line.strip())
    print("sent", flush=True)
time.sleep(1)
"""


@pytest.mark.pg
def test_a_change_in_one_process_wakes_the_waiters_of_another(pg_url: str) -> None:
    """The bus on its own: a state change wakes the evaluator and the streams of the other
    process; an alerts change wakes streams only; a process never wakes itself twice."""
    bus = notify.start(Settings(database_url=pg_url))
    assert bus is not None and bus.listening.wait(10)
    child = subprocess.Popen([sys.executable, "-c", CHILD, pg_url], cwd=ROOT, text=True,
                             env=dict(os.environ, PYTHONPATH=str(ROOT)),
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline().strip() == "ready"
        updates.wait_for_update(0)
        mark = updates.generation()
        child.stdin.write("state\n")
        child.stdin.flush()
        start = time.monotonic()
        assert updates.wait_for_change(mark, 5) != mark
        assert time.monotonic() - start < 2.0
        assert updates.wait_for_update(2)  # the alert evaluator here would be woken too
        updates.wait_for_update(0)
        mark = updates.generation()
        child.stdin.write("alerts\n")
        child.stdin.flush()
        assert updates.wait_for_change(mark, 5) != mark
        assert not updates.wait_for_update(0.5)  # an alerts change does not re-run the evaluator
        seen = bus.received
        updates.changed(updates.ALERTS)  # ours: published, and not counted as a peer's
        time.sleep(1.0)
        assert bus.received == seen
    finally:
        child.kill()
        child.wait()
        notify.stop()


def test_no_bus_on_sqlite(tmp_path: Path) -> None:
    assert notify.start(Settings(data_dir=tmp_path, database_url="")) is None
