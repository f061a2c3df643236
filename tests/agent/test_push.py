"""Pushing batches over real HTTP (a stub centre on loopback): classification, lanes, replay."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from probes.agent.push import Forwarder, Sender
from probes.agent.spool import Spool
from tests.agent.centre_stub import CentreStub


@pytest.fixture
def stub():
    s = CentreStub()
    yield s
    s.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def body(seq: int) -> bytes:
    return json.dumps({"agent": "hefei", "seq": seq, "samples": [{"device": "r1", "ts": seq}]}).encode()


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (500, "retry"),
        (503, "retry"),
        (408, "retry"),
        (429, "retry"),
        (400, "reject"),
        (403, "reject"),
        (422, "reject"),
    ],
)
def test_sender_classifies_answers(stub, status, kind):
    stub.fail_status = status
    stub.set_mode("fail")
    out = Sender(stub.url, "nms_test").send(body(1))
    assert (out.kind, out.status) == (kind, status)


def test_sender_ok_duplicate_and_unreachable(stub):
    sender = Sender(stub.url, "nms_test")
    first, second = sender.send(body(7)), sender.send(body(7))
    assert (first.kind, first.duplicate, second.kind, second.duplicate) == ("ok", False, "ok", True)
    assert len(stub.samples()) == 1
    out = Sender(f"http://127.0.0.1:{free_port()}", "nms_test", timeout=2).send(body(1))
    assert out.kind == "retry" and out.status is None and "unreachable" in out.detail
    assert "nms_test" not in repr(sender)


def test_wrong_token_keeps_the_batch_for_later(stub):
    out = Sender(stub.url, "nms_wrong").send(body(1))
    assert (out.kind, out.status) == ("retry", 401)


async def _drive(forwarder: Forwarder, until, timeout: float = 20.0) -> None:
    tasks = [asyncio.create_task(forwarder.live_lane()), asyncio.create_task(forwarder.replay_lane())]
    try:
        for _ in range(int(timeout / 0.05)):
            if until():
                return
            await asyncio.sleep(0.05)
        raise AssertionError("condition not reached")
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def test_outage_then_replay_delivers_everything_once_in_order(tmp_path, stub):
    async def scenario():
        spool = Spool(tmp_path / "a.db", "hefei")
        fwd = Forwarder(spool, Sender(stub.url, "nms_test", timeout=2), backoff_min=0.05, backoff_max=0.2)
        stub.set_mode("fail")
        for i in range(12):  # twelve batches sealed while the centre answers 500
            spool.put_result({"device": "r1", "ts": float(i), "ok": True})
            fwd.submit(spool.seal())
        await _drive(fwd, lambda: stub.requests >= 3)
        assert spool.stats().batches == 12 and not stub.batches
        stub.set_mode("store")
        await _drive(fwd, lambda: spool.stats().batches == 0)
        assert fwd.stats.healthy and fwd.stats.last_success_ts > 0

    asyncio.run(scenario())
    assert [s["ts"] for s in stub.samples()] == [float(i) for i in range(12)]
    assert sorted(stub.arrivals) == list(range(1, 13))  # each batch sent once after recovery
    assert stub.arrivals == sorted(stub.arrivals)  # replay is oldest first


def test_rejected_batch_goes_to_dead_letter_and_others_continue(tmp_path, stub):
    async def scenario():
        spool = Spool(tmp_path / "a.db", "hefei")
        fwd = Forwarder(spool, Sender(stub.url, "nms_test"), backoff_min=0.05, backoff_max=0.2)
        spool.put_result({"device": "r1", "ts": 1.0, "ok": True})
        spool.seal()
        stub.fail_status = 422
        stub.set_mode("fail")
        await _drive(fwd, lambda: spool.stats().dead_letter_rows == 1)
        stub.set_mode("store")
        spool.put_result({"device": "r1", "ts": 2.0, "ok": True})
        fwd.submit(spool.seal())
        await _drive(fwd, lambda: spool.stats().batches == 0 and stub.batches)
        return spool.stats()

    st = asyncio.run(scenario())
    assert (st.dead_batches, st.dead_samples, st.dead_letter_rows) == (1, 1, 1)
    assert [s["ts"] for s in stub.samples()] == [2.0]


def test_a_poisoned_sample_is_dead_lettered_alone(tmp_path, stub):
    """The centre refuses a batch naming samples[i]: only that result is set aside."""
    stub.poison_device = "bad"

    async def scenario():
        spool = Spool(tmp_path / "a.db", "hefei")
        fwd = Forwarder(spool, Sender(stub.url, "nms_test"), backoff_min=0.05, backoff_max=0.2)
        for i, dev in enumerate(("r1", "bad", "r2")):
            spool.put_result({"device": dev, "ts": float(i), "ok": True})
        fwd.submit(spool.seal())
        await _drive(fwd, lambda: spool.stats().batches == 0)
        return spool.stats()

    st = asyncio.run(scenario())
    assert [(s["device"], s["ts"]) for s in stub.samples()] == [("r1", 0.0), ("r2", 2.0)]
    assert list(stub.batches) == [("hefei", 1)]  # the rest went under the same seq
    assert (st.dead_batches, st.dead_samples, st.dead_letter_rows) == (1, 1, 1)


def test_samples_ahead_of_the_centre_clock_set_aside_in_one_round_trip(tmp_path, stub):
    """A clock-skew refusal lists every sample ahead: they go to dead letter at once, no spinning."""
    import time

    stub.max_skew_s = 120

    async def scenario():
        spool = Spool(tmp_path / "a.db", "hefei")
        fwd = Forwarder(spool, Sender(stub.url, "nms_test"), backoff_min=0.05, backoff_max=0.2)
        now = time.time()
        for dev, dt in (("r1", -5), ("r2", 86400), ("r3", 86401), ("r4", -1)):
            spool.put_result({"device": dev, "ts": now + dt, "ok": True})
        fwd.submit(spool.seal())
        await _drive(fwd, lambda: spool.stats().batches == 0)
        first = stub.requests
        for dev in ("r5", "r6"):  # the clock is still ahead: the whole batch is set aside
            spool.put_result({"device": dev, "ts": time.time() + 3600, "ok": True})
        fwd.submit(spool.seal())
        await _drive(fwd, lambda: spool.stats().batches == 0)
        await asyncio.sleep(0.3)  # nothing is retried afterwards
        return spool, first, fwd.stats

    spool, first, stats = asyncio.run(scenario())
    assert [s["device"] for s in stub.samples()] == ["r1", "r4"]
    assert first == 2 and stub.requests == 3  # refused + the in-time rest; then one refusal
    st = spool.stats()
    assert (st.dead_batches, st.dead_samples, st.dead_letter_rows) == (2, 4, 2)
    assert stats.rejected == 2
    reason = spool._db.execute("SELECT reason FROM dead_letter ORDER BY id").fetchone()[0]
    assert "ahead of the centre's clock" in reason
