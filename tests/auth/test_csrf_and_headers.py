"""CSRF on every cookie-authenticated change; cookies and headers; the secret key file."""

from __future__ import annotations

import secrets
import stat
from pathlib import Path

import pytest
import sqlite_utils
from flask import Flask

from nms.auth import users
from tests.auth.helpers import (
    PROVINCE,
    TEST_PASSWORD,
    app_db,
    bearer,
    login,
    make_app,
    make_token,
    make_user,
)


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


def test_security_headers_and_cookie_flags(tmp_path: Path, database_url: str) -> None:
    app = make_app(tmp_path, insecure_cookies=False, database_url=database_url)
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
    """On SQLite files the key is a file of the data directory."""
    first = make_app(tmp_path)
    key = tmp_path / "var" / "secret_key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(key.read_bytes()) >= 32
    second = make_app(tmp_path)
    assert first.secret_key == second.secret_key == key.read_bytes()


@pytest.mark.pg
def test_centres_on_one_database_share_the_key_and_adopt_an_old_key_file(tmp_path: Path, pg_url: str) -> None:
    """On PostgreSQL the key lives in the database: every centre signs the same sessions."""
    old = secrets.token_bytes(48)  # the key file of a centre that ran on SQLite before
    (tmp_path / "a" / "var").mkdir(parents=True)
    (tmp_path / "a" / "var" / "secret_key").write_bytes(old)
    a = make_app(tmp_path / "a", database_url=pg_url)
    b = make_app(tmp_path / "b", database_url=pg_url)  # another data dir, no key file
    assert a.secret_key == b.secret_key == old
    assert not (tmp_path / "b" / "var" / "secret_key").exists()  # nothing kept outside the database
    db = app_db(a)
    try:
        make_user(db, "root", "administrator", PROVINCE)
        on_a = login(a.test_client(), "root")
        on_b = b.test_client()
        on_b.set_cookie("nms_session", on_a.get_cookie("nms_session").value)  # type: ignore[union-attr]
        assert on_b.get("/api/v1/whoami").json["principal"]["name"] == "root"
        form = {"name": "x1", "role": "viewer", "site": PROVINCE}
        assert on_b.post("/admin/users", data=form, csrf=False).status_code == 400  # CSRF still checked
        assert on_b.post("/admin/users", data=form).status_code == 201  # A's CSRF token, accepted by B
        assert users.get(db, "x1") is not None
    finally:
        db.close()
