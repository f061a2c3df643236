"""The alerts JSON API through the real app: shape, scope, changes and their audit trail."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from nms import availability, maintenance
from nms.alerts.engine import Engine
from tests.alerts.conftest import World, make_channels, make_rules
from tests.auth.helpers import app_db, make_app, role_client
from tests.centre.helpers import small_inventory


@pytest.fixture
def app(tmp_path, database_url):
    return make_app(tmp_path, inventory=small_inventory(), database_url=database_url)


@pytest.fixture
def centre(app):
    db = app_db(app)
    yield db
    db.conn.close()


def storm(centre) -> World:
    """hefei-fw1 goes down, then the SDH link is cut: the state machine calls it unreachable."""
    world = World(centre)
    world.round()
    for _ in range(2):
        world.round(down=("hefei-fw1",))
    for _ in range(2):
        world.round(los=("LOS",), hefei=False)
    Engine(make_rules(), world.inv, make_channels()).evaluate(centre)
    return world


def test_list_shape_and_filters(app, centre):
    storm(centre)
    client = role_client(app, "viewer", "anhui")
    body = client.get("/api/v1/alerts").get_json()
    alerts = {a["rule"]: a for a in body["alerts"]}
    assert set(alerts) == {"link-down"}  # hefei-fw1 lies behind the cut: folded under the link
    link = alerts["link-down"]
    for key in (
        "id",
        "rule",
        "severity",
        "subject",
        "site",
        "state",
        "started_ts",
        "acknowledged",
        "assignee",
        "children",
        "summary",
    ):
        assert key in link
    assert link["subject"] == {
        "kind": "link",
        "id": "prov-hefei",
        "name": "prov-hefei (prov-rtr1:POS1/0/0 - hefei-rtr1:POS1/0/0)",
    }
    assert link["site"] == "hefei" and link["site_name"] == "合肥" and link["state"] == "firing"
    kids = {(c["kind"], c["id"]): c["state"] for c in link["children"]}
    assert kids[("device", "feidong-rtr1")] == "unreachable (parent)"
    assert kids[("device", "hefei-fw1")] == "unreachable (parent)"
    assert any(state == "suppressed" for state in kids.values())
    with_suppressed = client.get("/api/v1/alerts?suppressed=1").get_json()["alerts"]
    assert {a["rule"] for a in with_suppressed} >= {"link-down", "sdh-defect"}
    assert all(a["root_id"] == link["id"] for a in with_suppressed if a["rule"] != "link-down")
    assert client.get("/api/v1/alerts?severity=minor").get_json()["alerts"] == []
    assert client.get("/api/v1/alerts?state=bogus").status_code == 400
    assert client.post(f"/api/v1/alerts/{link['id']}/ack", json={}).status_code == 403  # viewer


def test_ack_comment_assign_silence_are_audited_and_shown(app, centre):
    storm(centre)
    ops = role_client(app, "operator", "anhui", name="ops1")
    (link,) = ops.get("/api/v1/alerts?rule=link-down").get_json()["alerts"]
    aid = link["id"]
    r = ops.post(f"/api/v1/alerts/{aid}/ack", json={"note": "电信已派单", "assignee": "wang"})
    assert r.status_code == 200, r.get_data(as_text=True)
    d = r.get_json()
    assert d["acknowledged"] and d["ack"]["by"] == "ops1" and d["ack"]["note"] == "电信已派单"
    assert d["assignee"] == "wang"
    assert ops.post(f"/api/v1/alerts/{aid}/comment", json={"text": "fibre cut near Feixi"}).status_code == 200
    assert ops.post(f"/api/v1/alerts/{aid}/comment", json={}).get_json()["error"] == "text: required"
    assert ops.post(f"/api/v1/alerts/{aid}/assign", json={"assignee": "li"}).status_code == 200
    r = ops.post(f"/api/v1/alerts/{aid}/silence", json={"minutes": 30, "note": "carrier working"})
    assert r.get_json()["muted"] == "silence"
    d = ops.get(f"/api/v1/alerts/{aid}").get_json()
    assert [c["text"] for c in d["comments"]] == ["fibre cut near Feixi"]
    assert [h["event"] for h in d["history"] if h["actor"] == "ops1"] == [
        "ack",
        "comment",
        "assign",
        "silence",
    ]
    assert d["assignee"] == "li"
    assert d["notifications"][0]["event"] == "firing"
    audit = centre.execute(
        "SELECT actor, action FROM audit_log WHERE target = ? ORDER BY id", (f"alert:{aid}",)
    ).fetchall()
    assert audit == [
        ("ops1", "alert.ack"),
        ("ops1", "alert.comment"),
        ("ops1", "alert.assign"),
        ("ops1", "alert.silence"),
    ]
    assert ops.get("/api/v1/alerts/99999").status_code == 404
    (note,) = ops.get("/api/v1/alerts/notifications").get_json()["notifications"]
    assert (note["alert_id"], note["event"], note["status"]) == (aid, "firing", "queued")
    assert ops.get("/api/v1/alerts/notifications?status=nope").status_code == 400


def test_county_scope_sees_and_changes_only_its_own(app, centre):
    world = World(centre)
    world.round()
    for _ in range(2):
        world.round(down=("feidong-rtr1", "hefei-fw1"))
    Engine(make_rules(), world.inv, make_channels()).evaluate(centre)
    county = role_client(app, "operator", "hefei-feidong", name="fd-ops")
    seen = county.get("/api/v1/alerts?suppressed=1").get_json()["alerts"]
    assert seen and {a["site"] for a in seen} == {"hefei-feidong"}
    prov_alert = centre.execute("SELECT id FROM alert_alerts WHERE subject_id = 'hefei-fw1'").fetchone()[0]
    assert county.get(f"/api/v1/alerts/{prov_alert}").status_code == 404
    assert county.post(f"/api/v1/alerts/{prov_alert}/ack", json={"note": "x"}).status_code == 404
    assert centre.execute("SELECT ack_ts FROM alert_alerts WHERE id = ?", (prov_alert,)).fetchone()[0] is None


def test_maintenance_window_pages_nobody_and_is_excluded_from_availability(app, centre):
    ops = role_client(app, "operator", "anhui", name="ops2")
    world = World(centre)
    world.round()
    t_start = world.t
    r = ops.post(
        "/api/v1/maintenance",
        json={
            "subject_kind": "device",
            "subject_id": "feidong-rtr1",
            "start": t_start,
            "end": t_start + 7200,
            "reason": "割接 cutover",
        },
    )
    assert r.status_code == 201, r.get_data(as_text=True)
    for _ in range(3):
        world.round(down=("feidong-rtr1",))
    eng = Engine(make_rules(), world.inv, make_channels())
    eng.evaluate(centre, world.t)
    (dev,) = world.alerts("rule = 'device-down'")
    assert dev["muted"] == "maintenance" and not dev["notified"]
    assert world.pages() == []
    windows = ops.get("/api/v1/maintenance").get_json()["windows"]
    assert windows[0]["subject_id"] == "feidong-rtr1" and windows[0]["mode"] == "mute"
    (row,) = availability.report(
        centre, t_start, world.t + 1, world.inv, subjects=[("device", "feidong-rtr1")]
    )
    assert row["down_s"] == 0 and row["maintenance_down_s"] > 0
    assert (
        centre.execute("SELECT COUNT(*) FROM audit_log WHERE action = 'maintenance.add'").fetchone()[0] == 1
    )
    wid = windows[0]["id"]
    assert ops.delete(f"/api/v1/maintenance/{wid}").status_code == 200
    eng.evaluate(centre, time.time())
    (dev,) = world.alerts("rule = 'device-down'")
    assert dev["muted"] is None and dev["notified"] == 1  # the window ended: now it pages
    bad = ops.post(
        "/api/v1/maintenance", json={"subject_kind": "device", "subject_id": "nope", "start": 1, "end": 2}
    )
    assert bad.status_code == 400 and "nope" in bad.get_json()["error"]


def test_ending_a_running_series_stops_it_now_and_keeps_its_past(app, centre):
    """A weekly window whose second occurrence is running: ending it cuts that occurrence at
    now, starts no later one, and last week's occurrence stays excluded from availability."""
    ops = role_client(app, "operator", "anhui", name="ops4")
    now = time.time()
    first = now - 7 * 86400 - 3600  # last week's occurrence; this week's began an hour ago
    r = ops.post(
        "/api/v1/maintenance",
        json={
            "subject_kind": "device",
            "subject_id": "feidong-rtr1",
            "start": first,
            "end": first + 7200,
            "rrule": "weekly",
            "until": now + 60 * 86400,
        },
    )
    assert r.status_code == 201
    wid = r.get_json()["id"]
    (w,) = ops.get("/api/v1/maintenance").get_json()["windows"]
    assert w["active"] and w["ended"] is None
    world = World(centre)
    world.t = first + 60
    world.round()
    for _ in range(6):
        world.round(down=("feidong-rtr1",))
    world.round()
    world.round()

    def past_week() -> dict:
        (row,) = availability.report(
            centre, first, first + 7200, world.inv, subjects=[("device", "feidong-rtr1")]
        )
        return row

    before = past_week()
    assert before["down_s"] == 0 and before["maintenance_down_s"] > 0
    assert ops.delete(f"/api/v1/maintenance/{wid}").status_code == 200
    t_end = time.time()
    (w,) = ops.get("/api/v1/maintenance").get_json()["windows"]  # kept: it has a past
    assert not w["active"] and now <= w["ended"] <= t_end
    assert past_week() == before  # the past occurrence stays excluded
    (kept,) = maintenance.windows(centre)
    this_week = first + 7 * 86400
    assert kept.occurrences(this_week, this_week + 7200) == [(this_week, w["ended"])]  # cut at now
    assert kept.occurrences(t_end, t_end + 30 * 86400) == []  # no later occurrence begins
    (audit,) = centre.execute(
        "SELECT after FROM audit_log WHERE action = 'maintenance.end' AND target = ?",
        (f"maint_window:{wid}",),
    ).fetchall()
    assert "ended" in audit[0]


