""" "Who can see what": the policy's answers laid out for one site or one user.

Computed with the same :func:`authorize` every request goes through, so the
report cannot disagree with enforcement.
"""

from __future__ import annotations

from typing import Any

from nms.auth import principals, subjects, tokens, users
from nms.auth.policy import Principal, authorize, covers
from nms.auth.roles import PERMISSIONS
from nms.db import Database
from probes.common.inventory_model import Inventory


def _perms_at(principal: Principal, site: str) -> list[str]:
    return [p for p in PERMISSIONS if authorize(principal, p, site)]


def for_site(
    db: Database,
    site: str,
    tree: Inventory | None,
    *,
    now: float,
    viewer: Principal | None = None,
) -> dict[str, Any]:
    """Every enabled account and active token with at least one permission at ``site``.

    Given a ``viewer``, accounts and tokens outside the viewer's scope (a province
    administrator, for a city administrator) are counted in ``hidden``, not named.
    """
    people = []
    hidden = 0
    for user in users.list_users(db):
        if user.disabled:
            continue
        if viewer is not None and not covers(viewer, user.site):
            hidden += bool(_perms_at(principals.of_user(user, tree), site))
            continue
        perms = _perms_at(principals.of_user(user, tree), site)
        if perms:
            people.append({"name": user.name, "role": user.role, "bound_to": user.site, "permissions": perms})
    toks = []
    for token in tokens.list_tokens(db, include_revoked=False):
        if not token.active(now):
            continue
        if token.kind == "kiosk":
            principal = principals.of_kiosk(token, tree, via="bearer")
        elif token.kind == "agent":
            principal = principals.of_agent(token, tree)
        else:
            user = users.get(db, token.subject or "")
            if user is None or user.disabled:
                continue
            principal = principals.of_user(user, tree, via="bearer", token_id=token.id)
        perms = _perms_at(principal, site)
        if perms and viewer is not None and not subjects.may_hold(viewer, db, token, tree):
            hidden += 1
        elif perms:
            toks.append({"id": token.id, "kind": token.kind, "subject": token.subject, "permissions": perms})
    return {"site": site, "users": people, "tokens": toks, "hidden": hidden}


def for_user(
    db: Database,
    name: str,
    tree: Inventory | None,
    *,
    now: float,
    viewer: Principal | None = None,
) -> dict[str, Any] | None:
    """What one user may do, and where (None when there is no such user in the viewer's scope)."""
    user = users.get(db, name)
    if user is None or (viewer is not None and not covers(viewer, user.site)):
        return None
    principal = principals.of_user(user, tree)
    return {
        "user": user.public(),
        "permissions": [] if user.disabled else sorted(principal.permissions),
        "sites": "all" if principal.scope is None else sorted(principal.scope),
        "tokens": [
            t.public()
            for t in tokens.list_tokens(db, include_revoked=False)
            if t.kind == "user" and t.subject == name and t.active(now)
        ],
    }
