"""One database handle per request, tables made once at start, one transaction helper."""

from __future__ import annotations

import sqlite3

import pytest

from nms import db as nms_db
from nms.db import connect, request_db, transaction
from nms.schema import migrate
from tests.auth.helpers import PROVINCE, app_db, bearer, make_app, make_token, make_user, tiny_inventory

CENTRE_TABLES = {"auth_users", "auth_tokens", "audit_log", "state_current", "state_events", "state_sdh",
                 "alert_alerts", "alert_maint_modes", "maint_windows", "config_versions", "config_hostkeys",
                 "ipam_prefixes", "ingest_clock_skew", "event_log"}
METRICS_TABLES = {"ts_source", "ts_block", "ts_head", "ingest_batches"}


def test_app_creation_makes_every_table_of_both_databases(tmp_path) -> None:
    app = make_app(tmp_path)
    settings = app.config["NMS_SETTINGS"]
    for name, wanted in (("centre", CENTRE_TABLES), ("metrics", METRICS_TABLES)):
        db = connect(settings, name)
        assert wanted <= set(db.table_names()), (name, wanted - set(db.table_names()))
        db.conn.close()


def test_one_connection_per_request_shared_and_closed_at_teardown(tmp_path) -> None:
    app = make_app(tmp_path)
    with app.test_request_context("/"):
        centre = request_db()
        assert request_db("centre") is centre
        metrics = request_db("metrics")
        assert metrics is not centre and request_db("metrics") is metrics
        assert centre.execute("SELECT count(*) FROM auth_users").fetchone()[0] == 0
    with pytest.raises(sqlite3.ProgrammingError):
        centre.execute("SELECT 1")
    with pytest.raises(sqlite3.ProgrammingError):
        metrics.execute("SELECT 1")


def test_requests_make_no_tables(tmp_path, monkeypatch) -> None:
    app = make_app(tmp_path, tiny_inventory())
    db = app_db(app)
    make_user(db, "boss", "administrator", PROVINCE)
    headers = bearer(make_token(db, "user", "boss"))
    db.conn.close()
    statements: list[str] = []

    def traced(settings, name="centre", **kw):
        handle = connect(settings, name, **kw)
        handle.conn.set_trace_callback(statements.append)
        return handle

    monkeypatch.setattr(nms_db, "connect", traced)
    client = app.test_client()
    for url in ("/api/v1/alerts", "/api/v1/alerts/notifications", "/api/v1/configs/devices",
                "/api/v1/ipam/spaces", "/api/v1/ipam/prefixes", "/api/v1/state", "/api/v1/events",
                "/api/v1/series?device=hefei-rtr1", "/console/alerts"):
        assert client.get(url, headers=headers).status_code == 200, url
    assert statements, "the trace saw the requests' statements"
    ddl = [s for s in statements if s.lstrip().upper().startswith(("CREATE", "ALTER", "DROP"))]
    assert ddl == []


def test_transaction_commits_rolls_back_and_joins(tmp_path) -> None:
    app = make_app(tmp_path)
    db = connect(app.config["NMS_SETTINGS"], "centre")
    count = "SELECT count(*) FROM audit_log"
    with transaction(db):
        db.execute("INSERT INTO audit_log (ts, actor, action, target) VALUES (1, 'a', 'x', 't')")
        with transaction(db):  # joins: the inner block does not commit on its own
            db.execute("INSERT INTO audit_log (ts, actor, action, target) VALUES (2, 'a', 'x', 't')")
        assert db.conn.in_transaction
    assert not db.conn.in_transaction and db.execute(count).fetchone()[0] == 2
    with pytest.raises(RuntimeError), transaction(db):
        db.execute("INSERT INTO audit_log (ts, actor, action, target) VALUES (3, 'a', 'x', 't')")
        raise RuntimeError("half-way")
    assert not db.conn.in_transaction and db.execute(count).fetchone()[0] == 2
    db.conn.close()


def test_migrate_upgrades_an_old_database_and_is_idempotent(settings) -> None:
    old = connect(settings, "centre")
    old.execute(  # maintenance windows from before they could be ended early
        "CREATE TABLE maint_windows (id INTEGER PRIMARY KEY, subject_kind TEXT NOT NULL,"
        ' subject_id TEXT NOT NULL, subtree INTEGER NOT NULL DEFAULT 0, start REAL NOT NULL,'
        ' "end" REAL NOT NULL, rrule TEXT, until REAL, reason TEXT, created_by TEXT, created_ts REAL)'
    )
    old.execute('INSERT INTO maint_windows (subject_kind, subject_id, start, "end") VALUES (?, ?, 1, 2)',
                ("site", "hefei"))
    old.conn.close()
    migrate(settings)
    migrate(settings)
    db = connect(settings, "centre")
    assert "ended" in {r[1] for r in db.execute("PRAGMA table_info(maint_windows)")}
    assert db.execute("SELECT subject_id, ended FROM maint_windows").fetchall() == [("hefei", None)]
    assert CENTRE_TABLES <= set(db.table_names())
    db.conn.close()
