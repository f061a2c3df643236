"""``nms init`` and ``nms doctor`` on a real data directory, real databases, real certificates."""

from __future__ import annotations

import datetime as dt
import os
import re
import sqlite3
import stat
import time

import pytest

from nms import clockskew, state
from nms.__main__ import main
from nms.config import Settings
from nms.db import connect
from nms.doctor import checks
from nms.localtls import issue, make_ca
from nms.refusals import ClockSkew
from tests.support.processes import write_inventory

AGENT = "chaohu"


@pytest.fixture
def deployment(tmp_path, monkeypatch):
    """Environment of a centre: data dir (not made yet), inventory, secrets file path."""
    inv = write_inventory(tmp_path / "inventory.yaml", site="chaohu", agent=AGENT, roles=("firewall",))
    env = {
        "NMS_DATA_DIR": str(tmp_path / "data"),
        "NMS_INVENTORY": str(inv),
        "NMS_SECRETS_FILE": str(tmp_path / "secrets.env"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("NMS_ADMIN_PASSWORD", raising=False)
    for var in ("NMS_SNMP_COMMUNITY", "NMS_SNMP_V3_AUTH", "NMS_SNMP_V3_PRIV"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def by_what(results) -> dict[str, tuple[str, str]]:
    return {c.what: (c.level, c.detail) for c in results}


def agent_heard_from() -> Settings:
    """The environment's settings, after one (empty) batch of the agent was stored."""
    settings = Settings()
    db = connect(settings, "centre")
    try:
        state.apply_batch(db, AGENT, 1, [], None)
    finally:
        db.conn.close()
    return settings


def test_init_makes_a_centre_once_and_never_overwrites(deployment, capsys):
    assert main(["init"]) == 0
    first = capsys.readouterr().out
    data, secrets = deployment / "data", deployment / "secrets.env"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    template = secrets.read_text()
    assert "# NMS_SNMP_COMMUNITY=" in template  # the inventory's variables, to fill in
    password = first.split("password (shown once): ")[1].split()[0]
    assert "administrator admin at anhui: created" in first
    assert password.encode() not in (data / "centre.db").read_bytes()  # stored hashed only
    secrets.write_text(template + "NMS_SNMP_COMMUNITY=filled-in\n")
    assert main(["init"]) == 0
    again = capsys.readouterr().out
    assert "secrets file" in again and "kept (not overwritten)" in again
    assert "administrator: kept" in again and "shown once" not in again
    assert "NMS_SNMP_COMMUNITY=filled-in" in secrets.read_text()
    db = connect(Settings(), "centre")
    assert db.execute("SELECT COUNT(*) FROM auth_users WHERE role = 'administrator'").fetchone()[0] == 1
    db.conn.close()


def test_init_takes_the_password_from_the_environment(deployment, monkeypatch, capsys):
    monkeypatch.setenv("NMS_ADMIN_PASSWORD", "a-long-test-password-42")
    assert main(["init", "--admin", "root-admin"]) == 0
    out = capsys.readouterr().out
    assert "root-admin" in out and "shown once" not in out and "a-long-test-password-42" not in out
    from nms.auth import users

    db = connect(Settings(), "centre")
    try:
        assert users.verify_password(db, "root-admin", "a-long-test-password-42") is not None
    finally:
        db.conn.close()


def test_doctor_on_a_good_centre_then_on_each_problem(deployment, capsys):
    assert main(["init"]) == 0
    secrets = deployment / "secrets.env"
    secrets.write_text("NMS_SNMP_COMMUNITY=c\nNMS_SNMP_V3_AUTH=a-key-1234\nNMS_SNMP_V3_PRIV=p-key-1234\n")
    ca = make_ca(deployment / "tls")
    good = issue(ca, deployment / "tls", "good")
    soon = issue(ca, deployment / "tls", "soon", valid_for=dt.timedelta(days=11))  # 10 days left
    old = issue(
        ca, deployment / "tls", "old", valid_from=dt.timedelta(days=-30), valid_for=dt.timedelta(days=29)
    )
    settings = agent_heard_from()
    capsys.readouterr()
    assert main(["doctor", "--tls", str(good.cert)]) == 0
    out = capsys.readouterr().out
    assert all(line.split()[0] in ("ok", "warn") for line in out.splitlines()[:-1]), out
    found = by_what(checks(settings, [good.cert, soon.cert, old.cert, deployment / "none.pem"]))
    assert found["inventory"][0] == "ok"
    assert found["database centre"][0] == found["database metrics"][0] == "ok"
    assert found["secrets file"][0] == "ok"
    assert found[f"agent {AGENT}"][0] == "ok" and found["clocks"][0] == "ok"
    assert found[f"TLS {good.cert}"][0] == "ok"
    assert found[f"TLS {soon.cert}"][0] == "warn" and "expires in 10 day" in found[f"TLS {soon.cert}"][1]
    assert found[f"TLS {old.cert}"][0] == "fail" and "expired" in found[f"TLS {old.cert}"][1]
    assert found[f"TLS {deployment / 'none.pem'}"][0] == "fail"
    later = by_what(checks(settings, [], now=time.time() + 3600))
    assert later[f"agent {AGENT}"] == ("warn", "silent for 60 min")

    # Break things one at a time; each is named.
    db = connect(settings, "centre")
    try:
        batch = [{"ts": time.time() + 600}]
        clockskew.record(db, AGENT, 2, ClockSkew([0], batch, time.time(), 120.0), time.time())
    finally:
        db.conn.close()
    os.chmod(secrets, 0o644)
    os.chmod(deployment / "data", 0o755)
    inv = deployment / "inventory.yaml"
    inv.write_text(inv.read_text().replace("version: v2c", "version: v9", 1))
    conn = sqlite3.connect(deployment / "data" / "metrics.db")
    conn.execute("DROP TABLE ingest_batches")
    conn.close()
    found = by_what(checks(settings, []))
    level, detail = found["inventory"]
    assert level == "fail" and re.search(rf"{re.escape(str(inv))}:\d+: .*v9", detail), detail  # file:line
    assert found["secrets file"][0] == "fail" and "chmod 600" in found["secrets file"][1]
    assert found["data directory"][0] == "fail" and "chmod 700" in found["data directory"][1]
    assert found["database metrics"][0] == "fail" and "ingest_batches" in found["database metrics"][1]
    assert found["database centre"][0] == "ok"
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "fail" in out and out.strip().splitlines()[-1].endswith("warnings")


def test_doctor_on_nothing_says_run_init(deployment, capsys):
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "data directory" in out and "run `nms init`" in out
    assert not (deployment / "data").exists()  # the doctor only looks


@pytest.mark.pg
def test_doctor_on_a_postgresql_centre(deployment, monkeypatch, capsys, pg_url):
    """With NMS_DATABASE_URL the doctor checks the shared database: reachable, every step applied."""
    user, at = pg_url.removeprefix("postgresql://").split("@", 1)
    monkeypatch.setenv("NMS_DATABASE_URL", f"postgresql://{user}:doctor-pw-Zq8@{at}")  # trust auth ignores it
    empty = by_what(checks(Settings(), []))
    assert empty["database centre"][0] == "fail" and "not migrated" in empty["database centre"][1]
    assert main(["init"]) == 0
    assert not (deployment / "data" / "centre.db").exists()  # nothing of the database in the data dir
    settings = agent_heard_from()
    capsys.readouterr()
    main(["doctor"])
    out = capsys.readouterr().out
    assert "doctor-pw-Zq8" not in out  # the URL is shown without its password
    found = by_what(checks(settings, []))
    for name in ("centre", "metrics"):
        level, detail = found[f"database {name}"]
        assert level == "ok" and detail.startswith("postgresql://") and "reachable, migrated" in detail
    assert found[f"agent {AGENT}"][0] == "ok"  # read from the shared database too

    db = connect(settings, "centre")  # a step the database lacks is named
    try:
        db.execute("UPDATE schema_versions SET version = 1 WHERE db = 'centre' AND component = 'auth'")
    finally:
        db.conn.close()
    level, detail = by_what(checks(settings, []))["database centre"]
    assert level == "fail" and "auth v2" in detail and "doctor-pw-Zq8" not in detail

    from tests.support.ports import free_port

    monkeypatch.setenv("NMS_DATABASE_URL", f"postgresql://nobody:doctor-pw-Zq8@127.0.0.1:{free_port()}/nms")
    started = time.monotonic()
    level, detail = by_what(checks(Settings(), []))["database centre"]
    assert level == "fail" and "cannot reach" in detail and "doctor-pw-Zq8" not in detail
    assert time.monotonic() - started < 30
