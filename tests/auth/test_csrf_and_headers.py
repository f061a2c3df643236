"""CSRF on every cookie-authenticated change; cookies and headers; the secret key file."""

from __future__ import annotations

import stat
from pathlib import Path

import sqlite_utils
from flask import Flask

from nms.auth import users
from tests.auth.helpers import PROVINCE, TEST_PASSWORD, bearer, login, make_app, make_token, make_user


def _admin(app: Flask, db: sqlite_utils.Database):  # type: ignore[no-untyped-def]
    make_user(db, "root", "administrator", PROVINCE)
    return login(app.test_client(), "root")


def test_form_without_or_with_wrong_token_is_refused(app: Flask, db: sqlite_utils.Database) -> None:
    client = _admin(app, db)
    form = {"name": "mallory", "role": "administrator", "site": PROVINCE, "password": "x" * 16}
    resp = client.post("/admin/users", data=form, csrf=False)
    assert resp.status_code == 400
    assert "CSRF token missing or invalid" in resp.get_data(as_text=True)
    resp = client.post("/admin/users", data={**form, "csrf_token": "forged"}, csrf=False)
    assert resp.status_code == 400
    assert users.get(db, "mallory") is None
    resp = client.post("/admin/users", data={**form, "csrf_token": client.csrf_token()}, csrf=False)
    assert resp.status_code == 201
    assert users.get(db, "mallory") is not None


def test_header_token_accepted_and_login_form_needs_one(app: Flask, db: sqlite_utils.Database) -> None:
    client = _admin(app, db)
    resp = client.post(
        "/admin/tokens", data={"kind": "kiosk"}, headers={"X-CSRF-Token": client.csrf_token()}, csrf=False
    )
    assert resp.status_code == 201
    anon = app.test_client()
    resp = anon.post("/login", data={"name": "root", "password": TEST_PASSWORD}, csrf=False)
    assert resp.status_code == 400  # login CSRF: a forged sign-in into the attacker's account
    assert anon.get("/api/v1/whoami").json == {"principal": None}


def test_token_from_before_login_is_replaced(app: Flask, db: sqlite_utils.Database) -> None:
    make_user(db, "root", "administrator", PROVINCE)
    client = app.test_client()
    client.get("/login")
    before = client.csrf_token()
    login(client, "root")
    assert client.csrf_token() != before
    resp = client.post("/admin/tokens", data={"kind": "kiosk", "csrf_token": before}, csrf=False)
    assert resp.status_code == 400


def test_bearer_requests_are_exempt(app: Flask, db: sqlite_utils.Database) -> None:
    make_user(db, "root", "administrator", PROVINCE)
    raw = make_token(db, "user", "root")
    resp = app.test_client().post("/admin/tokens", data={"kind": "kiosk"}, headers=bearer(raw))
    assert resp.status_code == 201


def test_security_headers_and_cookie_flags(tmp_path: Path) -> None:
    app = make_app(tmp_path, insecure_cookies=False)
    resp = app.test_client().get("/login")
    h = resp.headers
    assert h["X-Frame-Options"] == "DENY"
    assert h["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in h["Content-Security-Policy"]
    assert "default-src 'self'" in h["Content-Security-Policy"]
    assert h["Referrer-Policy"] == "same-origin"
    cookie = h["Set-Cookie"]
    assert cookie.startswith("nms_session=")
    for flag in ("HttpOnly", "Secure", "SameSite=Lax"):
        assert flag in cookie, cookie
    assert "Expires" not in cookie  # a person's session ends with the browser


def test_secret_key_is_kept_private_and_stable(tmp_path: Path) -> None:
    first = make_app(tmp_path)
    key = tmp_path / "var" / "secret_key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(key.read_bytes()) >= 32
    second = make_app(tmp_path)
    assert first.secret_key == second.secret_key == key.read_bytes()
