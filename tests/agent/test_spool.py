"""The spool: durable pending results, numbered batches, bound, dead letters."""

from __future__ import annotations

import json
import sqlite3

import pytest

from probes.agent.spool import Spool, SpoolError


def result(device: str, ts: float, pad: int = 0) -> dict:
    return {"device": device, "ts": ts, "ok": True, "error": None, "interfaces": [], "pad": "x" * pad}


def test_seal_numbers_batches_and_keeps_order(tmp_path):
    sp = Spool(tmp_path / "a.db", "hefei")
    for i in range(5):
        sp.put_result(result("r1", 100.0 + i))
    b1 = sp.seal(max_samples=3)
    b2 = sp.seal(max_samples=3)
    assert sp.seal() is None
    assert (b1.seq, b1.samples, b2.seq, b2.samples) == (1, 3, 2, 2)
    body = json.loads(b1.body)
    assert body["agent"] == "hefei" and body["seq"] == 1
    assert [s["ts"] for s in body["samples"]] == [100.0, 101.0, 102.0]
    assert [b.seq for b in sp.next_batches(limit=10)] == [1, 2]
    assert [b.seq for b in sp.next_batches(exclude={1}, limit=10)] == [2]


def test_a_sealed_batch_is_what_the_centre_model_accepts(tmp_path):
    """The spool writes the body by hand (resends are byte-identical); the centre reads it
    with the one model of the batch, probes.result.Batch."""
    from probes.result import Batch, PollResult

    sp = Spool(tmp_path / "a.db", "hefei")
    poll = PollResult(device="r1", ts=1.0e9, ok=True)
    poll.part_failed("sdh", "garbage: sdh: ValueError: x")
    sp.put_result(poll.to_dict())
    batch = Batch.model_validate_json(sp.seal().body)
    assert (batch.agent, batch.epoch, batch.seq) == ("hefei", sp.epoch, 1)
    assert batch.samples[0].failed == [{"plugin": "sdh", "error": "garbage: sdh: ValueError: x"}]


def test_sequence_survives_restart_even_when_everything_was_acked(tmp_path):
    sp = Spool(tmp_path / "a.db", "hefei")
    for i in range(3):
        sp.put_result(result("r1", i))
        assert sp.ack(sp.seal().seq)
    sp.put_result(result("r1", 99))  # pending, not sealed: must survive too
    sp.close()
    sp = Spool(tmp_path / "a.db", "hefei")
    assert sp.stats().pending_samples == 1
    assert sp.seal().seq == 4


def test_every_batch_carries_the_spools_epoch_and_a_new_spool_draws_another(tmp_path):
    sp = Spool(tmp_path / "a.db", "hefei")
    epoch = sp.epoch
    sp.put_result(result("r1", 1))
    assert json.loads(sp.seal().body)["epoch"] == epoch
    sp.close()
    sp = Spool(tmp_path / "a.db", "hefei")  # a restart keeps the spool, so the epoch
    assert sp.epoch == epoch == sp.stats().epoch
    sp.close()
    other = Spool(tmp_path / "b.db", "hefei")  # a lost spool: seq starts again, under a new epoch
    other.put_result(result("r1", 2))
    body = json.loads(other.seal().body)
    assert (body["seq"], body["epoch"] != epoch, len(body["epoch"])) == (1, True, 16)


def test_a_spool_from_before_epochs_gets_one_and_keeps_its_sequence(tmp_path):
    sp = Spool(tmp_path / "a.db", "hefei")
    sp.put_result(result("r1", 1))
    sp.seal()
    sp.close()
    with sqlite3.connect(tmp_path / "a.db") as db:
        db.execute("DROP TABLE identity")
    sp = Spool(tmp_path / "a.db", "hefei")
    sp.put_result(result("r1", 2))
    body = json.loads(sp.seal().body)
    assert body["seq"] == 2 and body["epoch"] == sp.epoch


def test_ack_and_dead_letter(tmp_path):
    sp = Spool(tmp_path / "a.db", "hefei")
    sp.put_result(result("r1", 1))
    b1 = sp.seal()
    sp.put_result(result("r1", 2))
    b2 = sp.seal()
    assert sp.dead_letter(b1.seq, 422, "ts: missing") == ["r1"]
    assert sp.ack(b2.seq)
    assert not sp.ack(b2.seq)
    st = sp.stats()
    assert (st.batches, st.dead_batches, st.dead_samples, st.dead_letter_rows) == (0, 1, 1, 1)
    assert sp.requeue_dead() == 1
    assert [json.loads(b.body)["samples"][0]["ts"] for b in [sp.seal()]] == [1]
    assert sp.stats().dead_letter_rows == 0


def test_one_poisoned_sample_is_isolated_and_the_rest_keeps_its_seq(tmp_path):
    sp = Spool(tmp_path / "a.db", "hefei")
    for i, dev in enumerate(("r1", "bad", "r2")):
        sp.put_result(result(dev, i))
    b = sp.seal()
    assert sp.dead_letter(b.seq, 422, "samples[1].interfaces[0].name: appears twice", sample=1) == ["bad"]
    again = sp.next_batches()[0]
    body = json.loads(again.body)
    assert again.seq == b.seq and [s["device"] for s in body["samples"]] == ["r1", "r2"]
    assert again.samples == 2 and body["agent"] == "hefei"
    st = sp.stats()
    assert (st.batches, st.dead_samples, st.dead_letter_rows) == (1, 1, 1)


def test_bound_drops_oldest_batches_and_counts_them(tmp_path):
    sp = Spool(tmp_path / "a.db", "hefei", max_bytes=10_000)
    for i in range(10):
        sp.put_result(result("r1", i, pad=2_000))
        sp.seal()
    st = sp.stats()
    assert st.bytes <= 10_000
    assert st.dropped_batches == 10 - st.batches > 0
    assert st.dropped_samples == st.dropped_batches
    kept = [json.loads(b.body)["samples"][0]["ts"] for b in sp.next_batches(limit=100)]
    assert kept == list(range(10 - st.batches, 10))  # the newest survive, oldest first


def test_not_a_spool_is_a_clear_error(tmp_path):
    bad = tmp_path / "a.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(SpoolError, match="a.db"):
        Spool(bad, "hefei")
    with pytest.raises(SpoolError, match="not a usable spool"):  # the lock was released
        Spool(bad, "hefei")


def test_spool_file_is_wal(tmp_path):
    Spool(tmp_path / "a.db", "hefei").close()
    assert sqlite3.connect(tmp_path / "a.db").execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_spool_in_use_is_refused(tmp_path):
    sp = Spool(tmp_path / "a.db", "hefei")
    with pytest.raises(SpoolError, match="in use by another running agent"):
        Spool(tmp_path / "a.db", "hefei")
    sp.close()
    Spool(tmp_path / "a.db", "hefei").close()  # free again once closed
