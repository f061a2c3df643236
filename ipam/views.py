"""IPAM pages: the plan in one's scope, requests and decisions, and a pool's subnet map.

Kept plain on purpose (the dashboards issue restyles); every query is cut by
:func:`ipam.scope.allowed_sites` exactly like the API.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from ipam import findings, store, utilisation, workflow
from ipam.errors import IpamError
from ipam.scope import allowed_sites, check_site
from ipam.webdb import allow_self_approval, db, reclaim_days
from nms.auth import current_principal, require
from nms.auth.policy import authorize
from nms.auth.scope import site_tree
from nms.web import nav, render_page

bp = Blueprint("ipam", __name__, url_prefix="/ipam", template_folder="templates")


def _actor() -> str:
    p = current_principal()
    return p.actor if p is not None else "anonymous"


def _form_int(name: str) -> int | None:
    """A form field as an integer; other text is passed on for the workflow to name."""
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return None
    return int(raw) if raw.lstrip("/").isdigit() else raw  # type: ignore[return-value]


def _can(permission: str) -> bool:
    return authorize(current_principal(), permission)


def _home(error: str | None = None, status: int = 200) -> Response:
    d = db()
    sites = allowed_sites()
    names = store.space_names(d)
    pools = store.query(d, sites, pools_only=True, limit=2000)
    principal = current_principal()
    return render_page(
        "ipam/index.html", status=status, error=error, message=request.args.get("msg"),
        pools=[store.as_dict(p, names) for p in pools], spaces=list(names.values()),
        requests=[r.as_dict(names) for r in workflow.list_requests(d, sites, limit=50)],
        notes=workflow.notifications(d, principal.actor) if principal else [],
        can_request=_can("ipam.request"), can_approve=_can("ipam.approve"),
        my_sites=sorted({p.site for p in pools if p.site}),
    )


@bp.route("/")
@require("ipam.read")
@nav("地址 IPAM", order=60)
def index() -> Response:
    """Pools in scope with their use, my requests and notifications."""
    return _home()


@bp.route("/requests", methods=["POST"])
@require("ipam.request")
def submit_request() -> Response | BaseResponse:
    f = request.form
    try:
        req = workflow.create(db(), allowed_sites(), actor=_actor(), site=f.get("site"), space=f.get("space"),
                              family=f.get("family", "4"), purpose=f.get("purpose"),
                              justification=f.get("justification"), plen=_form_int("prefix_length"),
                              hosts=_form_int("hosts"), source_ip=request.remote_addr)
    except IpamError as exc:
        return _home(exc.message, exc.status)
    return redirect(url_for("ipam.index", msg=f"request #{req.id} submitted"))


@bp.route("/queue")
@require("ipam.read")
def queue() -> Response:
    """Requests in scope; approvers decide here."""
    d = db()
    names = store.space_names(d)
    rows = workflow.list_requests(d, allowed_sites(), request.args.get("status") or None)
    return render_page("ipam/queue.html", requests=[r.as_dict(names) for r in rows],
                       can_approve=_can("ipam.approve"), message=request.args.get("msg"), error=None)


@bp.route("/requests/<int:request_id>/decide", methods=["POST"])
@require("ipam.approve")
def decide(request_id: int) -> Response | BaseResponse:
    f = request.form
    action, reason = f.get("action"), f.get("reason") or None
    d, sites, ip = db(), allowed_sites(), request.remote_addr
    try:
        if action == "approve":
            hold = (f.get("hold_days") or "").strip()
            hold_days: Any = float(hold) if hold.replace(".", "", 1).isdigit() else (hold or None)
            req = workflow.approve(d, sites, request_id, actor=_actor(), plen=_form_int("prefix_length"),
                                   hold_days=hold_days, reason=reason, source_ip=ip,
                                   allow_self=allow_self_approval())
            msg = f"request #{request_id} approved: {req.prefix}"
        elif action == "amend":
            workflow.amend(d, sites, request_id, actor=_actor(), reason=reason,
                           plen=_form_int("prefix_length"), source_ip=ip)
            msg = f"request #{request_id} amended"
        elif action == "reject":
            workflow.reject(d, sites, request_id, actor=_actor(), reason=reason, source_ip=ip)
            msg = f"request #{request_id} rejected"
        else:
            raise IpamError(f"action: expected approve, amend or reject, got {action!r}", "action")
    except IpamError as exc:
        names = store.space_names(d)
        return render_page("ipam/queue.html", status=exc.status, error=exc.message, message=None,
                           requests=[r.as_dict(names) for r in workflow.list_requests(d, sites)],
                           can_approve=True)
    return redirect(url_for("ipam.queue", msg=msg))


@bp.route("/prefixes/<int:prefix_id>/release", methods=["POST"])
@require("ipam.request")
def release(prefix_id: int) -> Response | BaseResponse:
    try:
        prefix = workflow.release(db(), allowed_sites(), prefix_id, actor=_actor(),
                                  reason=request.form.get("reason"), source_ip=request.remote_addr,
                                  any_range=_can("ipam.admin"))
    except IpamError as exc:
        return _home(exc.message, exc.status)
    return redirect(url_for("ipam.index", msg=f"{prefix.cidr} released"))


@bp.route("/pools/<int:pool_id>")
@require("ipam.read")
def pool(pool_id: int) -> Response:
    """A pool's use and subnet map (heat map of its space)."""
    d = db()
    try:
        prefix = store.get(d, pool_id)
        check_site(prefix.site, allowed_sites())
    except IpamError as exc:
        return render_page("error.html", status=exc.status, status_code=exc.status, message=exc.message)
    names = store.space_names(d)
    sites = allowed_sites()
    kids = [k for k in store.children(d.conn, prefix, 500) if sites is None or k.site in sites]
    grid: dict[str, Any] = utilisation.heatmap(d.conn, prefix, 256, sites)
    for cell in grid["cells"]:
        pct = cell["pct"]
        hue, light = int(120 - 1.2 * pct), int(75 - pct / 5)
        cell["colour"] = "#eef2f6" if pct == 0 else f"hsl({hue}, 70%, {light}%)"
    return render_page("ipam/pool.html", pool=store.as_dict(prefix, names), grid=grid,
                       children=[store.as_dict(k, names) for k in kids],
                       can_release=_can("ipam.request"))


