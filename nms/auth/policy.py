"""Authorisation: the declaration decorator, the principal, and the one deciding function.

``require(permission, site_arg=None)`` tags a view; :func:`nms.auth.enforce.install`
makes every request pass :func:`authorize` with that declaration.  Nothing else in
the project decides access: pages, API and exports all come through here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from flask import abort, g

from nms.auth.roles import AUTHENTICATED, PUBLIC, check_permission

F = TypeVar("F", bound=Callable[..., Any])

__all__ = [
    "AUTHENTICATED",
    "PUBLIC",
    "Principal",
    "authorize",
    "covers",
    "covers_all",
    "current_principal",
    "declaration_of",
    "require",
    "require_site",
    "scope_sites",
]

PrincipalKind = Literal["user", "agent", "kiosk"]


@dataclass(frozen=True)
class Principal:
    """Who is asking: a person (by session or their API token), an agent, or the wall kiosk."""

    kind: PrincipalKind
    name: str  # user name, agent name, or "kiosk-<token id>"
    role: str | None  # user role; None for agent and kiosk tokens
    site: str | None  # site the account is bound to; None = whole province
    permissions: frozenset[str]
    scope: frozenset[str] | None  # sites covered (subtree of ``site``); None = all
    via: Literal["session", "bearer", "kiosk"] = "session"
    user_id: int | None = None
    token_id: int | None = None
    read_only: bool = False  # kiosk: every state-changing request is refused
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def actor(self) -> str:
        """Name for the audit log's ``actor`` column."""
        if self.kind == "user":
            return self.name
        return f"{self.kind}:{self.name}"


def require(permission: str, site_arg: str | None = None) -> Callable[[F], F]:
    """Declare the permission a view needs, and the URL argument naming its site (if scoped).

    Put it *below* ``@bp.route`` so the function Flask registers carries the tag.
    """
    check_permission(permission)

    def tag(view: F) -> F:
        view.required_permission = permission  # type: ignore[attr-defined]
        view.required_site_arg = site_arg  # type: ignore[attr-defined]
        return view

    return tag


def declaration_of(view: Any) -> tuple[str, str | None] | None:
    """(permission, site_arg) declared on a view function or its class; None if undeclared."""
    for obj in (view, getattr(view, "view_class", None)):
        perm = getattr(obj, "required_permission", None)
        if perm is not None:
            return perm, getattr(obj, "required_site_arg", None)
    return None


def authorize(principal: Principal | None, permission: str, site: str | None = None) -> bool:
    """The one decision: may ``principal`` use ``permission`` (at ``site``, if given)?"""
    if permission == PUBLIC:
        return True
    if principal is None:
        return False
    if permission == AUTHENTICATED:
        return principal.kind == "user"
    if permission not in principal.permissions:
        return False
    if site is None:
        return True
    return principal.scope is None or site in principal.scope


def covers(principal: Principal | None, site: str | None) -> bool:
    """Does the principal's scope hold a subject at ``site``?

    A subject with no site (an unplaced device, a province-wide token, an audit row
    nobody could place) belongs to the province: only a principal whose scope is the
    whole province covers it.  Deny by default.
    """
    if principal is None:
        return False
    if principal.scope is None:
        return True
    return site is not None and site in principal.scope


def covers_all(principal: Principal | None, sites: frozenset[str] | None) -> bool:
    """Does the principal's scope hold every site of ``sites`` (None = the whole province)?

    An empty set is an unknown reach (an agent missing from the inventory): province only.
    """
    if principal is None:
        return False
    if principal.scope is None:
        return True
    return bool(sites) and sites <= principal.scope  # type: ignore[operator]


def scope_sites(principal: Principal | None) -> set[str] | None:
    """Sites a list view should show this principal; None means every site."""
    if principal is None:
        return set()
    if principal.scope is None:
        return None
    return set(principal.scope)


def current_principal() -> Principal | None:
    """The principal of the current request (None when anonymous)."""
    return getattr(g, "principal", None)


def require_site(site: str | None, permission: str | None = None) -> None:
    """Abort with 403 unless the current principal may act on a subject at ``site``.

    For subjects a view finds itself (a device, a site named in a request body).
    ``None`` is a subject without a site: province scope only.  The permission
    defaults to the one the view declared.
    """
    perm = permission or getattr(g, "auth_permission", None)
    principal = current_principal()
    if perm is None or not authorize(principal, perm, site) or not covers(principal, site):
        abort(403, description=f"not permitted at site {site!r}")
