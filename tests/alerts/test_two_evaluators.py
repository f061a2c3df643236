"""Two evaluators or senders on one database (two centres, by accident): one alert, one page.

Each evaluator has its own connection and its own :class:`Engine`, as two processes would;
on PostgreSQL they are two pooled connections to the one database.
"""

from __future__ import annotations

import threading

from nms.alerts import engine as engine_mod
from nms.alerts.engine import Engine
from nms.alerts.outbox import Outbox
from nms.db import connect
from tests.alerts.conftest import make_channels, make_rules
from tests.alerts.peers import HttpReceiver


def _run(target, *args) -> threading.Thread:  # noqa: ANN001
    errors: list[BaseException] = []

    def body() -> None:
        try:
            target(*args)
        except BaseException as exc:  # noqa: BLE001 - re-raised by the caller
            errors.append(exc)

    t = threading.Thread(target=body, daemon=True)
    t.errors = errors  # type: ignore[attr-defined]
    t.start()
    return t


def _joined(t: threading.Thread) -> None:
    t.join(60)
    assert not t.is_alive(), "evaluation hung"
    if t.errors:  # type: ignore[attr-defined]
        raise t.errors[0]  # type: ignore[attr-defined]


def test_two_evaluations_at_the_same_moment_open_one_alert_and_page_once(world, settings):
    world.round()
    for _ in range(2):
        world.round(down=("hefei-fw1",))
    other = connect(settings, "centre")
    try:
        start = threading.Barrier(2)
        ours, theirs = Engine(make_rules(), world.inv, make_channels()), Engine(
            make_rules(), world.inv, make_channels())

        def evaluate(eng: Engine, db) -> None:  # noqa: ANN001
            start.wait(10)
            eng.evaluate(db, world.t)

        threads = [_run(evaluate, ours, world.db), _run(evaluate, theirs, other)]
        for t in threads:
            _joined(t)
    finally:
        other.close()
    down = world.alerts("rule = 'device-down'")
    assert [(a["subject_id"], a["state"], a["notified"]) for a in down] == [("hefei-fw1", "firing", 1)]
    assert [p[1] for p in world.pages()] == ["device-down:hefei-fw1"]
    assert world.db.execute("SELECT generation FROM alert_eval").fetchone()[0] == 2  # both applied, in turn


def test_an_evaluation_that_read_before_another_committed_reads_again(world, settings, monkeypatch):
    """B reads the conditions (all well), A then sees the device down and pages; B must not
    apply what it read (it would resolve A's alert, and the next evaluation page again)."""
    world.round()
    other = connect(settings, "centre")
    gathered, go = threading.Event(), threading.Event()
    real = engine_mod.gather

    def held(db, *args, **kwargs):  # noqa: ANN001
        out = real(db, *args, **kwargs)
        if db is other and not go.is_set():
            gathered.set()
            go.wait(30)
        return out

    monkeypatch.setattr(engine_mod, "gather", held)
    a = Engine(make_rules(), world.inv, make_channels())
    b = Engine(make_rules(), world.inv, make_channels())
    try:
        late = _run(b.evaluate, other)
        assert gathered.wait(30)
        assert [a["rule"] for a in world.alerts()] == []  # B read a quiet province
        for _ in range(2):
            world.round(down=("hefei-fw1",))
        a.evaluate(world.db)
        go.set()
        _joined(late)
        a.evaluate(world.db)
    finally:
        go.set()
        other.close()
    down = world.alerts("rule = 'device-down'")
    assert [(x["subject_id"], x["state"]) for x in down] == [("hefei-fw1", "firing")]
    assert [p[1] for p in world.pages()] == ["device-down:hefei-fw1"]
    assert world.pages("resolved") == []


def test_two_senders_that_read_the_same_due_row_send_it_once(world, settings, monkeypatch):
    monkeypatch.setenv("NMS_TEST_HOOK_KEY", "two-senders-key")
    hook = HttpReceiver().start()
    other = connect(settings, "centre")
    try:
        channels = make_channels(hook.url + "/hook")
        world.round()
        for _ in range(2):
            world.round(down=("hefei-fw1",))
        Engine(make_rules(), world.inv, channels).evaluate(world.db, world.t)
        both_read = threading.Barrier(2)
        real = Outbox._take

        def take_after_both_read(self, db, nid, due):  # noqa: ANN001
            both_read.wait(10)  # each sender has read the due row before either takes it
            return real(self, db, nid, due)

        monkeypatch.setattr(Outbox, "_take", take_after_both_read)
        tried: list[int] = []

        def send(db) -> None:  # noqa: ANN001
            tried.append(Outbox(channels).run_once(db))

        threads = [_run(send, db) for db in (world.db, other)]
        for t in threads:
            _joined(t)
    finally:
        other.close()
        hook.stop()
    assert sorted(tried) == [0, 1]
    assert len(hook.requests) == 1
    assert world.db.execute("SELECT status, attempts FROM alert_notifications").fetchall() == [("sent", 1)]
