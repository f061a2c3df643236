"""The role-permission matrix and site scope, decided by the one authorize function."""

from __future__ import annotations

import pytest

from nms.auth import principals
from nms.auth.policy import AUTHENTICATED, PUBLIC, Principal, authorize, require, scope_sites
from nms.auth.roles import PERMISSIONS, ROLE_PERMISSIONS, check_role
from nms.auth.tokens import Token
from nms.auth.users import User
from tests.auth.helpers import COUNTY, OTHER_COUNTY, tiny_inventory

TREE = tiny_inventory()

# The matrix as the issue states it, written out again so a slip in roles.py shows up.
VIEWER = {"status.read", "metrics.read", "alerts.read", "reports.read", "ipam.read"}
EXPECTED = {
    "viewer": VIEWER,
    "county_admin": VIEWER | {"ipam.request", "portals.approve"},  # their own portals' baselines
    "operator": VIEWER | {"alerts.ack", "ipam.approve", "configs.read", "configs.fetch", "portals.approve"},
    "administrator": set(PERMISSIONS) - {"ingest.write"},
}


def user(role: str, site: str) -> Principal:
    u = User(
        id=1,
        name=f"{role}-{site}",
        role=role,
        site=site,
        disabled=False,
        session_gen=0,
        created_ts=0.0,
        updated_ts=0.0,
    )
    return principals.of_user(u, TREE)


def token(kind: str, subject: str | None = None, site: str | None = None) -> Token:
    return Token(
        id=7,
        kind=kind,
        subject=subject,
        site=site,
        label=None,
        created_ts=0.0,
        created_by="t",
        expires_ts=None,
        revoked_ts=None,
        last_used_ts=None,
    )


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_matrix_is_as_issued(role: str) -> None:
    assert set(ROLE_PERMISSIONS[role]) == EXPECTED[role]
    p = user(role, "anhui")
    for perm in PERMISSIONS:
        assert authorize(p, perm) is (perm in EXPECTED[role]), (role, perm)


def test_agent_and_kiosk_tokens() -> None:
    agent = principals.of_agent(token("agent", "hefei"), TREE)
    assert [p for p in PERMISSIONS if authorize(agent, p)] == ["ingest.write"]
    assert scope_sites(agent) == {"hefei", "hefei-feidong"}
    kiosk = principals.of_kiosk(token("kiosk"), TREE, via="kiosk")
    assert {p for p in PERMISSIONS if authorize(kiosk, p)} == {"status.read", "metrics.read", "alerts.read"}
    assert kiosk.read_only
    assert not authorize(kiosk, AUTHENTICATED) and not authorize(agent, AUTHENTICATED)


def test_scope_inherits_downwards_only() -> None:
    city = user("operator", "hefei")
    assert scope_sites(city) == {"hefei", "hefei-feidong", "hefei-changfeng"}
    assert authorize(city, "alerts.ack", COUNTY)
    assert not authorize(city, "alerts.ack", OTHER_COUNTY)
    assert not authorize(city, "alerts.ack", "anhui")  # not upwards
    county = user("county_admin", COUNTY)
    assert scope_sites(county) == {COUNTY}
    assert authorize(county, "ipam.request", COUNTY)
    assert not authorize(county, "ipam.request", OTHER_COUNTY)
    assert not authorize(county, "ipam.approve", COUNTY)  # not in the role at all
    province = user("viewer", "anhui")
    assert scope_sites(province) is None
    assert authorize(province, "status.read", OTHER_COUNTY)


def test_deny_by_default() -> None:
    assert not authorize(None, "status.read")
    assert not authorize(None, AUTHENTICATED)
    assert authorize(None, PUBLIC)
    assert scope_sites(None) == set()
    odd = user("superuser", "anhui")  # a role the matrix does not know
    assert not any(authorize(odd, p) for p in PERMISSIONS)
    with pytest.raises(ValueError, match="unknown role"):
        check_role("superuser")


def test_require_rejects_unknown_permission() -> None:
    with pytest.raises(ValueError, match="unknown permission 'status.raed'"):
        require("status.raed")


def test_unknown_tree_fails_closed() -> None:
    u = User(
        id=1, name="x", role="viewer", site="anhui", disabled=False, session_gen=0, created_ts=0, updated_ts=0
    )
    p = principals.of_user(u, None)  # no inventory: scope is just the bound site
    assert scope_sites(p) == {"anhui"}
    assert not authorize(p, "status.read", COUNTY)
