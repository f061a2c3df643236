"""The centre's event log: stored once per (agent, epoch, seq, index), searched and exported
over real HTTP to the app, county scope enforced on the server, retention."""

from __future__ import annotations

import csv
import io
import time

import pytest

from nms.config import ROOT
from nms.events import store
from probes.common.inventory import load_inventory
from probes.events.model import Event
from tests.auth.helpers import app_db, bearer, make_app, make_token, make_user

FEIDONG = "feidong-int-rtr1"  # hefei-feidong
LUJIANG = "lujiang-int-rtr1"  # chaohu-lujiang
NOW = time.time()


def _ev(device: str | None, kind: str, t: float, text: str = "", severity: str = "major",
        subject: str = "Pos1/0/0", origin: str = "trap") -> dict:
    return Event(t, "127.34.0.9", device, kind, subject, severity, text or f"{kind} on {device}",  # type: ignore[arg-type]
                 b"\x30\x03\x02\x01\x01", origin).as_dict()  # type: ignore[arg-type]


BATCH = [
    _ev(FEIDONG, "link-down", NOW - 60, "Interface Pos1/0/0 has turned into DOWN state."),
    _ev(FEIDONG, "link-up", NOW - 30, severity="info"),
    _ev(LUJIANG, "link-down", NOW - 50, "=HYPERLINK(\"x\") MARK-lujiang"),
    _ev(LUJIANG, "auth-failure", NOW - 40, severity="warning", subject=""),
    _ev(None, "unknown-source", NOW - 20, "from a source not in the inventory", severity="warning",
        origin="syslog"),
]


@pytest.fixture
def world(tmp_path, database_url: str):  # noqa: ANN001, ANN201
    app = make_app(tmp_path, database_url=database_url)
    inv = load_inventory(ROOT / "inventory.yaml")
    site_of = {d.name: d.site for d in inv.devices.values()}
    db = app_db(app)
    try:
        assert store.store(db, "hefei", "e1", 7, BATCH, site_of, NOW) == len(BATCH)
        make_user(db, "county", "county_admin", "hefei-feidong")
        make_user(db, "prov", "operator", "anhui")
        tokens = {who: make_token(db, "user", who) for who in ("county", "prov")}
    finally:
        db.conn.close()
    return app, site_of, tokens


def _get(world, who: str, path: str):  # noqa: ANN001, ANN202
    app, _, tokens = world
    return app.test_client().get(path, headers=bearer(tokens[who]))


def test_store_is_idempotent_and_all_or_nothing(world) -> None:  # noqa: ANN001
    app, site_of, _ = world
    db = app_db(app)
    try:
        assert store.store(db, "hefei", "e1", 7, BATCH, site_of, NOW) == 0  # the same batch again
        assert store.store(db, "hefei", "e2", 7, BATCH[:1], site_of, NOW) == 1  # a new epoch is new
        bad = [BATCH[0], {**BATCH[1], "severity": "apocalyptic"}, {**BATCH[2], "raw": "zz"}]
        with pytest.raises(store.BadEvents) as exc:
            store.store(db, "hefei", "e1", 8, bad, site_of, NOW)
        assert exc.value.errors[0].startswith("events[1].severity:")
        assert exc.value.errors[1] == "events[2].raw: not hexadecimal"
        rows = db.execute("SELECT agent, epoch, seq, count(*) FROM event_log GROUP BY 1, 2, 3").fetchall()
        assert sorted(rows) == [("hefei", "e1", 7, len(BATCH)), ("hefei", "e2", 7, 1)]
        db.execute("DELETE FROM event_log WHERE epoch = 'e2'")
    finally:
        db.conn.close()


def test_county_admin_sees_only_its_county(world) -> None:  # noqa: ANN001
    resp = _get(world, "county", "/api/v1/eventlog")
    assert resp.status_code == 200
    body = resp.get_json()
    assert {e["device"] for e in body["events"]} == {FEIDONG} and body["total"] == 2
    assert "lujiang" not in resp.get_data(as_text=True)
    # naming a foreign site or device finds nothing rather than leaking it
    assert _get(world, "county", "/api/v1/eventlog?site=chaohu-lujiang").get_json()["total"] == 0
    assert _get(world, "county", f"/api/v1/eventlog?device={LUJIANG}").get_json()["events"] == []
    csv_text = _get(world, "county", "/api/v1/eventlog.csv").get_data(as_text=True)
    assert "lujiang" not in csv_text and FEIDONG in csv_text and "unknown-source" not in csv_text


def test_province_sees_all_and_filters(world) -> None:  # noqa: ANN001
    body = _get(world, "prov", "/api/v1/eventlog").get_json()
    assert body["total"] == len(BATCH)
    assert [e["ts"] for e in body["events"]] == sorted((e["time"] for e in BATCH), reverse=True)

    def devices(query: str) -> list:
        resp = _get(world, "prov", "/api/v1/eventlog?" + query)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return [e["device"] for e in resp.get_json()["events"]]

    assert devices("site=chaohu") == [LUJIANG, LUJIANG]
    assert devices(f"device={FEIDONG}&kind=link-down") == [FEIDONG]
    assert devices("kind=link-down,auth-failure&severity=warning") == [LUJIANG]
    assert devices(f"from={NOW - 45}&to={NOW - 25}") == [FEIDONG, LUJIANG]
    assert devices("q=turned into DOWN") == [FEIDONG]
    assert devices("q=100%") == []  # LIKE wildcards are literal
    assert devices("origin=syslog") == [None]
    page = _get(world, "prov", "/api/v1/eventlog?limit=2&offset=2").get_json()
    assert page["total"] == len(BATCH)
    assert [e["kind"] for e in page["events"]] == ["auth-failure", "link-down"]


def test_bad_filters_are_named(world) -> None:  # noqa: ANN001
    for query, word in (("severity=fatal", "severity"), ("site=atlantis", "site"), ("from=yesterday", "from"),
                        ("limit=5000", "limit"), ("origin=pigeon", "origin")):
        resp = _get(world, "prov", "/api/v1/eventlog?" + query)
        assert resp.status_code == 400 and resp.get_json()["error"].startswith(word), query


def test_csv_export(world) -> None:  # noqa: ANN001
    resp = _get(world, "prov", "/api/v1/eventlog.csv?site=chaohu")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert [r["kind"] for r in rows] == ["auth-failure", "link-down"]
    assert rows[1]["text"].startswith("'=HYPERLINK")  # a formula is not a formula in a spreadsheet
    assert rows[1]["site"] == "chaohu-lujiang" and rows[1]["time_utc"].endswith("+00:00")


def test_anonymous_is_refused(world) -> None:  # noqa: ANN001
    app, _, _ = world
    for path in ("/api/v1/eventlog", "/api/v1/eventlog.csv"):
        assert app.test_client().get(path).status_code in (401, 302)


def test_retention(tmp_path, database_url: str) -> None:  # noqa: ANN001
    app = make_app(tmp_path, database_url=database_url)
    db = app_db(app)
    try:
        now = time.time()
        old = [_ev(FEIDONG, "link-down", now - 40 * 86400), _ev(FEIDONG, "link-up", now - 10 * 86400)]
        store.store(db, "hefei", "e", 1, old, {FEIDONG: "hefei-feidong"}, now)
        assert store.expire(db, now, days=30) == 1
        assert [r["kind"] for r in store.search(db, store.Query())[0]] == ["link-up"]
        assert store.expire(db, now + 21 * 86400, days=30) == 1
        assert store.search(db, store.Query())[1] == 0
    finally:
        db.conn.close()
