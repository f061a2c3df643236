"""Administrators' account pages, scoped to the administrator's own subtree, and require_site."""

from __future__ import annotations

import sqlite_utils
from flask import Flask, request

from nms.auth import require, require_site, users
from tests.auth.helpers import COUNTY, OTHER_COUNTY, PROVINCE, login, make_user, role_client, tiny_inventory


def test_create_change_and_bad_input(app: Flask, db: sqlite_utils.Database) -> None:
    make_user(db, "root", "administrator", PROVINCE)
    admin = login(app.test_client(), "root")
    resp = admin.post("/admin/users", data={"name": "zhao", "role": "viewer", "site": "atlantis"})
    assert resp.status_code == 400 and "site &#39;atlantis&#39; is not in the inventory" in resp.get_data(
        as_text=True
    )
    resp = admin.post("/admin/users", data={"name": "zhao", "role": "god", "site": COUNTY})
    assert resp.status_code == 400 and "unknown role" in resp.get_data(as_text=True)
    resp = admin.post(
        "/admin/users", data={"name": "zhao", "role": "viewer", "site": COUNTY, "password": "short"}
    )
    assert resp.status_code == 400 and "at least 12 characters" in resp.get_data(as_text=True)
    assert users.get(db, "zhao") is None
    assert (
        admin.post("/admin/users", data={"name": "zhao", "role": "viewer", "site": COUNTY}).status_code == 201
    )
    resp = admin.post("/admin/users/zhao", data={"op": "update", "role": "operator", "site": "hefei"})
    assert resp.status_code == 200
    zhao = users.get(db, "zhao")
    assert zhao is not None and (zhao.role, zhao.site) == ("operator", "hefei")
    assert admin.post("/admin/users/root", data={"op": "disable"}).status_code == 400  # not yourself
    assert admin.post("/admin/users/zhao", data={"op": "explode"}).status_code == 400
    assert admin.post("/admin/users/nobody", data={"op": "disable"}).status_code == 404
    page = admin.get("/admin/users").get_data(as_text=True)
    assert "zhao" in page and "argon2" not in page


def test_city_administrator_stays_in_the_city(app: Flask, db: sqlite_utils.Database) -> None:
    make_user(db, "far", "viewer", OTHER_COUNTY)
    make_user(db, "near", "viewer", COUNTY)
    city_admin = role_client(app, "administrator", "hefei")
    page = city_admin.get("/admin/users").get_data(as_text=True)
    assert "near" in page and ">far<" not in page
    assert city_admin.post("/admin/users/far", data={"op": "disable"}).status_code == 403
    resp = city_admin.post("/admin/users", data={"name": "x1", "role": "viewer", "site": OTHER_COUNTY})
    assert resp.status_code == 403 and users.get(db, "x1") is None
    resp = city_admin.post("/admin/users/near", data={"op": "update", "site": PROVINCE})
    assert resp.status_code == 403 and users.get(db, "near").site == COUNTY  # type: ignore[union-attr]
    assert city_admin.post("/admin/users/near", data={"op": "disable"}).status_code == 200


def test_require_site_checks_sites_named_in_a_body(tmp_path, database_url) -> None:  # type: ignore[no-untyped-def]
    from tests.auth.helpers import make_app

    app = make_app(tmp_path, tiny_inventory(), database_url=database_url)

    @require("ipam.request")
    def ask() -> dict[str, str]:
        require_site(request.get_json()["site"])
        return {"ok": "yes"}

    app.add_url_rule("/api/v1/test-ask", "test_ask", ask, methods=["POST"])
    county = role_client(app, "county_admin", COUNTY)
    assert county.post("/api/v1/test-ask", json={"site": COUNTY}).status_code == 200
    assert county.post("/api/v1/test-ask", json={"site": OTHER_COUNTY}).status_code == 403
    assert county.post("/api/v1/test-ask", json={"site": "hefei"}).status_code == 403  # not upwards


def test_change_own_password(app: Flask, db: sqlite_utils.Database) -> None:
    from tests.auth.helpers import TEST_PASSWORD

    make_user(db, "sun", "viewer", COUNTY)
    other_device = login(app.test_client(), "sun")
    client = login(app.test_client(), "sun")
    new = "a-brand-new-password"
    resp = client.post("/account/password", data={"current": "nope", "new": new, "confirm": new})
    assert resp.status_code == 400 and "Current password is wrong" in resp.get_data(as_text=True)
    resp = client.post("/account/password", data={"current": TEST_PASSWORD, "new": new, "confirm": new + "x"})
    assert resp.status_code == 400
    resp = client.post("/account/password", data={"current": TEST_PASSWORD, "new": new, "confirm": new})
    assert resp.status_code == 200 and "Password changed" in resp.get_data(as_text=True)
    assert client.get("/api/v1/whoami").json["principal"]["name"] == "sun"  # this session goes on
    assert other_device.get("/api/v1/whoami").json == {"principal": None}  # the others end
    assert users.verify_password(db, "sun", new) is not None
    assert users.verify_password(db, "sun", TEST_PASSWORD) is None
    assert app.test_client().get("/account/password").status_code == 302


def test_view_refusal_has_the_gate_shape(tmp_path, database_url) -> None:  # type: ignore[no-untyped-def]
    from tests.auth.helpers import make_app

    app = make_app(tmp_path, tiny_inventory(), database_url=database_url)

    @require("status.read")
    def page() -> str:
        require_site(OTHER_COUNTY)
        return "never"

    app.add_url_rule("/test-page", "test_page", page)
    app.add_url_rule("/api/v1/test-page", "test_api_page", page)
    county = role_client(app, "viewer", COUNTY)
    resp = county.get("/test-page")
    assert resp.status_code == 403 and "not permitted at site" in resp.get_data(as_text=True)
    assert "<h1>403</h1>" in resp.get_data(as_text=True)
    resp = county.get("/api/v1/test-page")
    assert resp.status_code == 403 and resp.json == {"error": "not permitted at site 'chaohu-lujiang'"}


def test_last_administrator_cannot_be_removed(db: sqlite_utils.Database) -> None:
    import pytest

    make_user(db, "only", "administrator", PROVINCE)
    with pytest.raises(users.AccountError, match="last enabled administrator"):
        users.update(db, "only", role="viewer", actor="t")
    with pytest.raises(users.AccountError, match="last enabled administrator"):
        users.update(db, "only", disabled=True, actor="t")
    make_user(db, "second", "administrator", PROVINCE)
    assert users.update(db, "only", role="viewer", actor="t").role == "viewer"
