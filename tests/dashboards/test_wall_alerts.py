"""The wall reads the alert engine's open alerts (real alerts from a real state history)."""

from __future__ import annotations

from tests.auth.helpers import role_client
from tests.dashboards.conftest import kiosk_client


def test_wall_data_lists_engine_alerts_most_severe_first_children_folded(alert_app):
    alerts = alert_app.config["TEST_ALERTS"]
    sdh, feidong = alerts["link-down:sdh-huaibei"], alerts["access-link-down:mstp-feidong"]
    bengbu = alerts["device-down:bengbu-int-rtr1"]
    folded = [r["id"] for r in alerts.values() if r["root_id"] is not None]
    assert folded and sdh["started_ts"] < feidong["started_ts"]
    kiosk, _ = kiosk_client(alert_app)
    problems = kiosk.get("/api/v1/wall").get_json()["problems"]
    assert problems["source"] == "alerts" and problems["total"] == 3
    ids = [p["id"] for p in problems["items"]]
    assert set(ids[:2]) == {f"alert:{sdh['id']}", f"alert:{bengbu['id']}"}  # critical, older
    assert ids[2:] == [f"alert:{feidong['id']}"]  # major, newer
    item = {p["id"]: p for p in problems["items"]}[f"alert:{sdh['id']}"]
    assert item["severity"] == "critical" and item["state"] == "firing" and item["kind"] == "link"
    assert item["children_count"] == sdh["children_count"] >= 20
    assert item["site_name"] == "淮北市" and item["since"] == sdh["started_ts"]
    assert not {f"alert:{i}" for i in folded} & set(ids)
    # a county kiosk sees only its county's roots
    county, _ = kiosk_client(alert_app, site="hefei-feidong")
    items = county.get("/api/v1/wall").get_json()["problems"]["items"]
    assert [p["id"] for p in items] == [f"alert:{feidong['id']}"]


def test_wall_follows_an_acknowledgement(alert_app):
    sdh = alert_app.config["TEST_ALERTS"]["link-down:sdh-huaibei"]["id"]
    ops = role_client(alert_app, "operator", "anhui", name="ops1")
    assert ops.get("/api/v1/wall").get_json()["problems"]["items"][0]["acked"] is False
    assert (
        ops.post(f"/console/alerts/{sdh}/ack", data={"note": "on it", "assignee": "ops1"}).status_code == 303
    )
    first = ops.get("/api/v1/wall").get_json()["problems"]["items"][0]
    assert first["acked"] is True and first["assignee"] == "ops1"


def test_wall_links_alerts_for_people_not_for_the_kiosk(alert_app):
    ops = role_client(alert_app, "operator", "anhui")
    assert 'data-alert-url="/console/alerts/"' in ops.get("/wall").get_data(as_text=True)
    kiosk, _ = kiosk_client(alert_app)
    assert "data-alert-url" not in kiosk.get("/wall").get_data(as_text=True)
