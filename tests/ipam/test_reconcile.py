"""Reconciliation of observed addresses (ARP / interface tables) against the plan."""

from __future__ import annotations

import pytest

from ipam import store
from ipam.addresses import parse_prefix
from ipam.errors import BadInput, Forbidden
from ipam.reconcile import reconcile

from .helpers import COUNTY, OTHER_COUNTY, pool_of, user_token


def _plan(fresh_db):
    db = fresh_db()
    sp = store.space_id(db, "专网")

    def add(cidr, status, site, **kw):
        return store.add(db, sp, parse_prefix(cidr), status=status, actor="t", site=site, **kw)

    add("10.0.0.0/8", "container", "p", is_pool=True)
    add("10.1.0.0/16", "container", "a", is_pool=True)
    add("10.1.1.0/24", "allocated", "a", purpose="lan")
    add("10.1.2.0/24", "allocated", "a", purpose="old lan")
    add("10.2.0.0/16", "container", "b", is_pool=True)
    add("10.2.1.0/24", "allocated", "b")
    add("fd00::/48", "container", "a", is_pool=True)
    add("fd00::/64", "allocated", "a")
    return db, sp


def test_reconcile_finds_unplanned_wrong_site_and_unseen(fresh_db):
    db, sp = _plan(fresh_db)
    obs = [
        {"device": "a-rtr1", "site": "a", "address": "10.1.1.5"},
        {"device": "a-rtr1", "site": "a", "address": "fd00::1"},
        {"device": "a-sw1", "site": "a", "address": "10.1.9.9"},  # in a's pool, but not allocated
        {"device": "a-sw1", "site": "a", "address": "10.2.1.7"},  # b's range, seen at a
        {"device": "a-fw1", "site": "a", "address": "192.168.1.1"},  # nowhere in the plan
    ]
    out = reconcile(db, sp, obs, None)
    assert out["matched"] == 2
    assert [(u["address"], u["pool_site"]) for u in out["unplanned"]] == [
        ("10.1.9.9", "a"), ("192.168.1.1", None)]
    assert [(w["address"], w["planned_site"], w["prefix"]) for w in out["wrong_site"]] == [
        ("10.2.1.7", "b", "10.2.1.0/24")]
    assert [u["prefix"] for u in out["unseen"]] == ["10.1.2.0/24"]


def test_reconcile_names_no_owner_outside_the_callers_scope(fresh_db):
    db, sp = _plan(fresh_db)
    obs = [
        {"device": "a-sw1", "site": "a", "address": "10.2.1.7"},  # b's range, seen at a
        {"device": "a-sw1", "site": "a", "address": "10.2.9.9"},  # b's pool, not allocated
        {"device": "a-sw1", "site": "a", "address": "10.9.9.9"},  # the province's pool (p)
        {"device": "a-sw1", "site": "a", "address": "10.1.9.9"},  # a's own pool
    ]
    out = reconcile(db, sp, obs, frozenset({"a"}))
    assert [(w["address"], w["prefix"], w["planned_site"]) for w in out["wrong_site"]] == [
        ("10.2.1.7", None, None)]
    assert [(u["address"], u["pool"], u["pool_site"]) for u in out["unplanned"]] == [
        ("10.2.9.9", None, None), ("10.9.9.9", None, None), ("10.1.9.9", "10.1.0.0/16", "a")]
    text = repr(out)
    assert not any(x in text for x in ("'b'", "'p'", "10.2.1.0/24", "10.2.0.0/16", "10.0.0.0/8"))
    full = reconcile(db, sp, obs, None)  # the province sees every owner
    assert [u["pool_site"] for u in full["unplanned"]] == ["b", "p", "a"]
    assert full["wrong_site"][0]["planned_site"] == "b"


def test_reconcile_rejects_bad_observations_and_other_sites(fresh_db):
    db, sp = _plan(fresh_db)
    with pytest.raises(BadInput) as info:
        reconcile(db, sp, [{"device": "x", "site": "a", "address": "10.1.1.999"}], None)
    assert info.value.field == "observations[0].address"
    with pytest.raises(BadInput):
        reconcile(db, sp, [{"device": "", "site": "a", "address": "10.1.1.1"}], None)
    with pytest.raises(Forbidden):
        reconcile(db, sp, [{"device": "x", "site": "b", "address": "10.2.1.1"}], frozenset({"a"}))


def test_reconcile_endpoint_is_scoped(planned):
    app = planned
    county = user_token(app, "ca1", "county_admin", COUNTY)
    pool = pool_of(app, COUNTY)
    inside = pool.cidr.split("/")[0].rsplit(".", 1)[0] + ".9"
    c = app.test_client()
    r = c.post("/api/v1/ipam/reconcile", headers=county,
               json={"space": "专网",
                     "observations": [{"device": "fd-rtr", "site": COUNTY, "address": inside}]})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["unplanned"][0]["pool_site"] == COUNTY
    other = pool_of(app, OTHER_COUNTY)
    theirs = other.cidr.split("/")[0].rsplit(".", 1)[0] + ".9"  # another county's pool, seen here
    r = c.post("/api/v1/ipam/reconcile", headers=county,
               json={"observations": [{"device": "fd-rtr", "site": COUNTY, "address": theirs}]})
    assert r.status_code == 200, r.get_json()
    (finding,) = r.get_json()["unplanned"] + r.get_json()["wrong_site"]
    assert finding.get("pool_site") is None and finding.get("planned_site") is None
    assert finding.get("pool") is None and finding.get("prefix") is None
    assert OTHER_COUNTY not in r.get_data(as_text=True) and other.cidr not in r.get_data(as_text=True)
    r = c.post("/api/v1/ipam/reconcile", headers=county,
               json={"observations": [{"device": "x", "site": OTHER_COUNTY, "address": "10.0.0.1"}]})
    assert r.status_code == 403
    r = c.post("/api/v1/ipam/reconcile", headers=county, json={"observations": "nope"})
    assert r.status_code == 422 and r.get_json()["field"] == "observations"
