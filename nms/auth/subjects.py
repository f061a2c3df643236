"""Scope of the subjects of administration: accounts, tokens, agents, kiosks.

The same rule as for every other subject (:func:`nms.auth.policy.covers`): a
principal acts on a subject only when the subject lies inside its scope, and a
subject that reaches beyond it (a token of the whole province, an agent missing
from the inventory) belongs to province administrators only.  Granting is bounded
too: nobody creates an account or a token wider than themselves.
"""

from __future__ import annotations

from nms.auth import tokens, users
from nms.auth.policy import Principal, covers, covers_all
from nms.auth.roles import permissions_of_role
from nms.auth.tokens import Token
from nms.db import Database
from probes.common.inventory_model import Inventory


class OutOfScope(ValueError):
    """The subject lies outside the principal's scope; the message says which and why."""


def may_hold(
    principal: Principal | None, db: Database, token: Token, tree: Inventory | None
) -> bool:
    """May the principal see, list or revoke this token?"""
    return covers_all(principal, tokens.reach(db, token.kind, token.subject, token.site, tree))


def not_wider(principal: Principal | None, role: str) -> bool:
    """A role whose permissions the principal holds all of (never grant more than you have)."""
    return principal is not None and permissions_of_role(role) <= principal.permissions


def check_grant(principal: Principal | None, role: str, site: str) -> None:
    """Raise OutOfScope unless the principal may bind an account with ``role`` to ``site``."""
    if not covers(principal, site):
        raise OutOfScope(f"site {site!r} is outside your scope")
    if not not_wider(principal, role):
        raise OutOfScope(f"role {role!r} holds permissions you do not have")


def check_user(principal: Principal | None, user: users.User) -> None:
    """Raise OutOfScope unless the principal may manage this account."""
    if not covers(principal, user.site):
        raise OutOfScope(f"user {user.name!r} is outside your scope")
    if not not_wider(principal, user.role):
        raise OutOfScope(f"user {user.name!r} holds permissions you do not have")


def check_token_grant(
    principal: Principal | None,
    db: Database,
    kind: str,
    subject: str | None,
    site: str | None,
    tree: Inventory | None,
) -> None:
    """Raise OutOfScope unless the principal may create this token: its subject inside the
    principal's scope and its reach never wider than the principal's."""
    user = users.get(db, subject or "") if kind == "user" else None
    if user is not None:
        check_user(principal, user)  # an unknown user is refused by tokens.create
    if kind == "kiosk" and not covers(principal, site):
        where = "the whole province" if site is None else f"site {site!r}"
        raise OutOfScope(f"a kiosk token for {where} is outside your scope")
    if kind == "agent" and not covers_all(principal, tokens.reach(db, kind, subject, site, tree)):
        raise OutOfScope(f"agent {subject!r} is not an agent of your scope")
