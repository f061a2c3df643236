"""Alert pages and the wall's alert list in headless Chromium, on real alerts; screenshots in artifacts/."""

from __future__ import annotations

import pytest

from tests.auth.helpers import app_db, make_user
from tests.dashboards.browser import chromium, login, need_browser, serve, shot, wait_until
from tests.dashboards.conftest import kiosk_client

RENDERED = "Boolean(window.nmsWall && window.nmsWall.renders > 0)"


@pytest.fixture
def site(alert_app):
    need_browser()
    db = app_db(alert_app)
    try:
        make_user(db, "ops", "operator", "anhui")
        make_user(db, "watcher", "viewer", "anhui")
        make_user(db, "guzhen-ops", "operator", "bengbu-guzhen")
    finally:
        db.conn.close()
    _client, kiosk = kiosk_client(alert_app)
    with serve(alert_app) as base, chromium() as browser:
        yield base, browser, kiosk, alert_app.config["TEST_ALERTS"]


def _rows(page) -> list[str]:
    return page.eval_on_selector_all("#alerts tr.alert-row", "rs => rs.map(r => r.dataset.id)")


def test_operator_acknowledges_an_alert_with_a_note(site):
    base, browser, _kiosk, alerts = site
    sdh, feidong = alerts["link-down:sdh-huaibei"]["id"], alerts["access-link-down:mstp-feidong"]["id"]
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, base, "ops", "correct-horse-battery-staple")
    page.click("nav >> text=告警 Alerts")
    page.wait_for_load_state()
    assert page.url.endswith("/console/alerts")
    rows = _rows(page)
    assert len(rows) == 3 and str(sdh) in rows[:2] and rows[2] == str(feidong)  # critical first
    assert page.locator(f'tr[data-id="{sdh}"] details.children li.child').count() == 20
    shot(page, "console-alerts-list")
    page.click(f'tr[data-id="{feidong}"] >> text=#{feidong}')
    page.wait_for_load_state()
    assert "未确认 no" in page.inner_text("#ack-state")
    page.fill("#form-ack textarea[name=note]", "县光缆被挖断，抢修中 fibre cut, crew out")
    page.fill("#form-ack input[name=assignee]", "ops")
    page.click("#form-ack button[type=submit]")
    page.wait_for_load_state()
    assert "已确认 Acknowledged" in page.inner_text(".flash.ok")
    ack = page.inner_text("#ack-state")
    assert "已确认 yes" in ack and "ops" in ack and "县光缆被挖断，抢修中 fibre cut, crew out" in ack
    assert page.inner_text("#assignee").strip().endswith("ops")
    assert page.locator("#form-ack").count() == 0 and page.locator("#form-unack").count() == 1
    assert "ack" in page.inner_text("#history")
    shot(page, "console-alert-acknowledged")
    page.goto(f"{base}/console/alerts/{sdh}")
    assert "Connection refused" in page.inner_text("#notifications")
    page.fill("#form-silence input[name=minutes]", "0")
    page.click("#form-silence button[type=submit]")
    page.wait_for_load_state()
    assert "1 到 43200" in page.inner_text("#err-minutes") and "必填" in page.inner_text("#err-reason")
    page.goto(f"{base}/console/alerts/{sdh}")
    shot(page, "console-alert-detail")
    page.set_viewport_size({"width": 1600, "height": 2400})
    shot(page, "console-alert-detail-full")
    assert errors == []


def test_viewer_reads_without_forms_and_posts_are_refused(site):
    base, browser, _kiosk, alerts = site
    sdh = alerts["link-down:sdh-huaibei"]["id"]
    page = browser.new_page()
    login(page, base, "watcher", "correct-horse-battery-staple")
    page.goto(f"{base}/console/alerts")
    assert str(sdh) in _rows(page)
    page.goto(f"{base}/console/alerts/{sdh}")
    assert "sdh-huaibei" in page.inner_text("h1 ~ .card")
    assert page.locator("form[action^='/console/alerts']").count() == 0
    token = page.evaluate("document.querySelector('input[name=csrf_token]').value")  # from the logout form
    resp = page.request.post(f"{base}/console/alerts/{sdh}/ack", form={"note": "x", "csrf_token": token})
    assert resp.status == 403


def test_county_operator_of_another_county_does_not_see_the_alert(site):
    base, browser, _kiosk, alerts = site
    feidong = alerts["access-link-down:mstp-feidong"]["id"]
    page = browser.new_page()
    login(page, base, "guzhen-ops", "correct-horse-battery-staple")
    page.goto(f"{base}/console/alerts")
    assert str(feidong) not in _rows(page) and "mstp-feidong" not in page.content()
    resp = page.goto(f"{base}/console/alerts/{feidong}")
    assert resp.status == 404


def test_csrf_less_post_from_the_browser_is_refused(site):
    base, browser, _kiosk, alerts = site
    sdh = alerts["link-down:sdh-huaibei"]["id"]
    page = browser.new_page()
    login(page, base, "ops", "correct-horse-battery-staple")
    resp = page.request.post(f"{base}/console/alerts/{sdh}/ack", form={"note": "forged"})
    assert resp.status == 400
    page.goto(f"{base}/console/alerts/{sdh}")
    assert "未确认 no" in page.inner_text("#ack-state")


def test_wall_lists_engine_alerts_most_severe_first(site):
    base, browser, kiosk, alerts = site
    sdh, feidong = alerts["link-down:sdh-huaibei"]["id"], alerts["access-link-down:mstp-feidong"]["id"]
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(f"{base}/wall?kiosk={kiosk}&pages=map&rotate=0")
    wait_until(page, RENDERED, what="first render")
    ids = page.eval_on_selector_all("#alerts li[data-id]", "ls => ls.map(l => l.dataset.id)")
    assert len(ids) == 3 and f"alert:{sdh}" in ids[:2] and ids[2] == f"alert:{feidong}"  # critical first
    classes = page.eval_on_selector_all("#alerts li[data-id]", "ls => ls.map(l => l.className)")
    assert classes == ["critical", "critical", "major"]
    item = page.inner_text(f'#alerts li[data-id="alert:{sdh}"]')
    assert "sdh-huaibei" in item and f"影响 {alerts['link-down:sdh-huaibei']['children_count']} 项" in item
    assert page.locator("#alerts a").count() == 0  # the kiosk wall links nowhere
    assert "告警系统 alerts" in page.inner_text("#alert-source")
    page.wait_for_timeout(500)
    shot(page, "wall-engine-alerts-1920x1080")
    other = browser.new_page(viewport={"width": 1920, "height": 1080})
    login(other, base, "ops", "correct-horse-battery-staple")
    other.goto(f"{base}/wall?pages=map&rotate=0")
    wait_until(other, RENDERED, what="operator's wall render")
    other.click(f'#alerts li[data-id="alert:{sdh}"] a')
    other.wait_for_load_state()
    assert other.url.endswith(f"/console/alerts/{sdh}")
