"""The request workflow and the REST API through the real app, real logins and tokens."""

from __future__ import annotations

import ipaddress
import time

import pytest

from ipam import workflow
from tests.auth.helpers import app_db, role_client

from .helpers import CITY, COUNTY, OTHER_COUNTY, counts, pool_of, user_token

API = "/api/v1/ipam"


@pytest.fixture
def app(planned):
    return planned


@pytest.fixture
def tokens(app):
    return {
        "admin": user_token(app, "admin1", "administrator", "anhui"),
        "op": user_token(app, "op1", "operator", "anhui"),
        "county": user_token(app, "ca1", "county_admin", COUNTY),
        "other": user_token(app, "ca2", "county_admin", OTHER_COUNTY),
        "viewer": user_token(app, "view1", "viewer", CITY),
    }


def _request(client, headers, site=COUNTY, **extra):
    body = {"site": site, "space": "专网", "family": 4, "prefix_length": 26, "purpose": "video conference",
            "justification": "new meeting rooms", **extra}
    return client.post(f"{API}/requests", json=body, headers=headers)


def test_county_requests_centre_approves_and_requester_is_notified(app, tokens):
    c = app.test_client()
    r = _request(c, tokens["county"])
    assert r.status_code == 201, r.get_json()
    rid = r.get_json()["id"]
    assert r.get_json()["status"] == "pending"
    pending = c.get(f"{API}/requests?status=pending", headers=tokens["op"]).get_json()
    assert [q["id"] for q in pending] == [rid]
    r = c.post(f"{API}/requests/{rid}/approve", json={"reason": "ok"}, headers=tokens["op"])
    assert r.status_code == 200, r.get_json()
    got = r.get_json()
    assert got["status"] == "approved" and got["decided_by"] == "op1"
    pool = pool_of(app, COUNTY)
    net = ipaddress.ip_network(got["prefix"])
    assert net.prefixlen == 26 and net.subnet_of(ipaddress.ip_network(pool.cidr))
    notes = c.get(f"{API}/notifications", headers=tokens["county"]).get_json()
    assert any("approved" in n["message"] and got["prefix"] in n["message"] for n in notes)
    assert not any(n["seen"] for n in notes)
    assert c.post(f"{API}/notifications/seen", headers=tokens["county"]).get_json()["marked"] == len(notes)
    assert all(n["seen"] for n in c.get(f"{API}/notifications", headers=tokens["county"]).get_json())
    # the requester sees the range among their prefixes; the audit log has who/before/after/why
    mine = c.get(f"{API}/prefixes?site={COUNTY}&status=allocated", headers=tokens["county"]).get_json()
    assert got["prefix"] in [p["prefix"] for p in mine]
    db = app_db(app)
    row = db.execute("SELECT actor, before, after, reason FROM audit_log WHERE action='ipam.request.approve'"
                     ).fetchone()
    assert row[0] == "op1" and '"pending"' in row[1] and '"approved"' in row[2] and row[3] == "ok"
    # and releases it again
    r = c.post(f"{API}/prefixes/{got['prefix_id']}/release", json={"reason": "room cancelled"},
               headers=tokens["county"])
    assert r.status_code == 200, r.get_json()
    assert c.get(f"{API}/requests/{rid}", headers=tokens["county"]).get_json()["status"] == "released"


def test_session_login_request_amend_reject(app):
    county = role_client(app, "county_admin", COUNTY)
    op = role_client(app, "operator", "anhui")
    r = county.post(f"{API}/requests", json={"site": COUNTY, "space": "外网", "family": 6, "hosts": 50,
                                             "purpose": "dmz", "justification": "web portal"})
    assert r.status_code == 201, r.get_json()
    rid = r.get_json()["id"]
    assert r.get_json()["plen"] == 64
    r = op.post(f"{API}/requests/{rid}/amend", json={"prefix_length": 60, "reason": "room to grow"})
    assert r.status_code == 200 and r.get_json()["plen"] == 60
    assert op.post(f"{API}/requests/{rid}/reject", json={}).status_code == 422  # reason required
    r = op.post(f"{API}/requests/{rid}/reject", json={"reason": "use the 专网 instead"})
    assert r.get_json()["status"] == "rejected"
    notes = county.get(f"{API}/notifications").get_json()
    assert any("rejected: use the 专网 instead" in n["message"] for n in notes)
    assert any("amended to a /60" in n["message"] for n in notes)
    assert op.post(f"{API}/requests/{rid}/approve", json={}).status_code == 409  # no longer pending


