"""The console's alert pages on real alerts (engine over a real state history): list, detail, forms, scope."""

from __future__ import annotations

import re

from nms.auth.policy import declaration_of
from tests.auth.helpers import app_db, role_client
from tests.dashboards.conftest import kiosk_client


def _ids(page: str) -> list[int]:
    return [int(x) for x in re.findall(r'class="sev-\w+ alert-row" data-id="(\d+)"', page)]


def _alert(app, key: str) -> dict:
    return app.config["TEST_ALERTS"][key]


def test_alert_views_declare_their_permissions(alert_app):
    perms = {
        rule.rule: declaration_of(alert_app.view_functions[rule.endpoint])[0]
        for rule in alert_app.url_map.iter_rules()
        if rule.rule.startswith("/console/alerts")
    }
    assert perms == {
        "/console/alerts": "alerts.read",
        "/console/alerts/<int:alert_id>": "alerts.read",
        "/console/alerts/<int:alert_id>/<action>": "alerts.ack",
    }


def _roots(app) -> tuple[int, int, int]:
    return (
        _alert(app, "link-down:sdh-huaibei")["id"],
        _alert(app, "device-down:bengbu-int-rtr1")["id"],
        _alert(app, "access-link-down:mstp-feidong")["id"],
    )


def test_list_is_most_severe_first_with_children_folded(alert_app):
    sdh, bengbu, feidong = _roots(alert_app)
    alerts = alert_app.config["TEST_ALERTS"]
    assert (
        alerts["link-down:sdh-huaibei"]["started_ts"] < alerts["access-link-down:mstp-feidong"]["started_ts"]
    )
    guzhen = _alert(alert_app, "access-link-down:mstp-guzhen")
    assert guzhen["root_id"] == bengbu
    client = role_client(alert_app, "operator", "anhui")
    page = client.get("/console/alerts").get_data(as_text=True)
    ids = _ids(page)
    assert set(ids[:2]) == {sdh, bengbu} and ids[2:] == [feidong]  # critical (older) before major (newer)
    assert not {r["id"] for r in alerts.values() if r["root_id"] is not None} & set(ids)  # folded: no rows
    assert "告警 Alerts" in page and 'href="/console/alerts"' in page  # in the nav
    # a root lists what lies behind it: the alerts folded under it, then devices unreachable (parent)
    row = page[page.index(f'data-id="{bengbu}"') :]
    row = row[: row.index("</tr>")]
    assert f'href="/console/alerts/{guzhen["id"]}"' in row and "已归并 suppressed" in row
    assert "unreachable (parent)" in row and "bengbu-int-fw1" in row
    assert f"{alerts['device-down:bengbu-int-rtr1']['children_count']} affected" in row
    assert "未确认 unacked" in row
    assert re.search(r'class="dur">(\d+ min|\d+ s)<', row)


def test_list_filters_and_their_errors(alert_app):
    client = role_client(alert_app, "operator", "anhui")
    sdh, bengbu, feidong = _roots(alert_app)
    assert _ids(client.get("/console/alerts?severity=major").get_data(as_text=True)) == [feidong]
    assert _ids(client.get("/console/alerts?site=huaibei").get_data(as_text=True)) == [sdh]
    assert _ids(client.get("/console/alerts?rule=device-down").get_data(as_text=True)) == [bengbu]
    assert _ids(client.get("/console/alerts?q=FEIDONG").get_data(as_text=True)) == [feidong]
    assert _ids(client.get("/console/alerts?state=resolved").get_data(as_text=True)) == []
    page = client.get("/console/alerts?state=gone&severity=loud&site=nowhere&rule=nope").get_data(
        as_text=True
    )
    for field in ("state", "severity", "site", "rule"):
        assert f'id="err-{field}"' in page, field
    assert sorted(_ids(page)) == sorted([sdh, bengbu, feidong])  # bad values are dropped, not guessed


def test_detail_shows_history_children_and_every_notification_attempt(alert_app):
    sdh = _alert(alert_app, "link-down:sdh-huaibei")
    client = role_client(alert_app, "viewer", "anhui")
    page = client.get(f"/console/alerts/{sdh['id']}").get_data(as_text=True)
    assert "sdh-huaibei" in page and "unreachable (parent)" in page
    notes = page[page.index('id="notifications"') : page.index('id="history"')]
    assert "hook" in notes and "Connection refused" in notes
    # every attempt is listed: the sender gave up after max_attempts (3), each refusal logged
    assert "失败 failed" in notes and notes.count('<li class="failed">') == 3
    history = page[page.index('id="history"') :]
    assert "created" in history or "fired" in history
    assert 'action="/console/alerts' not in page and 'id="form-ack"' not in page  # a viewer never acts
    assert client.get("/console/alerts/99999").status_code == 404


def test_operator_acknowledges_comments_assigns_and_silences_through_the_forms(alert_app):
    aid = _alert(alert_app, "access-link-down:mstp-feidong")["id"]
    client = role_client(alert_app, "operator", "anhui", name="ops1")
    page = client.get(f"/console/alerts/{aid}").get_data(as_text=True)
    for form in ("form-ack", "form-comment", "form-assign", "form-silence"):
        assert f'id="{form}"' in page and 'name="csrf_token"' in page
    resp = client.post(
        f"/console/alerts/{aid}/ack", data={"note": "光缆抢修中 fibre crew out", "assignee": "ops2"}
    )
    assert resp.status_code == 303
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "已确认 Acknowledged" in page and "光缆抢修中 fibre crew out" in page and "<b>ops2</b>" in page
    assert client.post(f"/console/alerts/{aid}/comment", data={"text": "ETA 2h"}).status_code == 303
    assert client.post(f"/console/alerts/{aid}/assign", data={"assignee": "ops3"}).status_code == 303
    resp = client.post(f"/console/alerts/{aid}/silence", data={"minutes": "30", "reason": "割接"})
    assert resp.status_code == 303
    api = client.get(f"/api/v1/alerts/{aid}").get_json()
    assert api["ack"]["by"] == "ops1" and api["ack"]["note"] == "光缆抢修中 fibre crew out"
    assert api["assignee"] == "ops3" and api["muted"] == "silence"
    assert [c["text"] for c in api["comments"]] == ["ETA 2h"]
    db = app_db(alert_app)
    try:
        actions = [
            r[0] for r in db.execute("SELECT action FROM audit_log WHERE target = ?", (f"alert:{aid}",))
        ]
    finally:
        db.conn.close()
    assert actions == ["alert.ack", "alert.comment", "alert.assign", "alert.silence"]
    listing = client.get("/console/alerts").get_data(as_text=True)
    row = listing[listing.index(f'data-id="{aid}"') :]
    assert "已确认 acked" in row and "ops3" in row


