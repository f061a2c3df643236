"""Portal pages and API: the list, one portal (timings chart, findings, content diff) and
the baseline approval.  County scope on the server: a principal sees and approves only
the portals of the sites in its scope (``require_site`` on the portal's inventory site).
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, redirect, request, url_for

from nms.auth import authorize, current_principal, require, scope_sites
from nms.auth.enforce import client_ip
from nms.auth.policy import require_site
from nms.auth.scope import site_tree
from nms.db import request_db
from nms.portals import pages
from nms.portals import store as portals
from nms.web import nav, render_page

bp = Blueprint(
    "portals",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/portals/static",
)


def _inventory():
    inv = site_tree(current_app)
    if inv is None:
        abort(503, description="inventory not loaded")
    return inv


def _portal(pid: str):
    """The portal of the inventory, 404 when unknown, 403 outside the caller's scope."""
    p = _inventory().portals.get(pid)
    if p is None:
        abort(404, description=f"no portal {pid!r}")
    require_site(p.site)
    return p


def _listing() -> dict[str, Any]:
    return pages.listing(request_db(), _inventory(), scope_sites(current_principal()))


@bp.get("/console/portals")
@require("status.read")
@nav("门户网站 Portals", order=35)
def page_index() -> Response:
    return render_page("portals/index.html", **_listing())


@bp.get("/console/portal/<pid>")
@require("status.read")
def page_portal(pid: str) -> Response:
    p = _portal(pid)
    info = pages.detail(request_db(), _inventory(), p, time.time())
    may_approve = authorize(current_principal(), "portals.approve", p.site)
    return render_page(
        "portals/portal.html", p=p, info=info, may_approve=may_approve, msg=request.args.get("msg")
    )


@bp.post("/console/portal/<pid>/approve")
@require("portals.approve")
def page_approve(pid: str) -> Response:
    """The page as it is now becomes the approved baseline (audited: who, when, why)."""
    p = _portal(pid)
    reason = (request.form.get("reason") or "").strip()[:500]
    try:
        portals.approve(request_db(), pid, current_principal().actor, p.site, reason, client_ip())
        msg = "已批准新基线 new baseline approved"
    except LookupError as exc:
        msg = str(exc)
    return redirect(url_for("portals.page_portal", pid=pid, msg=msg), code=303)


@bp.get("/api/v1/portals")
@require("status.read")
def api_list() -> Response:
    return jsonify(ts=time.time(), **_listing())


@bp.get("/api/v1/portals/<pid>")
@require("status.read")
def api_portal(pid: str) -> Response:
    p = _portal(pid)
    return jsonify(pages.detail(request_db(), _inventory(), p, time.time()))
