"""Authorisation: the declaration decorator and the principal of the request.

Skeleton owned by the accounts issue; the contract (signatures) is fixed:
``require(permission, site_arg=None)`` tags a view; ``install(app)`` enforces.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import g

F = TypeVar("F", bound=Callable[..., Any])

PUBLIC = "public"  # permission for pages anyone may open (login page, static)


def require(permission: str, site_arg: str | None = None) -> Callable[[F], F]:
    """Declare the permission a view needs, and the URL argument naming its site (if scoped)."""

    def tag(view: F) -> F:
        view.required_permission = permission  # type: ignore[attr-defined]
        view.required_site_arg = site_arg  # type: ignore[attr-defined]
        return view

    return tag


def current_principal() -> Any:
    return getattr(g, "principal", None)