LABELS = {"unknown": "未规划 Unknown", "mismatch": "错位 Mismatch", "duplicate": "地址冲突 Duplicate",
          "reclaimable": "可回收 Reclaimable", "mgmt-address": "管理地址 Mgmt address",
          "cabling": "连线 Cabling"}


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def _reconcile_page(error: str | None = None, status: int = 200) -> Response:
    tree = site_tree()
    if tree is None:
        return render_page("error.html", status=503, status_code=503, message="the inventory is not loaded")
    decided = request.args.get("decided") == "1"
    kind = request.args.get("kind") or None
    try:
        result = findings.findings(db(), tree, allowed_sites(), reclaim_days=reclaim_days(), decided=decided,
                                   kind=kind)
    except IpamError as exc:
        return render_page("error.html", status=exc.status, status_code=exc.status, message=exc.message)
    result["last_poll_text"] = _when(result["last_poll"])
    for f in result["findings"]:
        f["first_text"], f["last_text"] = _when(f["first_seen"]), _when(f["last_seen"])
    return render_page("ipam/reconcile.html", status=status, result=result, labels=LABELS, decided=decided,
                       can_decide=_can("ipam.approve"), error=error, message=request.args.get("msg"))


@bp.route("/reconcile")
@require("ipam.read")
@nav("地址核对 Reconcile", order=61)
def reconcile_page() -> Response:
    """Findings of the address polls against the plan and the inventory, in one's scope."""
    return _reconcile_page()


@bp.route("/findings/decide", methods=["POST"])
@require("ipam.approve")
def finding_decide() -> Response | BaseResponse:
    """Accept (unknown addresses) or dismiss a finding; both audited."""
    f, tree = request.form, site_tree()
    if tree is None:
        return _reconcile_page("the inventory is not loaded", 503)
    kw: dict[str, Any] = {"actor": _actor(), "sites": allowed_sites(), "source_ip": request.remote_addr,
                          "reclaim_days": reclaim_days()}
    try:
        if f.get("action") == "accept":
            out = findings.accept(db(), tree, f.get("key"), reason=f.get("reason"), **kw)
            msg = f"accepted into the plan: {out['prefix']}"
        elif f.get("action") == "dismiss":
            findings.dismiss(db(), tree, f.get("key"), f.get("reason"), **kw)
            msg = "finding dismissed"
        else:
            raise IpamError(f"action: expected accept or dismiss, got {f.get('action')!r}", "action")
    except IpamError as exc:
        return _reconcile_page(exc.message, exc.status)
    return redirect(url_for("ipam.reconcile_page", msg=msg))