def test_approval_needs_a_second_person_unless_the_centre_relaxes_it(app, tokens):
    import json

    c = app.test_client()
    rid = _request(c, tokens["admin"]).get_json()["id"]
    before = counts(app)
    r = c.post(f"{API}/requests/{rid}/approve", json={}, headers=tokens["admin"])
    assert r.status_code == 403 and r.get_json()["field"] == "requester"
    assert "four-eyes" in r.get_json()["error"] and "NMS_IPAM_ALLOW_SELF_APPROVAL" in r.get_json()["error"]
    assert counts(app) == before  # nothing allocated, nothing audited
    r = c.post(f"{API}/requests/{rid}/approve", json={"reason": "fine"}, headers=tokens["op"])
    assert r.status_code == 200 and r.get_json()["decided_by"] == "op1"
    db = app_db(app)
    actor, after, reason = db.execute(
        "SELECT actor, after, reason FROM audit_log WHERE action='ipam.request.approve'").fetchone()
    assert (actor, json.loads(after)["requester"], json.loads(after)["decided_by"], reason) == (
        "op1", "admin1", "op1", "fine")
    # a one-person centre relaxes the rule; the audit entry says the requester approved it
    app.config["NMS_SETTINGS"].ipam_allow_self_approval = True
    rid2 = _request(c, tokens["admin"]).get_json()["id"]
    r = c.post(f"{API}/requests/{rid2}/approve", json={}, headers=tokens["admin"])
    assert r.status_code == 200 and r.get_json()["decided_by"] == "admin1"
    actor, after, reason = db.execute(
        "SELECT actor, after, reason FROM audit_log WHERE action='ipam.request.approve' AND target=?",
        (f"ipam:request:{rid2}",)).fetchone()
    assert actor == "admin1" and json.loads(after)["requester"] == "admin1"
    assert reason == "self-approved by requester admin1 (NMS_IPAM_ALLOW_SELF_APPROVAL=1)"
    db.conn.close()


def test_self_approval_setting_from_the_environment(monkeypatch):
    from nms.config import Settings

    monkeypatch.delenv("NMS_IPAM_ALLOW_SELF_APPROVAL", raising=False)
    assert Settings().ipam_allow_self_approval is False
    monkeypatch.setenv("NMS_IPAM_ALLOW_SELF_APPROVAL", "1")
    assert Settings().ipam_allow_self_approval is True


def test_county_admin_cannot_cross_into_another_county(app, tokens):
    c = app.test_client()
    other_pool = pool_of(app, OTHER_COUNTY)
    own_pool = pool_of(app, COUNTY)
    before = counts(app)
    assert c.get(f"{API}/prefixes/{other_pool.id}", headers=tokens["county"]).status_code == 403
    assert c.get(f"{API}/pools/{other_pool.id}/utilisation", headers=tokens["county"]).status_code == 403
    assert c.get(f"{API}/sites/{OTHER_COUNTY}/pools", headers=tokens["county"]).status_code == 403
    assert _request(c, tokens["county"], site=OTHER_COUNTY).status_code == 403
    # a request of the other county: invisible and not approvable by the county admin
    rid = _request(c, tokens["other"], site=OTHER_COUNTY).get_json()["id"]
    assert c.get(f"{API}/requests/{rid}", headers=tokens["county"]).status_code == 403
    assert c.post(f"{API}/requests/{rid}/approve", json={}, headers=tokens["county"]).status_code == 403
    assert c.post(f"{API}/requests/{rid}/approve", json={}, headers=tokens["other"]).status_code == 403
    assert [q["site"] for q in c.get(f"{API}/requests", headers=tokens["county"]).get_json()] == []
    # lists and exports are cut to the county, through the same scope function
    sites = {p["site"] for p in c.get(f"{API}/prefixes?limit=5000", headers=tokens["county"]).get_json()}
    assert sites == {COUNTY}
    csv_text = c.get(f"{API}/export.csv", headers=tokens["county"]).get_data(as_text=True)
    assert own_pool.cidr in csv_text and other_pool.cidr not in csv_text and OTHER_COUNTY not in csv_text
    assert c.get(f"{API}/prefixes/{own_pool.id}", headers=tokens["county"]).status_code == 200
    # the city viewer sees its counties but not another city's
    assert c.get(f"{API}/prefixes/{own_pool.id}", headers=tokens["viewer"]).status_code == 200
    assert c.get(f"{API}/prefixes/{other_pool.id}", headers=tokens["viewer"]).status_code == 403
    assert counts(app)[0] == before[0]


