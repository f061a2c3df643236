"""Confirm, don't trust: a trap marks its subject *suspect*; only the confirming poll changes state.

Real HTTP to the centre's app: an agent token POSTs batches to ``/api/v1/ingest`` (events and
poll results, as ``agent.py run`` sends them) and an operator reads ``/api/v1/state`` and
``/wall/data``-equivalent documents.
"""

from __future__ import annotations

import itertools
import time

import pytest

from dashboards import walldata
from nms.events import suspect
from probes.events.model import Event
from tests.auth.helpers import app_db, bearer, make_app, make_token, make_user
from tests.centre.helpers import poll, small_inventory

IF = "hefei-rtr1:GE0/0/2"  # the Hefei end of the MSTP link hefei-feidong


@pytest.fixture
def world(tmp_path, database_url):  # noqa: ANN001, ANN201
    app = make_app(tmp_path, inventory=small_inventory(), database_url=database_url)
    db = app_db(app)
    try:
        make_user(db, "op", "operator", "anhui")
        tokens = {"agent": make_token(db, "agent", "hefei"), "op": make_token(db, "user", "op")}
    finally:
        db.conn.close()
    client = app.test_client()
    seq = itertools.count(1)

    def push(samples=(), events=()) -> None:  # noqa: ANN001
        body = {"agent": "hefei", "epoch": "e1", "seq": next(seq), "samples": list(samples),
                "events": list(events)}
        resp = client.post("/api/v1/ingest", json=body, headers=bearer(tokens["agent"]))
        assert resp.status_code == 200, resp.get_json()

    def now_state() -> dict:
        resp = client.get("/api/v1/state", headers=bearer(tokens["op"]))
        assert resp.status_code == 200
        return resp.get_json()

    return app, push, now_state


def _link_down(t: float, subject: str = "GE0/0/2") -> dict:
    return Event(t, "10.0.0.1", "hefei-rtr1", "link-down", subject, "major",
                 f"Interface {subject} has turned into DOWN state.", b"\x30\x00", "trap",
                 ).as_dict()


def _polls(t: float, oper: str = "up", confirm: str | None = None) -> list[dict]:
    out = [poll(d, t) for d in ("hefei-fw1", "feidong-rtr1")]
    rtr = poll("hefei-rtr1", t, oper={"GE0/0/2": oper})
    if confirm:
        rtr["confirm"] = confirm
    return [*out, rtr]


def test_an_unconfirmed_trap_is_suspect_and_never_red(world) -> None:  # noqa: ANN001
    _, push, now_state = world
    t = time.time() - 100
    push(_polls(t))
    push(_polls(t + 10))
    st = now_state()
    assert st["interfaces"][IF]["state"] == "up" and "suspect" not in st["interfaces"][IF]
    push(events=[_link_down(t + 15)])
    st = now_state()
    assert st["interfaces"][IF]["state"] == "up"  # the trap alone changes nothing
    assert st["interfaces"][IF]["suspect"]["why"].startswith("trap link-down")
    assert st["links"]["hefei-feidong"]["state"] == "up"
    assert "suspect" in st["links"]["hefei-feidong"]
    push(_polls(t + 16, "up", confirm="trap link-down GE0/0/2"))  # the poll says it is up
    st = now_state()
    assert st["interfaces"][IF]["state"] == "up" and "suspect" not in st["interfaces"][IF]
    assert st["links"]["hefei-feidong"]["state"] == "up" and "suspect" not in st["links"]["hefei-feidong"]


def test_the_confirming_poll_changes_state_at_once(world) -> None:  # noqa: ANN001
    _, push, now_state = world
    t = time.time() - 100
    push(_polls(t))
    push(_polls(t + 10, "down"))  # one ordinary poll: hysteresis holds (two are needed)
    assert now_state()["interfaces"][IF]["state"] == "up"
    push(_polls(t + 20))
    push(events=[_link_down(t + 25)])
    push(_polls(t + 26, "down", confirm="trap link-down GE0/0/2"))  # second witness: at once
    st = now_state()
    assert st["interfaces"][IF]["state"] == "down" and "suspect" not in st["interfaces"][IF]
    assert st["links"]["hefei-feidong"]["state"] == "down"
    assert st["links"]["hefei-feidong"]["since"] == pytest.approx(t + 26)
    push(_polls(t + 30, "up", confirm="trap link-up GE0/0/2"))
    assert now_state()["links"]["hefei-feidong"]["state"] == "up"


def test_wall_shows_ticker_and_suspect(world) -> None:  # noqa: ANN001
    app, push, _ = world
    t = time.time() - 100
    push(_polls(t))
    push(events=[_link_down(t + 5), Event(t + 6, "10.0.0.1", "hefei-rtr1", "syslog", "", "info",
                                          "sshd: session opened", b"", "syslog").as_dict()])
    db = app_db(app)
    try:
        doc = walldata.build(db, None, small_inventory(), None, time.time())
        assert [e["kind"] for e in doc["ticker"]] == ["syslog", "link-down"]
        assert doc["suspects"] == [{"kind": "interface", "subject": IF, "since": pytest.approx(t + 5),
                                    "why": "trap link-down: Interface GE0/0/2 has turned into DOWN state."}]
        edge = next(e for e in doc["edges"] if "hefei-feidong" in [lk["id"] for lk in e["links"]])
        assert edge["suspect"] and edge["state"] == "up"
        # a county operator's wall shows no event of another county
        assert walldata.build(db, None, small_inventory(), ("anhui",), time.time())["ticker"] == []
        assert suspect.suspects(db, time.time() + suspect.WINDOW_S + 10) == {}  # history, not suspicion
    finally:
        db.conn.close()


def test_a_bad_event_refuses_the_batch_and_names_it(world) -> None:  # noqa: ANN001
    app, _, _ = world
    db = app_db(app)
    try:
        tok = make_token(db, "agent", "hefei")
    finally:
        db.conn.close()
    bad = {**_link_down(time.time()), "severity": "apocalyptic"}
    resp = app.test_client().post("/api/v1/ingest", headers=bearer(tok), json={
        "agent": "hefei", "epoch": "e1", "seq": 99, "samples": [], "events": [bad]})
    assert resp.status_code == 422
    assert resp.get_json()["error"].startswith("events[0].severity")
