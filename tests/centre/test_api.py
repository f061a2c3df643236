"""Read APIs over HTTP with real tokens: state, events, series, availability JSON/CSV/HTML, scope."""

from __future__ import annotations

import csv
import io

import pytest

from nms.pipeline import ingest_batch
from nms.schema import open_migrated
from tests.centre.helpers import T0, batch, poll, small_inventory

tokens = pytest.importorskip("nms.auth.tokens")
users = pytest.importorskip("nms.auth.users")

ALL = ("prov-rtr1", "hefei-rtr1", "hefei-fw1", "feidong-rtr1")


@pytest.fixture
def app(make_app, settings):
    inv = small_inventory()
    mdb, cdb = open_migrated(settings, "metrics"), open_migrated(settings, "centre")
    for k in range(3):  # three minutes; Feidong fails the last two
        polls = [poll(d, T0 + 60 * k, ok=not (d == "feidong-rtr1" and k > 0), octets=1000 + k) for d in ALL]
        body = batch("prov", k + 1, polls)
        ingest_batch(mdb, None, "prov", body, None, now=T0 + 600)
        from nms.state import apply_batch

        apply_batch(cdb, "inv", k + 1, polls, inv)
    mdb.conn.close()
    cdb.conn.close()
    return make_app(inv)


def user_token(settings, name: str, role: str, site: str) -> dict[str, str]:
    db = open_migrated(settings, "centre")
    try:
        users.create(db, name, role, site, "correct horse battery staple 42", actor="test")
        _, raw = tokens.create(db, "user", name, actor="test")
    finally:
        db.conn.close()
    return {"Authorization": f"Bearer {raw}"}


def test_state_whole_province_and_county_scope(app, settings):
    c = app.test_client()
    r = c.get("/api/v1/state", headers=user_token(settings, "boss", "viewer", "anhui"))
    assert r.status_code == 200
    body = r.get_json()
    assert body["devices"]["feidong-rtr1"]["state"] == "down"
    assert body["devices"]["prov-rtr1"]["state"] == "up"
    assert body["links"]["hefei-feidong"]["state"] == "down"
    assert set(body["sites"]) == {"anhui", "hefei", "hefei-feidong"}
    # each site names its networks' states (here only 专网 internal), also as rows of their own
    assert body["sites"]["hefei-feidong"]["networks"]["internal"]["state"] == "down"
    assert body["site_networks"]["hefei-feidong/internal"]["state"] == "down"
    assert body["sites"]["hefei"]["networks"] == {"internal": body["site_networks"]["hefei/internal"]}
    assert body["sdh"]["prov-rtr1:POS1/0/0"]["defects"] == []  # the SDH port's defect state
    assert set(body["sdh"]) == {"prov-rtr1:POS1/0/0", "hefei-rtr1:POS1/0/0"}
    r = c.get("/api/v1/state", headers=user_token(settings, "feidong", "viewer", "hefei-feidong"))
    body = r.get_json()
    assert set(body["devices"]) == {"feidong-rtr1"} and body["sdh"] == {}  # no SDH port in its county
    assert set(body["sites"]) == {"hefei-feidong"}
    assert set(body["site_networks"]) == {"hefei-feidong/internal"}
    assert c.get("/api/v1/state").status_code in (302, 401)


def test_events_filter_and_scope(app, settings):
    c = app.test_client()
    h = user_token(settings, "boss", "viewer", "anhui")
    evs = c.get("/api/v1/events?subject=feidong-rtr1", headers=h).get_json()["events"]
    assert [(e["from"], e["to"]) for e in evs] == [("up", "down"), ("unknown", "up")]
    assert c.get("/api/v1/events?kind=planet", headers=h).status_code == 400
    h2 = user_token(settings, "feidong", "viewer", "hefei-feidong")
    subjects = {e["subject"] for e in c.get("/api/v1/events", headers=h2).get_json()["events"]}
    assert subjects == {"feidong-rtr1", "feidong-rtr1:GE0/0/1", "hefei-feidong", "hefei-feidong/internal"}


