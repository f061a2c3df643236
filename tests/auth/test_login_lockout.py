"""Sign-in: lock-out after repeated failures (per user and per address), sessions ending."""

from __future__ import annotations

import sqlite_utils
from flask import Flask

from nms.auth import ratelimit, users
from tests.auth.helpers import COUNTY, PROVINCE, TEST_PASSWORD, login, make_user


class Clock:
    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _attempt(client, name: str, password: str):  # type: ignore[no-untyped-def]
    client.get("/login")
    return client.post("/login", data={"name": name, "password": password})


def test_five_failures_lock_the_account_for_15_minutes(app: Flask, db: sqlite_utils.Database) -> None:
    clock = Clock()
    app.config["NMS_CLOCK"] = clock
    make_user(db, "alice", "viewer", COUNTY)
    client = app.test_client()
    for _ in range(4):
        resp = _attempt(client, "alice", "wrong password!")
        assert resp.status_code == 401
        assert "Wrong user name or password" in resp.get_data(as_text=True)
    resp = _attempt(client, "alice", "wrong password!")
    assert resp.status_code == 429
    body = resp.get_data(as_text=True)
    assert "locked" in body and "15 minute" in body and "请 15 分钟后再试" in body
    # the right password does not help while locked
    resp = _attempt(client, "alice", TEST_PASSWORD)
    assert resp.status_code == 429
    assert client.get("/api/v1/whoami").json == {"principal": None}
    clock.t += 14 * 60
    assert _attempt(client, "alice", TEST_PASSWORD).status_code == 429
    clock.t += 61
    resp = _attempt(client, "alice", TEST_PASSWORD)
    assert resp.status_code == 302
    assert client.get("/api/v1/whoami").json["principal"]["name"] == "alice"
    # failures and the lock are in the audit log, never the password typed
    rows = list(db.query("SELECT action, reason FROM audit_log WHERE target = 'user:alice'"))
    assert sum(r["action"] == "login.failure" for r in rows) == 7
    assert any(r["reason"] == "locked out" for r in rows)
    dump = "\n".join(str(r) for r in db.query("SELECT * FROM audit_log"))
    assert "wrong password!" not in dump and TEST_PASSWORD not in dump


def test_unknown_users_count_too_and_address_lock(db: sqlite_utils.Database) -> None:
    now = 1_800_000_000.0
    for i in range(ratelimit.MAX_FAILURES_IP - 1):
        ratelimit.record_failure(db, f"guess{i}", "10.0.0.9", now=now + i)
    assert ratelimit.locked(db, "someone", "10.0.0.9", now=now + 30) is None
    ratelimit.record_failure(db, "guess-last", "10.0.0.9", now=now + 30)
    lock = ratelimit.locked(db, "someone", "10.0.0.9", now=now + 31)
    assert lock is not None and lock.key == "ip:10.0.0.9"
    assert ratelimit.locked(db, "someone", "10.0.0.10", now=now + 31) is None  # another address is fine
    # failures spread wider than the window do not add up to a lock
    for i in range(5):
        ratelimit.record_failure(db, "slow", None, now=now + i * 400)
    assert ratelimit.locked(db, "slow", None, now=now + 4 * 400 + 1) is None


def test_disable_and_password_reset_end_sessions(app: Flask, db: sqlite_utils.Database) -> None:
    make_user(db, "root", "administrator", PROVINCE)
    make_user(db, "bob", "operator", COUNTY)
    bob = login(app.test_client(), "bob")
    assert bob.get("/api/v1/whoami").json["principal"]["name"] == "bob"
    admin = login(app.test_client(), "root")
    assert admin.post("/admin/users/bob", data={"op": "disable"}).status_code == 200
    assert bob.get("/api/v1/whoami").json == {"principal": None}
    assert _attempt(app.test_client(), "bob", TEST_PASSWORD).status_code == 401
    admin.post("/admin/users/bob", data={"op": "enable"})
    bob = login(app.test_client(), "bob")
    resp = admin.post("/admin/users/bob", data={"op": "reset"})
    assert resp.status_code == 200
    assert bob.get("/api/v1/whoami").json == {"principal": None}
    assert _attempt(app.test_client(), "bob", TEST_PASSWORD).status_code == 401
    assert users.get(db, "bob").session_gen >= 2  # type: ignore[union-attr]


def test_logout_ends_the_session_server_side(app: Flask, db: sqlite_utils.Database) -> None:
    make_user(db, "carol", "viewer", COUNTY)
    client = login(app.test_client(), "carol")
    stolen = client.get_cookie("nms_session").value  # type: ignore[union-attr]
    assert client.post("/logout").status_code == 302
    thief = app.test_client()
    thief.set_cookie("nms_session", stolen)
    assert thief.get("/api/v1/whoami").json == {"principal": None}


def test_next_parameter_stays_on_site(app: Flask, db: sqlite_utils.Database) -> None:
    make_user(db, "dave", "viewer", COUNTY)
    client = app.test_client()
    client.get("/login")
    resp = client.post("/login", data={"name": "dave", "password": TEST_PASSWORD, "next": "//evil.example/x"})
    assert resp.headers["Location"] == "/"
    anon = app.test_client().get("/admin/audit?actor=x")
    assert anon.headers["Location"] == "/login?next=/admin/audit?actor%3Dx"


def test_next_rejects_whitespace_tricks(app: Flask, db: sqlite_utils.Database) -> None:
    make_user(db, "erin", "viewer", COUNTY)
    for bad in ("/\t/evil.example", "/\\evil.example", "https://evil.example/", "/ok\n"):
        client = app.test_client()
        client.get("/login")
        resp = client.post("/login", data={"name": "erin", "password": TEST_PASSWORD, "next": bad})
        assert resp.headers["Location"] == "/", bad