def _local_minute(ts: float) -> str:
    """``YYYY-MM-DDTHH:MM`` in the centre's zone, as the form's datetime-local field sends it."""
    return datetime.fromtimestamp(ts, availability.LOCAL_TZ).strftime("%Y-%m-%dT%H:%M")


def test_maintenance_page_creates_lists_and_ends_windows(app, centre):
    ops = role_client(app, "operator", "anhui", name="ops3")
    page = ops.get("/alerts/maintenance")
    assert page.status_code == 200 and 'name="subject_id"' in page.get_data(as_text=True)
    tomorrow = time.time() + 86400
    start, end, until = (
        _local_minute(tomorrow),
        _local_minute(tomorrow + 4 * 3600),
        _local_minute(tomorrow + 60 * 86400),
    )
    r = ops.post(
        "/alerts/maintenance",
        data={
            "subject_kind": "site",
            "subject_id": "hefei",
            "subtree": "on",
            "start": start,
            "end": end,
            "rrule": "weekly",
            "until": until,
            "mode": "skip",
            "reason": "割接",
        },
    )
    assert r.status_code == 302 and "msg=" in r.headers["Location"]
    (w,) = ops.get("/api/v1/maintenance").get_json()["windows"]
    assert (w["subject_kind"], w["subject_id"], w["subtree"], w["rrule"], w["mode"]) == (
        "site",
        "hefei",
        True,
        "weekly",
        "skip",
    )
    assert w["end"] - w["start"] == 4 * 3600 and not w["active"]
    html = ops.get("/alerts/maintenance").get_data(as_text=True)
    assert start.replace("T", " ") in html and "割接" in html
    bad = ops.post(
        "/alerts/maintenance",
        data={"subject_kind": "device", "subject_id": "ghost", "start": start, "end": end},
    )
    assert "error=" in bad.headers["Location"]
    assert ops.post(f"/alerts/maintenance/{w['id']}/end").status_code == 302
    assert ops.get("/api/v1/maintenance").get_json()["windows"] == []  # a future window is removed
    assert centre.execute("SELECT COUNT(*) FROM alert_maint_modes").fetchone()[0] == 0
    viewer = role_client(app, "viewer", "anhui", name="view3")
    assert 'name="subject_id"' not in viewer.get("/alerts/maintenance").get_data(as_text=True)
    assert (
        viewer.post("/alerts/maintenance", data={"subject_kind": "site", "subject_id": "hefei"}).status_code
        == 403
    )
    assert ops.post("/alerts/maintenance", data={"subject_kind": "site"}, csrf=False).status_code == 400