def test_series_raw_and_scope(app, settings):
    c = app.test_client()
    h = user_token(settings, "boss", "viewer", "anhui")
    r = c.get(f"/api/v1/series?device=hefei-rtr1&interface=POS1/0/0&metrics=in_octets,in_bps"
              f"&from={T0 - 60}&to={T0 + 600}&level=raw", headers=h)
    assert r.status_code == 200
    body = r.get_json()
    assert body["ts"] == [T0, T0 + 60, T0 + 120]
    assert body["columns"]["in_octets"] == [1000, 1001, 1002]
    h2 = user_token(settings, "feidong", "viewer", "hefei-feidong")
    assert c.get("/api/v1/series?device=hefei-rtr1&interface=POS1/0/0", headers=h2).status_code == 403
    assert c.get("/api/v1/series?device=hefei-rtr1&level=weekly", headers=h).status_code == 400


def test_availability_json_csv_html(app, settings):
    c = app.test_client()
    h = user_token(settings, "boss", "viewer", "anhui")
    q = f"from={T0}&to={T0 + 600}"
    doc = c.get(f"/api/v1/availability?{q}", headers=h).get_json()
    assert "no data" in doc["policy"] and "not available" in doc["policy"]
    rows = {r["subject"]: r for r in doc["rows"]}
    f = rows["feidong-rtr1"]
    assert (f["up_s"], f["down_s"]) == (60, 540)
    r = c.get(f"/api/v1/availability.csv?{q}&kind=device", headers=h)
    assert r.mimetype == "text/csv"
    policy, _, table = r.get_data(as_text=True).partition("\n")
    assert policy.startswith("# availability_pct = up / (period - maintenance)")
    got = {x["subject"]: x for x in csv.DictReader(io.StringIO(table))}
    assert set(got) == set(ALL)
    assert float(got["feidong-rtr1"]["down_s"]) == 540
    page = c.get(f"/reports/availability?{q}", headers=h)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "feidong-rtr1" in text and "10.000 %" in text and "time without data" in text
    assert c.get("/api/v1/availability?from=soon", headers=h).status_code == 400


def test_kiosk_cannot_read_reports(app, settings):
    db = open_migrated(settings, "centre")
    _, raw = tokens.create(db, "kiosk", None, actor="test")
    db.conn.close()
    h = {"Authorization": f"Bearer {raw}"}
    assert app.test_client().get("/api/v1/state", headers=h).status_code == 200
    assert app.test_client().get("/api/v1/availability", headers=h).status_code == 403


def test_availability_page_shows_the_g826_ratios_of_an_sdh_link(make_app, settings):
    from nms.state import apply_batch

    inv = small_inventory()
    p = poll("prov-rtr1", T0 + 905)
    layer = {"es": 9, "ses": 3, "uas": 0, "cv": 7_300}
    bucket = {"interval_end": T0 + 900, **layer, "valid": True, "path": layer, "line": layer}
    p["sdh"][0]["buckets"] = [bucket]
    db = open_migrated(settings, "centre")
    apply_batch(db, "prov", 1, [p], inv)
    db.conn.close()
    c = make_app(inv).test_client()
    h = user_token(settings, "boss", "viewer", "anhui")
    rows = c.get(f"/api/v1/availability?from={T0}&to={T0 + 900}&kind=link", headers=h).get_json()["rows"]
    (row,) = [r for r in rows if r["subject"] == "prov-hefei"]
    assert row["g826_esr"] == 9 / 900 and row["g826_sesr"] == 3 / 900
    text = c.get(f"/reports/availability?from={T0}&to={T0 + 900}", headers=h).get_data(as_text=True)
    assert "ESR 1.00e-02 SESR 3.33e-03 BBER 1.39e-05" in " ".join(text.split())