def test_without_token_401_and_without_permission_403(app, tokens):
    c = app.test_client()
    assert c.get(f"{API}/prefixes").status_code == 401
    assert c.get(f"{API}/prefixes", headers={"Authorization": "Bearer nms_wrong"}).status_code == 401
    pool = pool_of(app, COUNTY)
    assert c.post(f"{API}/pools/{pool.id}/allocate", json={"prefix_length": 28},
                  headers=tokens["op"]).status_code == 403  # allocation outside requests is ipam.admin
    assert _request(c, tokens["viewer"], site=CITY).status_code == 403


@pytest.mark.parametrize("body, field", [
    ({"space": "专网", "prefix": "10.300.0.0/24"}, "prefix"),
    ({"space": "专网", "prefix": "banana"}, "prefix"),
    ({"space": "专网", "prefix": "10.99.0.1/24"}, "prefix"),  # host bits set
    ({"space": "专网", "prefix": "192.168.0.0/24", "parent_id": "POOL"}, "prefix"),  # outside the pool
    ({"space": "火星", "prefix": "10.99.0.0/24"}, "space"),
    ({"space": "专网", "prefix": "10.99.0.0/24", "status": "stolen"}, "status"),
])
def test_bad_prefix_input_names_the_field_and_stores_nothing(app, tokens, body, field):
    c = app.test_client()
    before = counts(app)
    if body.get("parent_id") == "POOL":
        body = {**body, "parent_id": pool_of(app, COUNTY).id}
    r = c.post(f"{API}/prefixes", json=body, headers=tokens["admin"])
    assert 400 <= r.status_code < 500 and r.get_json()["field"] == field, r.get_json()
    assert field in r.get_json()["error"]
    assert counts(app) == before


@pytest.mark.parametrize("extra, field", [
    ({"prefix_length": 8}, "prefix_length"),  # larger than the county pool
    ({"prefix_length": 20}, "prefix_length"),  # the whole pool
    ({"prefix_length": 33}, "prefix_length"),
    ({"prefix_length": None, "hosts": -3}, "hosts"),
    ({"prefix_length": None}, "prefix_length"),
    ({"purpose": ""}, "purpose"),
    ({"justification": None}, "justification"),
    ({"family": 5}, "family"),
    ({"space": "nowhere"}, "space"),
])
def test_bad_request_input_names_the_field_and_stores_nothing(app, tokens, extra, field):
    c = app.test_client()
    before = counts(app)
    r = _request(c, tokens["county"], **extra)
    assert r.status_code == 422 and r.get_json()["field"] == field, r.get_json()
    assert counts(app) == before


def test_allocate_idempotency_and_exhaustion(app, tokens):
    c = app.test_client()
    admin = tokens["admin"]
    r = c.post(f"{API}/prefixes", json={"space": "外网", "prefix": "198.18.0.0/29", "status": "container",
                                         "pool": True, "site": COUNTY}, headers=admin)
    assert r.status_code == 201, r.get_json()
    pool_id = r.get_json()["id"]
    key = {**admin, "Idempotency-Key": "job-42"}
    first = c.post(f"{API}/pools/{pool_id}/allocate", json={"prefix_length": 30}, headers=key)
    again = c.post(f"{API}/pools/{pool_id}/allocate", json={"prefix_length": 30}, headers=key)
    assert first.status_code == 201 and again.status_code == 200
    assert first.get_json()["id"] == again.get_json()["id"] and again.get_json()["created"] is False
    assert c.post(f"{API}/pools/{pool_id}/allocate", json={"prefix_length": 31},
                  headers=key).status_code == 409  # same key, different question
    assert c.post(f"{API}/pools/{pool_id}/allocate", json={"prefix_length": 30},
                  headers=admin).status_code == 201
    r = c.post(f"{API}/pools/{pool_id}/allocate", json={"prefix_length": 30}, headers=admin)
    assert r.status_code == 409 and "no free /30" in r.get_json()["error"]
    util = c.get(f"{API}/pools/{pool_id}/utilisation", headers=admin).get_json()
    assert util["assigned_pct"] == 100.0 and util["children"] == 2
    assert c.get(f"{API}/pools/{pool_id}/free", headers=admin).get_json()["free"] == []