def test_bad_form_input_is_refused_next_to_the_field_and_changes_nothing(alert_app):
    aid = _alert(alert_app, "link-down:sdh-huaibei")["id"]
    client = role_client(alert_app, "operator", "anhui")
    resp = client.post(f"/console/alerts/{aid}/silence", data={"minutes": "forever", "reason": ""})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert 'id="err-minutes"' in page and 'id="err-reason"' in page and 'value="forever"' in page
    resp = client.post(f"/console/alerts/{aid}/comment", data={"text": "  "})
    assert resp.status_code == 400 and 'id="err-text"' in resp.get_data(as_text=True)
    resp = client.post(f"/console/alerts/{aid}/ack", data={"note": "x" * 2001})
    assert resp.status_code == 400 and 'id="err-note"' in resp.get_data(as_text=True)
    assert client.post(f"/console/alerts/{aid}/explode", data={}).status_code == 404
    api = client.get(f"/api/v1/alerts/{aid}").get_json()
    assert api["ack"] is None and api["muted"] is None and api["comments"] == []


def test_viewer_and_kiosk_get_no_forms_and_their_posts_are_refused(alert_app):
    aid = _alert(alert_app, "link-down:sdh-huaibei")["id"]
    viewer = role_client(alert_app, "viewer", "anhui")
    assert aid in _ids(viewer.get("/console/alerts").get_data(as_text=True))
    assert viewer.post(f"/console/alerts/{aid}/ack", data={"note": "me too"}).status_code == 403
    kiosk, _ = kiosk_client(alert_app)
    assert kiosk.post(f"/console/alerts/{aid}/ack", data={"note": "wall"}).status_code == 403
    assert viewer.get(f"/api/v1/alerts/{aid}").get_json()["ack"] is None


def test_csrf_less_post_is_refused(alert_app):
    aid = _alert(alert_app, "link-down:sdh-huaibei")["id"]
    client = role_client(alert_app, "operator", "anhui")
    resp = client.post(f"/console/alerts/{aid}/ack", data={"note": "forged"}, csrf=False)
    assert resp.status_code == 400 and "CSRF" in resp.get_data(as_text=True)
    resp = client.post(
        f"/console/alerts/{aid}/ack", data={"note": "forged", "csrf_token": "wrong"}, csrf=False
    )
    assert resp.status_code == 400
    assert client.get(f"/api/v1/alerts/{aid}").get_json()["ack"] is None


def test_county_operator_sees_only_their_county(alert_app):
    sdh, bengbu, feidong = _roots(alert_app)
    own = role_client(alert_app, "operator", "hefei-feidong")
    assert _ids(own.get("/console/alerts").get_data(as_text=True)) == [feidong]
    assert own.get(f"/console/alerts/{feidong}").status_code == 200
    other = role_client(alert_app, "operator", "bengbu-guzhen")
    page = other.get("/console/alerts").get_data(as_text=True)
    assert feidong not in _ids(page) and "mstp-feidong" not in page
    assert other.get(f"/console/alerts/{feidong}").status_code == 404
    assert other.post(f"/console/alerts/{feidong}/ack", data={"note": "not mine"}).status_code == 404
    assert other.get(f"/console/alerts/{bengbu}").status_code == 404  # the root sits in the city, above them
    # ... so their own consequence of it is listed on its own, marked as caused outside their area
    guzhen = _alert(alert_app, "access-link-down:mstp-guzhen")["id"]
    assert _ids(page) == [guzhen] and "outside your area" in page
    detail = other.get(f"/console/alerts/{guzhen}").get_data(as_text=True)
    assert f'href="/console/alerts/{bengbu}"' not in detail and "a fault outside your area" in detail
    assert own.get(f"/api/v1/alerts/{feidong}").get_json()["ack"] is None
    assert sdh not in _ids(own.get("/console/alerts").get_data(as_text=True))


def test_form_validation_and_durations():
    from dashboards import alertpages

    assert alertpages.validate("silence", {"minutes": "nan", "reason": "x"})[1].keys() == {"minutes"}
    assert alertpages.validate("silence", {"minutes": "43201", "reason": "x"})[1].keys() == {"minutes"}
    values, errors = alertpages.validate("silence", {"minutes": " 90 ", "reason": " 割接 "})
    assert errors == {} and values == {"minutes": 90.0, "note": "割接"}
    assert alertpages.validate("assign", {"assignee": ""}) == ({"assignee": None}, {})
    assert alertpages.validate("ack", {"assignee": "x" * 101})[1].keys() == {"assignee"}
    assert [alertpages.duration(s) for s in (None, 40, 420, 7500, 3 * 86400 + 4 * 3600)] == [
        "—",
        "40 s",
        "7 min",
        "2 h 05 min",
        "3 d 4 h",
    ]
