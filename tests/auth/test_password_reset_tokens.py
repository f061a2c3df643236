"""A password reset (by an administrator or the user's own change) revokes the user's API tokens."""

from __future__ import annotations

import json

import sqlite_utils
from flask import Flask

from nms import audit
from nms.auth import tokens
from tests.auth.helpers import COUNTY, PROVINCE, TEST_PASSWORD, bearer, login, make_token, make_user


def whoami(app: Flask, raw: str) -> str | None:
    """The principal a bearer token acts as; None when the token is refused (401)."""
    resp = app.test_client().get("/api/v1/whoami", headers=bearer(raw))
    if resp.status_code == 401:
        return None
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.json["principal"]["name"]


def test_admin_reset_revokes_the_users_tokens(app: Flask, db: sqlite_utils.Database) -> None:
    make_user(db, "root", "administrator", PROVINCE)
    make_user(db, "bob", "operator", COUNTY)
    make_user(db, "eve", "operator", COUNTY)
    bobs = [make_token(db, "user", "bob") for _ in range(2)]
    eves = make_token(db, "user", "eve")
    kiosk = make_token(db, "kiosk")
    assert whoami(app, bobs[0]) == "bob"
    admin = login(app.test_client(), "root")
    assert admin.post("/admin/users/bob", data={"op": "reset"}).status_code == 200
    assert [whoami(app, raw) for raw in bobs] == [None, None]
    assert whoami(app, eves) == "eve"  # nobody else's tokens
    assert whoami(app, kiosk) is not None
    revoked = [t for t in tokens.list_tokens(db) if t.revoked_ts is not None]
    assert {t.subject for t in revoked} == {"bob"} and len(revoked) == 2
    entries = audit.query(db, action="token.revoke")
    assert len(entries) == 2 and {e["actor"] for e in entries} == {"root"}
    assert all("password of bob replaced" in (e["reason"] or "") for e in entries)
    (pw,) = audit.query(db, action="user.password", target="user:bob")
    assert json.loads(pw["after"])["tokens_revoked"] == sorted(t.id for t in revoked)


def test_own_password_change_revokes_own_tokens(app: Flask, db: sqlite_utils.Database) -> None:
    make_user(db, "sun", "viewer", COUNTY)
    raw = make_token(db, "user", "sun")
    client = login(app.test_client(), "sun")
    new = "a-brand-new-password"
    resp = client.post("/account/password", data={"current": TEST_PASSWORD, "new": new, "confirm": new})
    assert resp.status_code == 200
    assert whoami(app, raw) is None
    (entry,) = audit.query(db, action="token.revoke")
    assert entry["actor"] == "sun"
