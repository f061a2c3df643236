"""The IPAM pages through real sign-in: scope, request form, decision form, subnet map."""

from __future__ import annotations

import re

import pytest

from tests.auth.helpers import role_client

from .helpers import COUNTY, OTHER_COUNTY, inventory, pool_of


@pytest.fixture
def app(planned):
    return planned


def test_county_page_request_form_and_operator_decision(app):
    county = role_client(app, "county_admin", COUNTY)
    page = county.get("/ipam/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    own, other = pool_of(app, COUNTY), pool_of(app, OTHER_COUNTY)
    assert own.cidr in html and other.cidr not in html and OTHER_COUNTY not in html
    form = {"site": COUNTY, "space": "专网", "family": "4", "prefix_length": "27", "purpose": "cameras",
            "justification": "county square"}
    assert county.post("/ipam/requests", data=form, csrf=False).status_code == 400  # no CSRF token
    r = county.post("/ipam/requests", data=form)
    assert r.status_code == 302
    bad = county.post("/ipam/requests", data={**form, "prefix_length": "8"})
    assert bad.status_code == 422 and "prefix_length" in bad.get_data(as_text=True)
    assert county.post("/ipam/requests", data={**form, "site": OTHER_COUNTY}).status_code == 403
    op = role_client(app, "operator", "anhui")
    queue = op.get("/ipam/queue").get_data(as_text=True)
    rid = int(re.search(r"/ipam/requests/(\d+)/decide", queue).group(1))
    assert county.post(f"/ipam/requests/{rid}/decide", data={"action": "approve"}).status_code == 403
    r = op.post(f"/ipam/requests/{rid}/decide", data={"action": "approve", "reason": "fine"})
    assert r.status_code == 302
    html = county.get("/ipam/").get_data(as_text=True)
    assert f"request #{rid} approved" in html


def test_subnet_map_page(app):
    admin = role_client(app, "administrator", "anhui")
    county = role_client(app, "county_admin", COUNTY)
    city_pool = pool_of(app, "hefei")
    html = admin.get(f"/ipam/pools/{city_pool.id}").get_data(as_text=True)
    cells = re.findall(r'class="cell" data-pct="([\d.]+)"', html)
    assert len(cells) == 256
    assert pool_of(app, COUNTY).cidr in html  # the county's block is a child of the city pool
    # the management /24s of hefei's counties live elsewhere; county pools are containers: map shows 0% used
    assert all(float(p) == 0.0 for p in cells)
    assert county.get(f"/ipam/pools/{pool_of(app, COUNTY).id}").status_code == 200
    assert county.get(f"/ipam/pools/{pool_of(app, OTHER_COUNTY).id}").status_code == 403
    mgmt = admin.get("/api/v1/ipam/prefixes?status=container&site=anhui&limit=50").get_json()
    block = next(p for p in mgmt if p["purpose"].startswith("device management") and p["family"] == 4)
    html = admin.get(f"/ipam/pools/{block['id']}").get_data(as_text=True)
    pcts = [float(p) for p in re.findall(r'class="cell" data-pct="([\d.]+)"', html)]
    assert len(pcts) == 256 and pcts.count(100.0) == len(inventory().sites)  # a /24 per site


def test_subnet_map_api_hides_other_sites_labels(app):
    from .helpers import user_token

    viewer = user_token(app, "v-hefei", "viewer", "hefei")
    admin = user_token(app, "adm", "administrator", "anhui")
    c = app.test_client()
    root = pool_of(app, "anhui")
    full = c.get(f"/api/v1/ipam/pools/{root.id}/map?cells=64", headers=admin).get_json()
    assert len(full["cells"]) == 64 and full["cell_prefix_length"] == 14
    assert any(cell["child"] and "chaohu" in cell["child"] for cell in full["cells"])
    assert c.get(f"/api/v1/ipam/pools/{root.id}/map", headers=viewer).status_code == 403
    city = c.get(f"/api/v1/ipam/pools/{pool_of(app, 'hefei').id}/map", headers=viewer).get_json()
    labelled = {cell["child"].split()[2] for cell in city["cells"] if cell["child"]}
    assert labelled and labelled <= inventory().subtree("hefei")


def test_decision_form_refuses_approving_ones_own_request(app):
    admin = role_client(app, "administrator", "anhui")
    form = {"site": COUNTY, "space": "专网", "family": "4", "prefix_length": "27", "purpose": "cameras",
            "justification": "county square"}
    assert admin.post("/ipam/requests", data=form).status_code == 302
    queue = admin.get("/ipam/queue").get_data(as_text=True)
    rid = int(re.search(r"/ipam/requests/(\d+)/decide", queue).group(1))
    r = admin.post(f"/ipam/requests/{rid}/decide", data={"action": "approve"})
    assert r.status_code == 403 and "four-eyes" in r.get_data(as_text=True)
    op = role_client(app, "operator", "anhui")
    assert op.post(f"/ipam/requests/{rid}/decide", data={"action": "approve"}).status_code == 302
