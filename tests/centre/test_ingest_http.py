"""POST /api/v1/ingest through the real app and the accounts engineer's agent tokens."""

from __future__ import annotations

import pytest

from nms.schema import open_migrated
from tests.centre.helpers import T0, batch, poll, small_inventory

tokens = pytest.importorskip("nms.auth.tokens")


@pytest.fixture
def app(make_app):
    return make_app(small_inventory())


def agent_token(settings, name: str, kind: str = "agent") -> str:
    db = open_migrated(settings)
    try:
        _, raw = tokens.create(db, kind, name if kind == "agent" else None, actor="test")
    finally:
        db.conn.close()
    return raw


def post(client, token, body):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/api/v1/ingest", json=body, headers=headers)


def head_rows(settings) -> int:
    db = open_migrated(settings, "metrics")
    try:
        return db.execute("SELECT count(*) FROM ts_head").fetchone()[0]
    finally:
        db.conn.close()


def test_ingest_accepts_then_reports_duplicate(app, settings):
    raw = agent_token(settings, "hefei")
    client = app.test_client()
    body = batch("hefei", 1, [poll("hefei-rtr1", T0), poll("feidong-rtr1", T0)])
    r = post(client, raw, body)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json() == {"accepted": 2, "duplicate": False}
    r = post(client, raw, body)
    assert r.status_code == 200
    assert r.get_json() == {"accepted": 0, "duplicate": True}
    assert head_rows(settings) == 5


def test_body_agent_must_be_token_agent(app, settings):
    raw = agent_token(settings, "hefei")
    r = post(app.test_client(), raw, batch("prov", 1, [poll("prov-rtr1", T0)]))
    assert r.status_code == 403
    assert "agent" in r.get_json()["error"]
    assert head_rows(settings) == 0


def test_malformed_names_field_and_stores_nothing(app, settings):
    raw = agent_token(settings, "hefei")
    body = batch("hefei", 1, [poll("hefei-rtr1", T0), poll("feidong-rtr1", T0)])
    body["samples"][1]["interfaces"][0]["in_octets"] = "lots"
    r = post(app.test_client(), raw, body)
    assert r.status_code == 422
    assert r.get_json()["error"].startswith("samples[1].interfaces[0].in_octets")
    r = app.test_client().post(
        "/api/v1/ingest",
        data=b"{not json",
        headers={"Authorization": f"Bearer {raw}", "Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert head_rows(settings) == 0


def test_no_token_or_non_agent_token_refused(app, settings):
    body = batch("hefei", 1, [poll("hefei-rtr1", T0)])
    assert post(app.test_client(), None, body).status_code == 401
    assert post(app.test_client(), "nms_bogus", body).status_code == 401
    kiosk = agent_token(settings, "", kind="kiosk")
    assert post(app.test_client(), kiosk, body).status_code == 403
    assert head_rows(settings) == 0


def test_gzip_body_accepted(app, settings):
    import gzip
    import json

    raw = agent_token(settings, "hefei")
    body = batch("hefei", 9, [poll("hefei-rtr1", T0)])
    headers = {
        "Authorization": f"Bearer {raw}",
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
    }
    r = app.test_client().post(
        "/api/v1/ingest", data=gzip.compress(json.dumps(body).encode()), headers=headers
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json() == {"accepted": 1, "duplicate": False}
    r = app.test_client().post("/api/v1/ingest", data=b"not gzip", headers=headers)
    assert r.status_code == 400 and "gzip" in r.get_json()["error"]
    assert head_rows(settings) == 3


def test_sample_ahead_of_the_centre_clock_refused_whole(app, settings):
    import time

    settings.ingest_max_future_skew_s = 30
    raw = agent_token(settings, "hefei")
    now = time.time()
    ahead = round(now + 3600)
    body = batch("hefei", 5, [poll("hefei-rtr1", now - 10), poll("feidong-rtr1", ahead)])
    r = post(app.test_client(), raw, body)
    assert r.status_code == 422, r.get_data(as_text=True)
    answer = r.get_json()
    assert answer["error"].startswith(f"samples[1].ts: {ahead} is ")
    assert "at most 30 s ahead" in answer["error"] and "centre's clock" in answer["error"]
    skew = answer["clock_skew"]
    assert skew["samples"] == [1] and skew["max_skew_s"] == 30 and skew["sample_ts"] == ahead
    assert abs(skew["centre_ts"] - now) < 60 and 3500 < skew["ahead_s"] < 3601
    assert head_rows(settings) == 0  # the good sample of the batch is not stored either
    db = open_migrated(settings, "centre")
    try:
        (agent, seq, refusals), = db.execute("SELECT agent, seq, refusals FROM ingest_clock_skew").fetchall()
        applied = db.execute("SELECT count(*) FROM state_applied").fetchone()[0]
    finally:
        db.conn.close()
    assert (agent, seq, refusals, applied) == ("hefei", 5, 1, 0)
