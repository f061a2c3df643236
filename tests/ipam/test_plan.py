"""The shipped address plan, the template carving of an IPv6 plan, CSV round trips."""

from __future__ import annotations

import ipaddress

import pytest

from ipam import csvio, plan, plan_gen, store
from ipam.addresses import parse_prefix
from ipam.errors import BadInput
from probes.common.inventory_model import Inventory, Site

from .helpers import PLAN, inventory


def test_shipped_plan_gives_every_site_its_pools_in_both_spaces_and_families(fresh_db):
    db = fresh_db()
    inv = inventory()
    result = csvio.import_csv(db, PLAN.read_text(encoding="utf-8"), actor="test", known_sites=set(inv.sites))
    assert result["created"] == result["rows"] > 4 * len(inv.sites)
    for space in ("专网", "外网"):
        sid = store.space_id(db, space)
        for family in (4, 6):
            for site in inv.sites.values():
                pools = store.pools_of_site(db.conn, site.id, sid, family)
                assert len(pools) == 1, (space, family, site.id)
                pool = pools[0]
                if site.parent is not None:  # inside the parent site's pool
                    parent = store.get(db, pool.parent_id)
                    assert parent.site == site.parent and parent.is_pool
    # the management /24s of inventory.yaml are recorded for their sites
    for site in inv.sites.values():
        for network, cidr in getattr(site, "prefixes", ()):
            space = store.space_id(db, plan_gen.NETWORK_SPACE[network])
            found = store.find(db, space, parse_prefix(str(ipaddress.ip_network(cidr))))
            assert found is not None and found.site == site.id
    # importing the same file again changes nothing
    again = csvio.import_csv(db, PLAN.read_text(encoding="utf-8"), actor="test")
    assert again["created"] == 0 and again["skipped"] == again["rows"]


def test_plan_generator_reproduces_the_shipped_csv(fresh_db):
    db = fresh_db()
    assert plan_gen.build(db, inventory()) == []
    assert csvio.export_csv(db, None) == PLAN.read_text(encoding="utf-8"), (
        "inventory.yaml changed: regenerate the plan with `python -m ipam.plan_gen`")


def _tree(counties: int) -> Inventory:
    sites = [Site("p", "省", "p", "1", "province", None, 0, 0), Site("c", "市", "c", "2", "city", "p", 0, 0)]
    sites += [Site(f"k{i}", "县", f"k{i}", f"3{i:02}", "county", "c", 0, 0) for i in range(counties)]
    sites += [Site("d", "厅", "d", "4", "department", "p", 0, 0)]
    return Inventory(sites={s.id: s for s in sites})


def test_ipv6_template_check_refuses_before_carving_anything(fresh_db):
    db = fresh_db()
    space = store.space_id(db, "专网")
    root = store.add(db, space, parse_prefix("2001:db8::/32"), status="container", actor="t", is_pool=True,
                     site="p")
    before = db.execute("SELECT count(*) FROM ipam_prefixes").fetchone()[0]
    too_many = plan.check(db, root, _tree(17), {"city": 40, "county": 44, "department": 44})
    assert not too_many.ok and any("c: its 17 child sites" in p for p in too_many.problems)
    inverted = plan.check(db, root, _tree(2), {"city": 40, "county": 38, "department": 44})
    assert not inverted.ok and any("k0: /38" in p for p in inverted.problems)
    assert not plan.carve(db, root, _tree(17), {"city": 40, "county": 44, "department": 44}, actor="t").ok
    assert db.execute("SELECT count(*) FROM ipam_prefixes").fetchone()[0] == before
    with pytest.raises(BadInput):
        plan.parse_template({"city": 129}, 6)


def test_ipv6_template_carves_every_site_once(fresh_db):
    db = fresh_db()
    space = store.space_id(db, "专网")
    root = store.add(db, space, parse_prefix("2001:db8::/32"), status="container", actor="t", is_pool=True,
                     site="p")
    template = {"city": 40, "county": 44, "department": 48}
    checked = plan.check(db, root, _tree(16), template)
    assert checked.ok and len(checked.carved) == 18
    assert db.execute("SELECT count(*) FROM ipam_prefixes").fetchone()[0] == 1  # the check carved nothing
    result = plan.carve(db, root, _tree(16), template, actor="t")
    assert result.ok and len(result.carved) == 18
    carved = {c["site"]: ipaddress.ip_network(c["prefix"]) for c in result.carved}
    assert carved["c"].prefixlen == 40 and carved["d"].prefixlen == 48
    assert all(carved[f"k{i}"].subnet_of(carved["c"]) and carved[f"k{i}"].prefixlen == 44 for i in range(16))
    assert plan.carve(db, root, _tree(16), template, actor="t").carved == []  # idempotent
    assert db.execute("SELECT count(*) FROM audit_log WHERE action='ipam.plan.carve'").fetchone()[0] == 1


def test_csv_import_reports_every_bad_line_and_stores_nothing(fresh_db):
    db = fresh_db()
    text = ("space,prefix,status,site,purpose,pool,policy\n"
            "专网,10.0.0.0/8,container,p,root,yes,first\n"
            "专网,10.1.0.1/16,container,p,,,first\n"
            "专网,10.2.0.0/16,weird,p,,,first\n"
            "月球,10.3.0.0/16,allocated,p,,,first\n")
    with pytest.raises(csvio.ImportError_) as info:
        csvio.import_csv(db, text, actor="t")
    assert [e.split(":")[0] for e in info.value.errors] == ["line 3", "line 4", "line 5"]
    assert "host bits" in info.value.errors[0]
    assert db.execute("SELECT count(*) FROM ipam_prefixes").fetchone()[0] == 0
    overlap = ("space,prefix,status,site,purpose,pool,policy\n"
               "专网,10.0.0.0/8,allocated,p,root,,first\n"
               "专网,10.1.0.0/16,allocated,p,,,first\n")
    with pytest.raises(csvio.ImportError_) as info:
        csvio.import_csv(db, overlap, actor="t")
    assert "line 3" in info.value.errors[0] and "only containers" in info.value.errors[0]
    assert db.execute("SELECT count(*) FROM ipam_prefixes").fetchone()[0] == 0
