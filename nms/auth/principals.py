"""Turning an account or a token into the :class:`Principal` the policy decides on."""

from __future__ import annotations

from nms.auth.policy import Principal
from nms.auth.roles import AGENT_PERMISSIONS, KIOSK_PERMISSIONS, permissions_of_role
from nms.auth.scope import scope_of_site
from nms.auth.tokens import Token
from nms.auth.users import User
from probes.common.inventory_model import Inventory


def of_user(
    user: User, tree: Inventory | None, *, via: str = "session", token_id: int | None = None
) -> Principal:
    return Principal(
        kind="user",
        name=user.name,
        role=user.role,
        site=user.site,
        permissions=permissions_of_role(user.role),
        scope=scope_of_site(user.site, tree),
        via=via,
        user_id=user.id,
        token_id=token_id,  # type: ignore[arg-type]
    )


def of_agent(token: Token, tree: Inventory | None) -> Principal:
    """An agent may only push samples; its scope is the sites the inventory gives it."""
    name = token.subject or ""
    scope: frozenset[str] = frozenset()
    if tree is not None and name in tree.agents:
        scope = frozenset(tree.agents[name].sites)
    return Principal(
        kind="agent",
        name=name,
        role=None,
        site=None,
        permissions=AGENT_PERMISSIONS,
        scope=scope,
        via="bearer",
        token_id=token.id,
    )


def of_kiosk(token: Token, tree: Inventory | None, *, via: str) -> Principal:
    return Principal(
        kind="kiosk",
        name=f"kiosk-{token.id}",
        role=None,
        site=token.site,
        permissions=KIOSK_PERMISSIONS,
        scope=scope_of_site(token.site, tree),
        via=via,
        token_id=token.id,
        read_only=True,  # type: ignore[arg-type]
    )
