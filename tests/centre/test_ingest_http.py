"""POST /api/v1/ingest through the real app and the accounts engineer's agent tokens."""

from __future__ import annotations

import pytest

from nms.db import connect
from nms.store import ensure_schema
from tests.centre.helpers import T0, batch, poll, small_inventory

tokens = pytest.importorskip("nms.auth.tokens")


@pytest.fixture
def app(make_app):
    return make_app(small_inventory())


def agent_token(settings, name: str, kind: str = "agent") -> str:
    db = connect(settings, "centre")
    try:
        _, raw = tokens.create(db, kind, name if kind == "agent" else None, actor="test")
    finally:
        db.conn.close()
    return raw


def post(client, token, body):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/api/v1/ingest", json=body, headers=headers)


def head_rows(settings) -> int:
    db = connect(settings, "metrics")
    try:
        ensure_schema(db)
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
