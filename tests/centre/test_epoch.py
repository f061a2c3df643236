"""A lost agent spool: a new epoch, its batches stored (not "duplicate"), and an alert."""

from __future__ import annotations

import time

import pytest

from nms.alerts.engine import Engine
from nms.alerts.rules import load_rules
from nms.pipeline import BatchError, validate_batch
from nms.schema import open_migrated
from probes.agent.spool import Spool
from tests.centre.helpers import poll, small_inventory
from tests.centre.test_ingest_http import agent_token

DEVICES = ("hefei-rtr1", "feidong-rtr1")


@pytest.fixture
def app(make_app):
    return make_app(small_inventory())


def fill(spool: Spool, t: float, n: int) -> list[bytes]:
    """``n`` batches of one minute's polls each, as the agent seals them."""
    out = []
    for k in range(n):
        for d in DEVICES:
            spool.put_result(poll(d, t + 60 * k))
        out.append(spool.seal().body)
    return out


def send(client, token: str, body: bytes) -> dict:
    r = client.post(
        "/api/v1/ingest",
        data=body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()


def test_lost_spool_is_a_new_epoch_stored_and_alerted(app, settings, tmp_path):
    token = agent_token(settings, "hefei")
    client = app.test_client()
    t = time.time() - 3600
    spool = Spool(tmp_path / "spool" / "hefei.db", "hefei")
    old_epoch = spool.epoch
    for body in fill(spool, t, 3):
        assert send(client, token, body) == {"accepted": 2, "duplicate": False}
    spool.close()
    for f in (tmp_path / "spool").iterdir():  # the disk is replaced: the spool is gone
        f.unlink()
    spool = Spool(tmp_path / "spool" / "hefei.db", "hefei")
    assert spool.epoch != old_epoch
    new = fill(spool, t + 600, 3)  # seq 1, 2, 3 again
    for body in new:
        assert send(client, token, body) == {"accepted": 2, "duplicate": False}
    assert send(client, token, new[0]) == {"accepted": 0, "duplicate": True}  # a real repeat still is one
    spool.close()

    db = open_migrated(settings, "centre")
    mdb = open_migrated(settings, "metrics")
    try:
        stored = mdb.execute("SELECT epoch, seq FROM ingest_batches WHERE agent = 'hefei'")
        assert sorted(stored) == sorted(
            [(old_epoch, s) for s in (1, 2, 3)] + [(spool.epoch, s) for s in (1, 2, 3)]
        )
        Engine(load_rules(), small_inventory()).evaluate(db)
        rows = db.execute(
            "SELECT subject_kind, subject_id, reason, state FROM alert_alerts WHERE rule = 'agent-new-spool'"
        ).fetchall()
        assert len(rows) == 1
        kind, subject, reason, st = rows[0]
        assert (kind, subject, st) == ("agent", "hefei", "firing")
        assert spool.epoch in reason and old_epoch in reason and "up to seq 3" in reason
    finally:
        db.conn.close()
        mdb.conn.close()


def test_same_spool_after_restart_keeps_its_epoch_and_raises_nothing(app, settings, tmp_path):
    token = agent_token(settings, "hefei")
    client = app.test_client()
    t = time.time() - 3600
    spool = Spool(tmp_path / "hefei.db", "hefei")
    first = fill(spool, t, 2)
    epoch = spool.epoch
    spool.close()
    spool = Spool(tmp_path / "hefei.db", "hefei")  # the agent restarts on its spool
    assert spool.epoch == epoch
    for body in first + fill(spool, t + 600, 1):
        send(client, token, body)
    spool.close()
    db = open_migrated(settings, "centre")
    try:
        Engine(load_rules(), small_inventory()).evaluate(db)
        assert (
            db.execute("SELECT count(*) FROM alert_alerts WHERE rule = 'agent-new-spool'").fetchone()[0] == 0
        )
    finally:
        db.conn.close()


def test_batches_without_epoch_are_epoch_empty_and_a_bad_epoch_is_named():
    now = time.time()
    body = {"agent": "hefei", "seq": 1, "samples": [poll("hefei-rtr1", now)]}
    validate_batch(body, "hefei", small_inventory(), now)  # an agent from before epochs
    with pytest.raises(BatchError) as err:
        validate_batch(dict(body, epoch="a b"), "hefei", small_inventory(), now)
    assert err.value.status == 422 and err.value.message.startswith("epoch:")


def test_a_centre_from_before_epochs_keeps_its_batch_records_as_epoch_empty(settings):
    from nms import pipeline, state
    from nms.db import connect

    old_metrics, old_centre = connect(settings, "metrics"), connect(settings, "centre")
    old_metrics.execute(
        "CREATE TABLE ingest_batches (agent TEXT NOT NULL, seq INTEGER NOT NULL, received REAL NOT NULL,"
        " samples INTEGER NOT NULL, PRIMARY KEY (agent, seq)) WITHOUT ROWID"
    )
    old_metrics.execute("INSERT INTO ingest_batches VALUES ('hefei', 5, 1.0, 3)")
    old_centre.execute(
        "CREATE TABLE state_applied (agent TEXT NOT NULL, seq INTEGER NOT NULL, ts REAL NOT NULL,"
        " PRIMARY KEY (agent, seq)) WITHOUT ROWID"
    )
    old_centre.execute("INSERT INTO state_applied VALUES ('hefei', 5, 1.0)")
    old_metrics.conn.close()
    old_centre.conn.close()
    # the centre starts on these files: nms.schema upgrades them once
    metrics_db, centre_db = open_migrated(settings, "metrics"), open_migrated(settings, "centre")
    body = {"agent": "hefei", "seq": 5, "samples": [poll("hefei-rtr1", time.time())]}
    assert pipeline.ingest_batch(metrics_db, centre_db, "hefei", body).duplicate  # an old agent's repeat
    assert not pipeline.ingest_batch(metrics_db, centre_db, "hefei", dict(body, epoch="e1")).duplicate
    assert sorted(metrics_db.execute("SELECT epoch, seq FROM ingest_batches")) == [("", 5), ("e1", 5)]
    assert sorted(centre_db.execute("SELECT epoch, seq FROM state_applied")) == [("", 5), ("e1", 5)]
    for db in (metrics_db, centre_db):
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert state.current(centre_db)["device"]["hefei-rtr1"]["state"] == "up"
    metrics_db.conn.close()
    centre_db.conn.close()


def test_a_new_spool_after_a_clock_skew_refusal_is_in_time_again(metrics_db, centre_db):
    """seq restarts with a new epoch: the skew record compares seqs within an epoch only."""
    from nms import clockskew, pipeline

    inv = small_inventory()
    t = time.time() - 600

    def send(epoch: str, seq: int, ts: float, now: float) -> None:
        body = {"agent": "hefei", "epoch": epoch, "seq": seq, "samples": [poll("hefei-rtr1", ts)]}
        pipeline.ingest_batch(metrics_db, centre_db, "hefei", body, inv, now=now)

    for seq in range(1, 6):
        send("spool-a", seq, t + 60 * seq, t + 60 * seq + 1)
    with pytest.raises(pipeline.ClockSkew):
        send("spool-a", 6, t + 86400, t + 361)  # the clock jumped ahead ...
    assert [r.agent for r in clockskew.open_refusals(centre_db)] == ["hefei"]
    send("spool-b", 1, t + 420, t + 421)  # ... and the agent came back on a new spool, in time
    assert clockskew.open_refusals(centre_db) == []
