"""Events in the spool: batches of their own, sent before poll batches, bounded apart from poll
data, surviving a restart, dead-lettered and requeued as events."""

from __future__ import annotations

import json

from probes.agent.spool import Spool
from probes.events.model import Event


def _ev(i: int) -> dict:
    return Event(1_800_000_000.0 + i, "127.34.0.5", "sw1", "link-down", f"Gi0/{i}", "major", f"down {i}",
                 b"\x30\x00", "trap").as_dict()


def _poll(i: int) -> dict:
    return {"device": "sw1", "ts": 1_800_000_000.0 + i, "ok": True}


def test_event_batches_go_first_and_keep_the_seq_series(tmp_path) -> None:  # noqa: ANN001
    spool = Spool(tmp_path / "a.db", "a")
    for i in range(3):
        spool.put_result(_poll(i))
    polls = spool.seal(500)
    assert spool.put_events([_ev(i) for i in range(5)]) == 5
    assert spool.stats().pending_events == 5
    events = spool.seal_events(2)
    assert polls is not None and events is not None
    assert (polls.seq, events.seq) == (1, 2)
    body = json.loads(events.body)
    assert body["samples"] == [] and [e["subject"] for e in body["events"]] == ["Gi0/0", "Gi0/1"]
    assert "events" not in json.loads(polls.body)  # poll batches keep the contract they had
    # the replay lane takes event batches first, then poll batches oldest first
    assert [b.seq for b in spool.next_batches(limit=5)] == [2, 1]
    spool.close()
    again = Spool(tmp_path / "a.db", "a")  # a restart keeps what was not sent
    assert again.stats().pending_events == 3
    rest = again.seal_events(1000)
    assert rest is not None and rest.seq == 3
    assert [b.seq for b in again.next_batches(limit=5)] == [2, 3, 1]
    again.close()


def test_events_are_bounded_apart_from_poll_data(tmp_path) -> None:  # noqa: ANN001
    spool = Spool(tmp_path / "a.db", "a", max_events=10)
    spool.put_result(_poll(0))
    assert spool.put_events([_ev(i) for i in range(25)]) == 10
    st = spool.stats()
    assert (st.pending_events, st.dropped_events, st.pending_samples) == (10, 15, 1)
    spool.close()


def test_a_refused_event_batch_is_dead_lettered_and_requeued_as_events(tmp_path) -> None:  # noqa: ANN001
    spool = Spool(tmp_path / "a.db", "a")
    spool.put_events([_ev(1), _ev(2)])
    batch = spool.seal_events()
    assert batch is not None
    assert spool.dead_letter(batch.seq, 422, "events[1].kind: bad") == ["sw1"]
    assert spool.stats().batches == 0 and spool.stats().dead_samples == 2
    assert spool.requeue_dead() == 2
    st = spool.stats()
    assert (st.pending_events, st.pending_samples) == (2, 0)  # back as events, not as poll results
    spool.close()
