"""Two centres on one database ingesting the same agent's re-sent batch: stored once.

An agent that got no answer re-sends its batch, and behind a load balancer the re-send can
reach the other centre while the first one is still storing it.  Two real ``nms serve``
processes share the database (the same SQLite files, or one PostgreSQL database), each
with its own connections; every batch is POSTed by four senders at once, two to each
centre.  Exactly one of them may store it: one copy in ``ingest_batches``, in the time
series, in the event log and in ``state_events`` (compared with the same batches ingested
once, one after the other, into a database of their own).
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from nms.config import Settings
from nms.pipeline import ingest_batch
from nms.schema import open_migrated
from tests.centre.helpers import batch, poll
from tests.centre.test_crash import send, server_env, start_server, stop_server

tokens = pytest.importorskip("nms.auth.tokens")

DEVICES = [f"race{i:02d}" for i in range(20)]
BATCHES = 10
SENDERS_PER_CENTRE = 2
DOWN = {"race03": range(3, 8), "race11": range(5, 7)}  # failed polls by seq: an outage, a blip
QUIET = ["--age-every", "0", "--inventory-every", "0", "--configs-interval", "0", "--no-alerts"]


def race_batch(seq: int, t0: int) -> dict:
    """20 devices' polls (a few interfaces each) and two events, one minute after the last batch."""
    ts = t0 + seq * 60
    samples = []
    for d in DEVICES:
        p = poll(d, ts, ok=seq not in DOWN.get(d, ()))
        if p["ok"]:
            p["interfaces"] = [dict(p["interfaces"][0], index=i, name=f"GE0/0/{i}") for i in range(4)]
        samples.append(p)
    body = batch("hefei", seq, samples)
    body["epoch"] = "race"
    body["events"] = [
        {"time": ts - 5, "source": "127.0.0.1", "device": d, "kind": "link-down", "subject": "GE0/0/1",
         "severity": "major", "text": f"GE0/0/1 down, batch {seq}", "raw": "3000", "origin": "trap"}
        for d in DEVICES[:2]
    ]
    return body


def rows_of(body: dict) -> int:
    """Time-series rows of a batch: one per device poll plus one per interface."""
    return sum(1 + len(p["interfaces"]) for p in body["samples"])


def history(settings: Settings) -> list[tuple]:
    db = open_migrated(settings, "centre")
    try:
        return sorted(
            tuple(r)
            for r in db.execute("SELECT ts, kind, subject, from_state, to_state, reason FROM state_events")
        )
    finally:
        db.conn.close()


def reference_history(tmp_path, bodies: list[dict]) -> list[tuple]:
    """The state history of the batches ingested once each, in order, by one centre (SQLite)."""
    ref = Settings(data_dir=tmp_path / "ref", inventory_path=tmp_path / "no-inventory.yaml", testing=True,
                   database_url="")
    mdb, cdb = open_migrated(ref, "metrics"), open_migrated(ref, "centre")
    try:
        for body in bodies:
            ingest_batch(mdb, cdb, "hefei", body, None, now=time.time())
    finally:
        mdb.conn.close()
        cdb.conn.close()
    return history(ref)


def test_two_centres_store_a_resent_batch_once(settings, tmp_path):
    db = open_migrated(settings, "centre")
    _, token = tokens.create(db, "agent", "hefei", actor="test")
    db.conn.close()
    open_migrated(settings, "metrics").conn.close()
    env = server_env(settings)
    t0 = int(time.time()) // 60 * 60 - (BATCHES + 1) * 60  # recent, never ahead of the centre's clock
    bodies = [race_batch(seq, t0) for seq in range(1, BATCHES + 1)]
    with ThreadPoolExecutor(2) as pool:  # both start at once: each takes seconds on a busy machine
        centres = list(pool.map(lambda _: start_server(env, QUIET), range(2)))
    answers: list[list[dict]] = []
    try:
        urls = [url for _, url in centres for _ in range(SENDERS_PER_CENTRE)]
        with ThreadPoolExecutor(len(urls)) as pool:
            for body in bodies:
                data = json.dumps(body)
                gate = threading.Barrier(len(urls))

                def post(url: str, data: str = data, gate: threading.Barrier = gate) -> dict:
                    gate.wait(30)
                    return send(url, token, json.loads(data))

                answers.append(list(pool.map(post, urls)))
    finally:
        for proc, _ in centres:
            stop_server(proc, 15)

    for body, got in zip(bodies, answers, strict=True):
        stored = [a for a in got if not a["duplicate"]]
        assert stored == [{"accepted": len(body["samples"]), "duplicate": False}], (body["seq"], got)
        assert sorted(got, key=lambda a: a["duplicate"])[1:] == [{"accepted": 0, "duplicate": True}] * 3

    mdb = open_migrated(settings, "metrics")
    cdb = open_migrated(settings, "centre")
    try:
        seqs = [r[0] for r in mdb.execute("SELECT seq FROM ingest_batches WHERE agent = 'hefei' ORDER BY 1")]
        assert seqs == list(range(1, BATCHES + 1))
        per_ts = dict(mdb.execute("SELECT ts, count(*) FROM ts_head GROUP BY ts").fetchall())
        assert per_ts == {b["samples"][0]["ts"]: rows_of(b) for b in bodies}
        applied = cdb.execute("SELECT seq, count(*) FROM state_applied GROUP BY seq ORDER BY seq").fetchall()
        assert [tuple(r) for r in applied] == [(s, 1) for s in range(1, BATCHES + 1)]
        events = cdb.execute("SELECT seq, count(*) FROM event_log GROUP BY seq ORDER BY seq").fetchall()
        assert [tuple(r) for r in events] == [(s, 2) for s in range(1, BATCHES + 1)]
    finally:
        mdb.conn.close()
        cdb.conn.close()
    got = history(settings)
    assert {(k, s, f, t) for _, k, s, f, t, _ in got} >= {("device", "race03", "up", "down")}  # it did change
    assert got == reference_history(tmp_path, bodies)


def test_the_check_for_a_seen_batch_is_inside_the_writers_lock(settings):
    """Without a server: one batch stored from two threads with their own connections at once."""
    open_migrated(settings, "centre").conn.close()
    open_migrated(settings, "metrics").conn.close()
    body = race_batch(1, int(time.time()) // 60 * 60 - 120)
    gate = threading.Barrier(4)

    def one() -> bool:
        mdb, cdb = open_migrated(settings, "metrics"), open_migrated(settings, "centre")
        try:
            gate.wait(30)
            return ingest_batch(mdb, cdb, "hefei", body, None).duplicate
        finally:
            mdb.conn.close()
            cdb.conn.close()

    with ThreadPoolExecutor(4) as pool:
        duplicates = sorted(pool.map(lambda _: one(), range(4)))
    assert duplicates == [False, True, True, True]
    mdb = open_migrated(settings, "metrics")
    try:
        assert mdb.execute("SELECT count(*) FROM ingest_batches").fetchone()[0] == 1
        assert mdb.execute("SELECT count(*) FROM ts_head").fetchone()[0] == rows_of(body)
    finally:
        mdb.conn.close()
