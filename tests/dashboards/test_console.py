"""Console and county pages per role: what each sees, scope, validation, declarations."""

from __future__ import annotations

from nms.auth.policy import declaration_of
from tests.auth.helpers import role_client
from tests.dashboards.conftest import kiosk_client


def test_every_dashboard_route_declares_a_permission(wall_app):
    for rule in wall_app.url_map.iter_rules():
        if rule.endpoint.startswith("dashboards.") and rule.endpoint != "dashboards.static":
            assert declaration_of(wall_app.view_functions[rule.endpoint]) is not None, rule.rule


def test_landing_page_by_role(wall_app):
    assert wall_app.test_client().get("/").status_code == 302  # to /login
    assert "/login" in wall_app.test_client().get("/").headers["Location"]
    assert role_client(wall_app, "operator", "anhui").get("/").headers["Location"].endswith("/console")
    assert (
        role_client(wall_app, "county_admin", "huaibei-suixi")
        .get("/")
        .headers["Location"]
        .endswith("/county")
    )
    kiosk, _ = kiosk_client(wall_app)
    assert kiosk.get("/").headers["Location"].endswith("/wall")


def test_operator_searches_and_filters_devices(wall_app):
    client = role_client(wall_app, "operator", "anhui")
    page = client.get("/console").get_data(as_text=True)
    assert "1008 台设备" in page
    # suixi-int-rtr1 stopped answering behind the cut sdh-huaibei: down, or (nms.state with the
    # shared topology) unreachable (parent); either way exactly one device has that state
    pages = [client.get(f"/console?state={st}").get_data(as_text=True) for st in ("down", "unreachable")]
    hits = [p for p in pages if "suixi-int-rtr1" in p]
    assert len(hits) == 1 and "1 台设备" in hits[0]
    page = client.get("/console?q=huaibei-int-rtr1").get_data(as_text=True)
    assert "huaibei-int-rtr1" in page and "hefei-int-rtr1" not in page
    page = client.get("/console?state=broken&site=nowhere").get_data(as_text=True)
    assert 'id="err-state"' in page and 'id="err-site"' in page and "nowhere" in page


def test_county_admin_sees_nothing_of_other_counties(wall_app):
    client = role_client(wall_app, "county_admin", "huaibei-suixi")
    page = client.get("/console").get_data(as_text=True)
    assert "suixi-int-rtr1" in page and "7 台设备" in page
    assert "hefei-int-rtr1" not in page and "xiangshan" not in page
    assert client.get("/console/device/suixi-int-rtr1").status_code == 200
    assert client.get("/console/device/hefei-int-rtr1").status_code == 403
    assert client.get("/console/link/sdh-huaibei").status_code == 403
    assert client.get("/api/v1/console/series?device=hefei-int-rtr1").status_code == 403
    area = client.get("/county").get_data(as_text=True)
    assert "濉溪县" in area and "淮北市" not in area
    wall = client.get("/api/v1/wall").get_json()
    assert {n["id"] for n in wall["nodes"]} == {"huaibei-suixi"}


def test_device_and_link_pages(wall_app):
    client = role_client(wall_app, "operator", "anhui")
    page = client.get("/console/device/huaibei-int-rtr1").get_data(as_text=True)
    assert "Pos1/0/0" in page and "sdh-huaibei" in page and "CPU 10.0%" in page
    page = client.get("/console/link/sdh-huaibei").get_data(as_text=True)
    assert "SDH" in page and "ES" in page and "oper down" in page
    assert client.get("/console/link/no-such").status_code == 404
    page = client.get("/console/device/huaibei-int-rtr1?range=custom&from=yesterday").get_data(as_text=True)
    assert 'id="err-from"' in page
    series = client.get(
        "/api/v1/console/series?device=huaibei-int-rtr1&interface=Pos1/0/0&range=1h"
    ).get_json()
    assert series["level"] == "raw" and len(series["ts"]) == 2 and series["columns"]["in_bps"][-1] == 0.0
    # ping RTT and loss: their own chart on the device page, from the device's series
    page = client.get("/console/device/huaibei-int-rtr1").get_data(as_text=True)
    assert 'data-kind="icmp"' in page and "丢包 loss" in page
    health = client.get("/api/v1/console/series?device=huaibei-int-rtr1&interface=&range=1h").get_json()
    assert health["columns"]["rtt_ms"][-1] == 4.0 and health["columns"]["loss_pct"][-1] == 0.0
    bad = client.get("/api/v1/console/series?device=huaibei-int-rtr1&interface=nope")
    assert bad.status_code == 400 and bad.get_json()["field"] == "interface"


def test_problems_page_lists_the_outage_first(wall_app):
    page = role_client(wall_app, "viewer", "anhui").get("/console/problems").get_data(as_text=True)
    assert page.index("sdh-huaibei") < page.index("suixi-int-rtr1")


def test_kiosk_cannot_change_anything(wall_app):
    kiosk, _ = kiosk_client(wall_app)
    assert kiosk.post("/api/v1/wall").status_code in (403, 405)


def test_county_page_shows_each_network_of_a_site(wall_app):
    client = role_client(wall_app, "county_admin", "huaibei-suixi")
    area = client.get("/county").get_data(as_text=True)
    internal = area.split("专网 internal:", 1)[1].split("</div>", 1)[0]
    external = area.split("外网 external:", 1)[1].split("</div>", 1)[0]
    assert "st-up" not in internal and ("st-down" in internal or "st-unreachable" in internal)
    assert "st-up" in external
