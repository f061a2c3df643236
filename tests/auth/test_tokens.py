"""Tokens: stored hashed, revocable, expiring; agents only ingest; the kiosk only reads."""

from __future__ import annotations

import hashlib

import sqlite_utils
from flask import Flask

from nms.auth import tokens
from tests.auth.helpers import COUNTY, PROVINCE, bearer, login, make_token, make_user

T0 = 1_800_000_000.0


def test_stored_as_hash_only(db: sqlite_utils.Database) -> None:
    token, raw = tokens.create(db, "agent", "hefei", actor="t")
    assert raw.startswith("nms_") and len(raw) > 40
    row = next(db.query("SELECT * FROM auth_tokens WHERE id = ?", [token.id]))
    assert row["token_hash"] == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in str(row)
    assert tokens.verify(db, raw) is not None
    assert tokens.verify(db, raw[:-1] + ("A" if raw[-1] != "A" else "B")) is None


def test_expiry_with_a_fake_clock(db: sqlite_utils.Database) -> None:
    _token, raw = tokens.create(db, "kiosk", actor="t", expires_days=2, now=T0)
    assert tokens.verify(db, raw, now=T0 + 2 * 86400 - 1) is not None
    assert tokens.verify(db, raw, now=T0 + 2 * 86400) is None


def test_expired_token_refused_by_the_app(app: Flask, db: sqlite_utils.Database) -> None:
    clock = {"t": T0}
    app.config["NMS_CLOCK"] = lambda: clock["t"]
    make_user(db, "ops", "operator", PROVINCE)
    raw = make_token(db, "user", "ops", expires_days=1, now=T0)
    client = app.test_client()
    assert client.get("/api/v1/whoami", headers=bearer(raw)).json["principal"]["name"] == "ops"
    clock["t"] = T0 + 86400 + 1
    resp = client.get("/api/v1/whoami", headers=bearer(raw))
    assert resp.status_code == 401
    assert resp.json == {"error": "invalid, expired or revoked token"}


def test_revocation_takes_effect_at_once(app: Flask, db: sqlite_utils.Database) -> None:
    make_user(db, "root", "administrator", PROVINCE)
    raw = make_token(db, "user", "root")
    token = tokens.verify(db, raw)
    assert token is not None
    client = app.test_client()
    assert client.get("/admin/audit", headers=bearer(raw)).status_code == 200
    admin = login(app.test_client(), "root")
    assert admin.post(f"/admin/tokens/{token.id}/revoke").status_code == 200
    assert client.get("/admin/audit", headers=bearer(raw)).status_code == 401
    assert tokens.get(db, token.id).revoked_ts is not None  # type: ignore[union-attr]
    entry = next(db.query("SELECT * FROM audit_log WHERE action = 'token.revoke'"))
    assert entry["actor"] == "root" and entry["target"] == f"token:{token.id}"


def test_user_token_follows_its_user(app: Flask, db: sqlite_utils.Database) -> None:
    make_user(db, "root", "administrator", PROVINCE)
    make_user(db, "cnty", "county_admin", COUNTY)
    raw = make_token(db, "user", "cnty")
    client = app.test_client()
    assert client.get("/api/v1/whoami", headers=bearer(raw)).json["principal"]["scope"] == [COUNTY]
    admin = login(app.test_client(), "root")
    admin.post("/admin/users/cnty", data={"op": "disable"})
    assert client.get("/api/v1/whoami", headers=bearer(raw)).status_code == 401


def test_agent_token_only_ingests(app: Flask, db: sqlite_utils.Database) -> None:
    raw = make_token(db, "agent", "hefei")
    client = app.test_client()
    for path in ("/admin/users", "/admin/audit", "/api/v1/whoami"):
        resp = client.get(path, headers=bearer(raw))
        if path == "/api/v1/whoami":
            assert resp.json["principal"]["permissions"] == ["ingest.write"]
        else:
            assert resp.status_code == 403
    assert (
        client.post("/admin/tokens", data={"kind": "agent", "subject": "x"}, headers=bearer(raw)).status_code
        == 403
    )
    assert client.get("/login", headers={"Authorization": "Basic abc"}).status_code == 401


def test_kiosk_cannot_change_anything(app: Flask, db: sqlite_utils.Database) -> None:
    raw = make_token(db, "kiosk")
    client = app.test_client()
    resp = client.get(f"/api/v1/whoami?kiosk={raw}&x=1")
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/api/v1/whoami?x=1"  # the token leaves the address bar
    cookie = resp.headers["Set-Cookie"]
    assert "Expires=" in cookie and "HttpOnly" in cookie  # a permanent kiosk session
    who = client.get("/api/v1/whoami").json["principal"]
    assert who["kind"] == "kiosk"
    assert set(who["permissions"]) == {"status.read", "metrics.read", "alerts.read"}
    # every change is refused, with its CSRF token and without, by cookie or bearer
    for path in ("/logout", "/admin/tokens", "/login", "/api/v1/ingest", "/account/password"):
        assert client.post(path, data={"kind": "kiosk"}).status_code == 403, path
        assert client.post(path, headers=bearer(raw), json={}).status_code == 403, path
    assert client.get("/admin/users").status_code == 403
    assert list(db.query("SELECT count(*) AS n FROM auth_tokens"))[0]["n"] == 1
    # revoking the token ends the kiosk session
    tokens.revoke(db, 1, actor="t")
    assert client.get("/api/v1/whoami").json == {"principal": None}


def test_bad_kiosk_token_and_wrong_kind(app: Flask, db: sqlite_utils.Database) -> None:
    agent = make_token(db, "agent", "hefei")
    client = app.test_client()
    assert client.get(f"/login?kiosk={agent}").status_code == 401
    assert client.get("/login?kiosk=nms_nonsense").status_code == 401


def test_bad_input_named(db: sqlite_utils.Database) -> None:
    import pytest

    with pytest.raises(tokens.TokenError, match="kind 'root'"):
        tokens.create(db, "root", actor="t")
    with pytest.raises(tokens.TokenError, match="no user 'ghost'"):
        tokens.create(db, "user", "ghost", actor="t")
    with pytest.raises(tokens.TokenError, match="positive number of days"):
        tokens.create(db, "kiosk", actor="t", expires_days=0)
    with pytest.raises(tokens.TokenError, match="no token with id 99"):
        tokens.revoke(db, 99, actor="t")
    assert list(db.query("SELECT count(*) AS n FROM auth_tokens"))[0]["n"] == 0
