"""Shared page rendering: one base layout, with the CSRF token, the principal and the nav.

Templates of every blueprint ``{% extends "base.html" %}`` (nms/templates/base.html,
searched before any blueprint's folder, so do not name your own template base.html)
and fill ``{% block content %}``; ``{% block title %}`` and ``{% block head %}`` are
optional.  Every template gets ``csrf_token()``, ``principal`` and ``nav``.

A page shows up in the nav when its view is tagged with :func:`nav` (below
``@require``), takes no URL arguments and the principal may open it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask, Response, current_app, make_response, render_template, request
from jinja2 import ChoiceLoader, FileSystemLoader

from nms.auth import csrf
from nms.auth.policy import authorize, current_principal, declaration_of
from nms.auth.roles import ROLE_LABELS
from nms.config import Settings

F = TypeVar("F", bound=Callable[..., Any])
TEMPLATES = Path(__file__).resolve().parent / "templates"


def nav(label: str, order: int = 50) -> Callable[[F], F]:
    """Put a page in the top navigation, e.g. ``@nav("告警 Alerts", order=20)``."""

    def tag(view: F) -> F:
        view.nav_label = label  # type: ignore[attr-defined]
        view.nav_order = order  # type: ignore[attr-defined]
        return view

    return tag


def settings_of(app: Flask) -> Settings:
    """The settings the application was created with (:func:`nms.server.create_app`)."""
    return app.config["NMS_SETTINGS"]


def init_app(app: Flask) -> None:
    """Make base.html findable first and inject the shared template context."""
    app.jinja_env.loader = ChoiceLoader([FileSystemLoader(str(TEMPLATES)), app.jinja_env.loader])
    app.context_processor(_context)


def _nav_items() -> list[dict[str, str]]:
    principal = current_principal()
    if principal is None:
        return []
    items: list[tuple[int, str, str]] = []
    for rule in current_app.url_map.iter_rules():
        view = current_app.view_functions.get(rule.endpoint)
        label = getattr(view, "nav_label", None)
        declared = declaration_of(view)
        if label is None or declared is None or rule.arguments or "GET" not in (rule.methods or ()):
            continue
        if authorize(principal, declared[0]):
            items.append((getattr(view, "nav_order", 50), label, rule.rule))
    items.sort()
    return [
        {"label": label, "url": url, "active": "active" if request.path == url else ""}
        for _order, label, url in items
    ]


def _context() -> dict[str, Any]:
    principal = current_principal()
    return {
        "csrf_token": csrf.token,
        "principal": principal,
        "role_label": ROLE_LABELS.get(principal.role or "", principal.kind) if principal else "",
        "nav": _nav_items(),
    }


def render_page(template: str, status: int = 200, **ctx: Any) -> Response:
    """Render a page that extends base.html (the context above is added automatically)."""
    resp = make_response(render_template(template, **ctx), status)
    return resp


def error_page(status: int, message: str) -> Response:
    return render_page("error.html", status=status, status_code=status, message=message)
