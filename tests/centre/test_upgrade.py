"""A centre made by the last release upgrades in place with nothing lost, and moves to PostgreSQL.

The fixture (tests/fixtures/release-576817c/*.sql) was made by release 576817c's own code
(scripts/release_fixture.py): accounts, tokens, audit, IPAM, state, alerts, configs,
portals, events, time series.  Each test loads it into fresh SQLite files, runs today's
``nms migrate`` (the real command), and compares every table's rows on the columns the
release had.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ipam import store as ipam_store
from nms import dbcopy, doctor, schema
from nms.auth import users
from nms.config import Settings
from nms.db import DATABASES, connect

ROOT = Path(__file__).resolve().parents[2]
RELEASE = ROOT / "tests" / "fixtures" / "release-576817c"


def nms(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nms", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
    )


def load_release(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    for name in DATABASES:
        conn = sqlite3.connect(data_dir / f"{name}.db")
        conn.executescript((RELEASE / f"{name}.sql").read_text(encoding="utf-8"))
        conn.close()


def _norm(v: Any) -> Any:
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, memoryview):
        return bytes(v)
    return v


def rows(db: Any, table: str, columns: list[str]) -> list[tuple]:
    names = ", ".join(f'"{c}"' for c in columns)
    return sorted(
        (tuple(_norm(v) for v in r) for r in db.execute(f'SELECT {names} FROM "{table}"').fetchall()),
        key=repr,
    )


def snapshot(path: Path) -> dict[str, tuple[list[str], list[tuple]]]:
    """Every table of a SQLite file: its columns and its rows."""
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        out = {}
        for t in tables:
            cols = [r[1] for r in conn.execute(f'PRAGMA table_info("{t}")')]
            out[t] = (cols, rows(conn, t, cols))
        return out
    finally:
        conn.close()


@pytest.fixture
def release(tmp_path: Path) -> Settings:
    """The release's databases, not yet upgraded, in a data directory of the test's own."""
    settings = Settings(
        data_dir=tmp_path / "var", inventory_path=ROOT / "inventory.yaml", testing=True, database_url=""
    )
    load_release(settings.data_dir)
    return settings


@pytest.fixture
def upgraded(release: Settings) -> Settings:
    done = nms("migrate", env={"NMS_DATA_DIR": str(release.data_dir), "NMS_DATABASE_URL": ""})
    assert done.returncode == 0, done.stderr
    return release


def test_fixture_is_the_release_and_rich() -> None:
    """The dumps hold real data of every kind the upgrade must keep (and no schema_versions yet)."""
    sql = (RELEASE / "centre.sql").read_text(encoding="utf-8")
    assert "schema_versions" not in sql
    for table in (
        "auth_users",
        "auth_tokens",
        "audit_log",
        "ipam_prefixes",
        "ipam_spaces",
        "alert_alerts",
        "state_current",
        "state_events",
        "config_versions",
        "portal_checks",
        "event_log",
    ):
        assert f"INSERT INTO {table} VALUES" in sql, table
    assert "INSERT INTO ts_head VALUES" in (RELEASE / "metrics.sql").read_text(encoding="utf-8")


def test_release_upgrades_in_place_with_nothing_lost(release: Settings) -> None:
    before = {name: snapshot(release.data_dir / f"{name}.db") for name in DATABASES}
    check = nms("migrate", "--check", env={"NMS_DATA_DIR": str(release.data_dir), "NMS_DATABASE_URL": ""})
    assert check.returncode == 1 and "pending: centre audit -> v1" in check.stdout
    assert snapshot(release.data_dir / "centre.db") == before["centre"]  # --check changed nothing

    done = nms("migrate", env={"NMS_DATA_DIR": str(release.data_dir), "NMS_DATABASE_URL": ""})
    assert done.returncode == 0, done.stderr
    assert "centre audit -> v1" in done.stdout and "metrics pipeline -> v1" in done.stdout

    for name in DATABASES:
        db = connect(release, name)
        try:
            have = set(db.table_names())
            for table, (cols, old_rows) in before[name].items():
                assert table in have, f"{name}.db lost table {table}"
                assert set(cols) <= set(db.columns(table)), f"{table} lost columns"
                assert rows(db, table, cols) == old_rows, f"{name}.db {table}: rows differ after the upgrade"
            assert schema.versions(db, name) == {c.name: c.version for c in schema.COMPONENTS[name]}
            assert schema.pending(db, name) == []
        finally:
            db.close()
        assert doctor.check_database(release, name).level == "ok"
    assert schema.migrate(release) == []  # a second upgrade applies nothing
    again = nms("migrate", "--check", env={"NMS_DATA_DIR": str(release.data_dir), "NMS_DATABASE_URL": ""})
    assert again.returncode == 0 and "up to date" in again.stdout


def test_serve_start_upgrades_and_the_release_accounts_sign_in(release: Settings) -> None:
    """The app ``nms serve`` runs migrates at start; a password hashed by the release still works."""
    from nms.server import create_app
    from tests.auth.helpers import login

    app = create_app(release)
    db = connect(release)
    try:
        assert schema.pending(db, "centre") == []
    finally:
        db.close()
    client = login(app.test_client(), "viewer", "Fixture-pass-0002")
    page = client.get("/ipam/")
    assert page.status_code == 200 and "10.0.0.0" in page.get_data(as_text=True)


def test_copy_refuses_a_source_not_yet_upgraded(release: Settings, tmp_path: Path) -> None:
    done = nms(
        "db",
        "copy",
        "--to",
        "postgresql://nobody@127.0.0.1:1/none",
        env={"NMS_DATA_DIR": str(release.data_dir), "NMS_DATABASE_URL": ""},
    )
    assert done.returncode == 1
    assert "not at today's schema" in done.stderr and "nms migrate" in done.stderr


def test_copy_fits_sqlite_values_to_postgresql_types_or_names_the_column() -> None:
    to_int = dbcopy._converter("bigint", "ts_head", "ts")
    assert to_int(1764000000.0) == 1764000000 and isinstance(to_int(1764000000.0), int)
    with pytest.raises(dbcopy.CopyError, match=r"ts_head.ts: 1.5 in an integer column"):
        to_int(1.5)
    assert dbcopy._converter("bytea", "t", "c")("abc") == b"abc"
    assert dbcopy._converter("text", "t", "c")(42) == "42"
    with pytest.raises(dbcopy.CopyError, match="t.c: bytes in a text column"):
        dbcopy._converter("text", "t", "c")(b"x")
    assert dbcopy._converter("double precision", "t", "c") is None  # ints are fine there


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.pg
def test_upgraded_release_copies_to_postgresql(upgraded: Settings, pg_url: str) -> None:
    files = {n: _sha(upgraded.data_dir / f"{n}.db") for n in DATABASES}
    env = {"NMS_DATA_DIR": str(upgraded.data_dir), "NMS_DATABASE_URL": ""}
    done = nms("db", "copy", "--to", pg_url, "--batch", "7", env=env)
    assert done.returncode == 0, done.stderr
    assert "centre auth_users: 3 rows" in done.stdout and "copied and verified" in done.stdout
    assert {n: _sha(upgraded.data_dir / f"{n}.db") for n in DATABASES} == files  # the source is untouched

    pg = Settings(
        data_dir=upgraded.data_dir, inventory_path=upgraded.inventory_path, testing=True, database_url=pg_url
    )
    for name in DATABASES:
        src, dst = connect(upgraded, name), connect(pg, name)
        try:
            for table in src.table_names():
                if table == "schema_versions":
                    continue
                cols = src.columns(table)
                assert rows(dst, table, cols) == rows(src, table, cols), f"{table} differs on PostgreSQL"
            assert schema.versions(dst, name) == schema.versions(src, name)
        finally:
            src.close()
            dst.close()

    # The app's own functions see the same accounts and address plan on the copy ...
    sq, pq = connect(upgraded), connect(pg)
    try:
        assert [(u.name, u.role, u.site) for u in users.list_users(pq)] == [
            (u.name, u.role, u.site) for u in users.list_users(sq)
        ]
        assert ipam_store.query(pq, None) == ipam_store.query(sq, None)
        # ... and new rows get ids after the copied ones (every identity sequence was moved on).
        identities = pq.execute(
            """SELECT table_name, column_name FROM information_schema.columns
               WHERE table_schema = current_schema() AND is_identity = 'YES'"""
        ).fetchall()
        assert ("auth_users", "id") in identities
        for table, column in identities:
            top = pq.execute(f'SELECT max("{column}") FROM "{table}"').fetchone()[0]
            new = pq.execute(f"SELECT nextval(pg_get_serial_sequence('{table}', '{column}'))").fetchone()[0]
            assert top is None or new > top, f"{table}.{column}: next id {new} collides with copied {top}"
    finally:
        sq.close()
        pq.close()

    again = nms("db", "copy", "--to", pg_url, env=env)  # the target is no longer empty
    assert again.returncode == 1 and "not empty" in again.stderr and "audit_log" in again.stderr