def test_held_range_expires_unused(app, tokens):
    c = app.test_client()
    rid = _request(c, tokens["county"]).get_json()["id"]
    got = c.post(f"{API}/requests/{rid}/approve", json={"hold_days": 7}, headers=tokens["op"]).get_json()
    prefix = c.get(f"{API}/prefixes/{got['prefix_id']}", headers=tokens["county"]).get_json()
    assert prefix["status"] == "reserved" and prefix["hold_until"] > time.time() + 6 * 86400
    rid2 = _request(c, tokens["county"]).get_json()["id"]
    got2 = c.post(f"{API}/requests/{rid2}/approve", json={"hold_days": 7}, headers=tokens["op"]).get_json()
    r = c.post(f"{API}/prefixes/{got2['prefix_id']}/activate", headers=tokens["county"])
    assert r.status_code == 200 and r.get_json()["status"] == "allocated"
    db = app_db(app)
    expired = workflow.expire_holds(db, now=time.time() + 8 * 86400)
    assert expired == [got["prefix"]]
    assert c.get(f"{API}/requests/{rid}", headers=tokens["county"]).get_json()["status"] == "expired"
    assert c.get(f"{API}/prefixes/{got['prefix_id']}", headers=tokens["county"]).status_code == 404
    assert c.get(f"{API}/requests/{rid2}", headers=tokens["county"]).get_json()["status"] == "approved"
    notes = c.get(f"{API}/notifications", headers=tokens["county"]).get_json()
    assert any("expired unused" in n["message"] for n in notes)


def test_openapi_lists_every_route_with_its_permission(app, tokens):
    doc = app.test_client().get(f"{API}/openapi.json", headers=tokens["viewer"]).get_json()
    assert doc["openapi"].startswith("3.")
    ops = {(p, m): op for p, methods in doc["paths"].items() for m, op in methods.items()}
    assert ops[(f"{API}/requests", "post")]["x-permission"] == "ipam.request"
    assert ops[(f"{API}/requests/{{request_id}}/approve", "post")]["x-permission"] == "ipam.approve"
    assert "requestBody" in ops[(f"{API}/requests", "post")]
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith(API)]
    assert len(ops) >= len(rules)
    assert all(op["x-permission"] for op in ops.values())


def test_individual_addresses_inside_allocated_ranges(app, tokens):
    c = app.test_client()
    rid = _request(c, tokens["county"]).get_json()["id"]
    got = c.post(f"{API}/requests/{rid}/approve", json={}, headers=tokens["op"]).get_json()
    gw = str(next(ipaddress.ip_network(got["prefix"]).hosts()))
    r = c.post(f"{API}/addresses", json={"address": gw, "device": "feidong-rtr1", "description": "gateway"},
               headers=tokens["county"])
    assert r.status_code == 201 and r.get_json()["prefix"] == got["prefix"]
    assert c.post(f"{API}/addresses", json={"address": gw}, headers=tokens["county"]).status_code == 409
    assert c.post(f"{API}/addresses", json={"address": "10.0.0.256"},
                  headers=tokens["county"]).get_json()["field"] == "address"
    listed = c.get(f"{API}/prefixes/{got['prefix_id']}/addresses", headers=tokens["county"]).get_json()
    assert [a["address"] for a in listed] == [gw]
    util = c.get(f"{API}/pools/{got['prefix_id']}/utilisation", headers=tokens["county"]).get_json()
    assert util["addresses"] == 1 and util["addresses_pct"] == round(100 / 64, 3)
    # a range holding recorded addresses is not released by accident
    r = c.post(f"{API}/prefixes/{got['prefix_id']}/release", json={"reason": "x"}, headers=tokens["county"])
    assert r.status_code == 409 and "addresses" in r.get_json()["error"]


def test_county_admin_releases_only_ranges_from_requests(app, tokens):
    c = app.test_client()
    mine = c.get(f"{API}/prefixes?site={COUNTY}&status=allocated", headers=tokens["county"]).get_json()
    mgmt = [p for p in mine if p["purpose"] == "management"]
    assert mgmt, "the shipped plan records the county's management /24"
    r = c.post(f"{API}/prefixes/{mgmt[0]['id']}/release", json={"reason": "tidy"}, headers=tokens["county"])
    assert r.status_code == 403 and "request" in r.get_json()["error"]
    assert c.get(f"{API}/prefixes/{mgmt[0]['id']}", headers=tokens["county"]).status_code == 200
