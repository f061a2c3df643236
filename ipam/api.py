"""REST API of the address plan under /api/v1/ipam/ (token or session auth, JSON).

Every view declares its permission with ``@require``; *where* a principal may look
or act comes from :func:`ipam.scope.allowed_sites`, passed to every query.  Errors
are ``{"error": "...", "field": "..."}`` with 401/403/404/409/422.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from ipam import addrs, csvio, findings, plan, reconcile, store, utilisation, workflow
from ipam.addresses import parse_prefix
from ipam.allocate import allocate, free_blocks
from ipam.errors import BadInput, IpamError, NotFound
from ipam.openapi import document
from ipam.scope import allowed_sites, check_site
from ipam.webdb import allow_self_approval, db, reclaim_days
from nms.auth import current_principal, require
from nms.auth.policy import authorize
from nms.auth.scope import site_tree

bp = Blueprint("ipam_api", __name__, url_prefix="/api/v1/ipam")


@bp.errorhandler(IpamError)
def _ipam_error(exc: IpamError) -> tuple[Response, int]:
    return jsonify(exc.as_dict()), exc.status


def _actor() -> str:
    principal = current_principal()
    return principal.actor if principal is not None else "anonymous"


def _ip() -> str | None:
    return request.remote_addr


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadInput("body", "expected a JSON object (Content-Type: application/json)")
    return data


def _int_arg(name: str, default: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 0 <= int(raw) <= high:
        raise BadInput(name, f"expected an integer 0..{high}, got {raw!r}")
    return int(raw)


def _visible(prefix_id: int) -> store.Prefix:
    prefix = store.get(db(), prefix_id)
    check_site(prefix.site, allowed_sites())
    return prefix


def _tree() -> Any:
    tree = site_tree(current_app._get_current_object())  # type: ignore[attr-defined]
    if tree is None:
        raise NotFound("the inventory (site tree) is not loaded", "inventory")
    return tree


@bp.route("/openapi.json")
@require("ipam.read")
def openapi() -> Response:
    return jsonify(document(current_app._get_current_object()))  # type: ignore[attr-defined]


@bp.route("/spaces")
@require("ipam.read")
def spaces() -> Response:
    return jsonify(store.spaces(db()))


@bp.route("/prefixes")
@require("ipam.read")
def list_prefixes() -> Response:
    d = db()
    args = request.args
    within = _visible(_int_arg("within", 0, 2**62)) if args.get("within") else None
    rows = store.query(
        d, allowed_sites(),
        space=store.space_id(d, args["space"]) if args.get("space") else None,
        family=workflow.check_family(args["family"]) if args.get("family") else None,
        site=args.get("site") or None,
        status=store.check_status(args["status"]) if args.get("status") else None,
        pools_only=args.get("pools") in ("1", "true", "yes"),
        within=within, limit=_int_arg("limit", 1000, 10000), offset=_int_arg("offset", 0, 10**9),
    )
    names = store.space_names(d)
    return jsonify([store.as_dict(p, names) for p in rows])


@bp.route("/sites/<site>/pools")
@require("ipam.read", site_arg="site")
def site_pools(site: str) -> Response:
    d = db()
    check_site(site, allowed_sites())
    rows = store.query(d, allowed_sites(), site=site, pools_only=True)
    names = store.space_names(d)
    return jsonify([store.as_dict(p, names) for p in rows])


@bp.route("/prefixes", methods=["POST"])
@require("ipam.admin")
def add_prefix() -> tuple[Response, int]:
    body = _body()
    d = db()
    space = store.space_id(d, body.get("space"))
    block = parse_prefix(body.get("prefix"))
    site = body.get("site") or None
    if site is not None and not isinstance(site, str):
        raise BadInput("site", "expected a site id")
    check_site(site, allowed_sites())
    inside = None
    if body.get("parent_id") is not None:
        if not isinstance(body["parent_id"], int):
            raise BadInput("parent_id", "expected the id of the pool the prefix belongs in")
        inside = _visible(body["parent_id"])
    prefix = store.add(
        d, space, block, status=store.check_status(body.get("status", "allocated")), actor=_actor(),
        site=site, purpose=str(body.get("purpose") or ""), is_pool=bool(body.get("pool")),
        policy=store.check_policy(body.get("policy", "first")), reason=body.get("reason"), source_ip=_ip(),
        inside=inside,
    )
    return jsonify(store.as_dict(prefix, store.space_names(d))), 201


@bp.route("/prefixes/<int:prefix_id>")
@require("ipam.read")
def get_prefix(prefix_id: int) -> Response:
    prefix = _visible(prefix_id)
    return jsonify(store.as_dict(prefix, store.space_names(db())))


@bp.route("/prefixes/<int:prefix_id>", methods=["PATCH"])
@require("ipam.admin")
def patch_prefix(prefix_id: int) -> Response:
    body = _body()
    _visible(prefix_id)
    reason = body.pop("reason", None)
    if "pool" in body:
        body["is_pool"] = bool(body.pop("pool"))
    if "site" in body:
        check_site(body["site"], allowed_sites())
    prefix = store.update(db(), prefix_id, body, actor=_actor(), reason=reason, source_ip=_ip())
    return jsonify(store.as_dict(prefix, store.space_names(db())))


@bp.route("/prefixes/<int:prefix_id>/release", methods=["POST"])
@require("ipam.request")
def release_prefix(prefix_id: int) -> Response:
    body = _body()
    prefix = workflow.release(db(), allowed_sites(), prefix_id, actor=_actor(), reason=body.get("reason"),
                              source_ip=_ip(), any_range=authorize(current_principal(), "ipam.admin"))
    return jsonify({"released": prefix.cidr, "id": prefix.id})


@bp.route("/prefixes/<int:prefix_id>/activate", methods=["POST"])
@require("ipam.request")
def activate_prefix(prefix_id: int) -> Response:
    prefix = workflow.activate(db(), allowed_sites(), prefix_id, actor=_actor(), source_ip=_ip())
    return jsonify(store.as_dict(prefix, store.space_names(db())))


@bp.route("/pools/<int:pool_id>/utilisation")
@require("ipam.read")
def pool_utilisation(pool_id: int) -> Response:
    prefix = _visible(pool_id)
    answer = {"id": prefix.id, "prefix": prefix.cidr, **store.utilisation(prefix)}
    if prefix.status != "container":  # a leaf range: how many of its addresses are recorded
        n = store.address_count(db(), prefix.id)
        answer.update(addresses=n, addresses_pct=round(100.0 * n / prefix.size, 3))
    return jsonify(answer)


@bp.route("/pools/<int:pool_id>/map")
@require("ipam.read")
def pool_map(pool_id: int) -> Response:
    prefix = _visible(pool_id)
    return jsonify(utilisation.heatmap(db().conn, prefix, _int_arg("cells", 256, 1024) or 256,
                                     allowed_sites()))


@bp.route("/pools/<int:pool_id>/free")
@require("ipam.read")
def pool_free(pool_id: int) -> Response:
    prefix = _visible(pool_id)
    limit = _int_arg("limit", 100, 10000)
    out = []
    for block in free_blocks(db().conn, prefix):
        out.append(block.cidr)
        if len(out) >= limit:
            break
    return jsonify({"pool": prefix.cidr, "free": out})


@bp.route("/pools/<int:pool_id>/allocate", methods=["POST"])
@require("ipam.admin")
def pool_allocate(pool_id: int) -> tuple[Response, int]:
    body = _body()
    pool = _visible(pool_id)
    site = body.get("site") or pool.site
    check_site(site, allowed_sites())
    prefix, created = allocate(
        db(), pool_id, actor=_actor(), plen=body.get("prefix_length"), hosts=body.get("hosts"),
        status=store.check_status(body.get("status", "allocated")), site=site,
        purpose=str(body.get("purpose") or ""),
        idempotency_key=request.headers.get("Idempotency-Key") or body.get("idempotency_key"),
        policy=body.get("policy"), reason=body.get("reason"), source_ip=_ip(),
    )
    answer = {**store.as_dict(prefix, store.space_names(db())), "created": created}
    return jsonify(answer), 201 if created else 200


@bp.route("/requests")
@require("ipam.read")
def list_requests() -> Response:
    names = store.space_names(db())
    rows = workflow.list_requests(db(), allowed_sites(), request.args.get("status") or None)
    return jsonify([r.as_dict(names) for r in rows])


@bp.route("/requests", methods=["POST"])
@require("ipam.request")
def create_request() -> tuple[Response, int]:
    body = _body()
    req = workflow.create(
        db(), allowed_sites(), actor=_actor(), site=body.get("site"), space=body.get("space"),
        family=body.get("family", 4), purpose=body.get("purpose"), justification=body.get("justification"),
        plen=body.get("prefix_length"), hosts=body.get("hosts"), source_ip=_ip(),
    )
    return jsonify(req.as_dict(store.space_names(db()))), 201


@bp.route("/requests/<int:request_id>")
@require("ipam.read")
def get_request(request_id: int) -> Response:
    req = workflow.get(db(), request_id, allowed_sites())
    return jsonify(req.as_dict(store.space_names(db())))


@bp.route("/requests/<int:request_id>/approve", methods=["POST"])
@require("ipam.approve")
def approve_request(request_id: int) -> Response:
    body = request.get_json(silent=True) or {}
    req = workflow.approve(db(), allowed_sites(), request_id, actor=_actor(), plen=body.get("prefix_length"),
                           hold_days=body.get("hold_days"), reason=body.get("reason"), source_ip=_ip(),
                           allow_self=allow_self_approval())
    return jsonify(req.as_dict(store.space_names(db())))


@bp.route("/requests/<int:request_id>/amend", methods=["POST"])
@require("ipam.approve")
def amend_request(request_id: int) -> Response:
    body = _body()
    req = workflow.amend(db(), allowed_sites(), request_id, actor=_actor(), reason=body.get("reason"),
                         plen=body.get("prefix_length"), hosts=body.get("hosts"), source_ip=_ip())
    return jsonify(req.as_dict(store.space_names(db())))


@bp.route("/requests/<int:request_id>/reject", methods=["POST"])
@require("ipam.approve")
def reject_request(request_id: int) -> Response:
    body = _body()
    req = workflow.reject(db(), allowed_sites(), request_id, actor=_actor(), reason=body.get("reason"),
                          source_ip=_ip())
    return jsonify(req.as_dict(store.space_names(db())))


@bp.route("/notifications")
@require("ipam.read")
def notifications() -> Response:
    return jsonify(workflow.notifications(db(), _actor()))


@bp.route("/notifications/seen", methods=["POST"])
@require("ipam.read")
def notifications_seen() -> Response:
    """Mark the caller's own notifications read."""
    return jsonify({"marked": workflow.mark_seen(db(), _actor())})


@bp.route("/reconcile", methods=["POST"])
@require("ipam.read")
def reconcile_view() -> Response:
    body = _body()
    d = db()
    return jsonify(reconcile.reconcile(d, store.space_id(d, body.get("space", "专网")),
                                       body.get("observations"), allowed_sites()))


def _plan_args() -> tuple[store.Prefix, dict[str, int]]:
    body = _body()
    root_id = body.get("root")
    if not isinstance(root_id, int):
        raise BadInput("root", "expected the id of the pool to carve from")
    root = _visible(root_id)
    return root, plan.parse_template(body.get("template"), root.family)


@bp.route("/plan/check", methods=["POST"])
@require("ipam.admin")
def plan_check() -> Response:
    root, template = _plan_args()
    return jsonify(plan.check(db(), root, _tree(), template).as_dict())


@bp.route("/plan/carve", methods=["POST"])
@require("ipam.admin")
def plan_carve() -> tuple[Response, int]:
    root, template = _plan_args()
    result = plan.carve(db(), root, _tree(), template, actor=_actor(), source_ip=_ip())
    return jsonify(result.as_dict()), 201 if result.ok else 409


@bp.route("/export.csv")
@require("ipam.read")
def export() -> Response:
    text = csvio.export_csv(db(), allowed_sites())
    return Response(text, mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=address_plan.csv"})


@bp.route("/import", methods=["POST"])
@require("ipam.admin")
def import_view() -> Response:
    text = request.get_data(as_text=True)
    if not text.strip():
        raise BadInput("csv", "empty body; send the CSV as text/csv")
    sites = allowed_sites()
    tree = None
    try:
        tree = _tree()
    except NotFound:
        pass
    if sites is not None:  # a scoped administrator imports only rows of their own sites
        for row in csvio.parse_csv(db(), text):
            check_site(row.site, sites)
    result = csvio.import_csv(db(), text, actor=_actor(), known_sites=set(tree.sites) if tree else None,
                              reason=request.args.get("reason"), source_ip=_ip())
    return jsonify(result)


@bp.route("/prefixes/<int:prefix_id>/addresses")
@require("ipam.read")
def prefix_addresses(prefix_id: int) -> Response:
    return jsonify(addrs.of_prefix(db(), _visible(prefix_id)))


@bp.route("/addresses", methods=["POST"])
@require("ipam.request")
def add_address() -> tuple[Response, int]:
    body = _body()
    d = db()
    row = addrs.add(d, allowed_sites(), store.space_id(d, body.get("space", "专网")), body.get("address"),
                    actor=_actor(), device=body.get("device"), dns_name=body.get("dns_name"),
                    description=str(body.get("description") or ""), source_ip=_ip())
    return jsonify(row), 201


@bp.route("/findings")
@require("ipam.read")
def findings_view() -> Response:
    """Reconciliation findings from the address polls, in the caller's scope (``kind``, ``decided=1``)."""
    return jsonify(findings.findings(db(), _tree(), allowed_sites(), reclaim_days=reclaim_days(),
                                     decided=request.args.get("decided") == "1",
                                     kind=request.args.get("kind") or None))


@bp.route("/findings/dismiss", methods=["POST"])
@require("ipam.approve")
def dismiss_finding() -> Response:
    """Dismiss a finding with a reason (audited)."""
    body = _body()
    return jsonify(findings.dismiss(db(), _tree(), body.get("key"), body.get("reason"), actor=_actor(),
                                    sites=allowed_sites(), source_ip=_ip(), reclaim_days=reclaim_days()))


@bp.route("/findings/accept", methods=["POST"])
@require("ipam.approve")
def accept_finding() -> Response:
    """Accept an unknown address into the plan as observed (audited)."""
    body = _body()
    return jsonify(findings.accept(db(), _tree(), body.get("key"), actor=_actor(), sites=allowed_sites(),
                                   reason=body.get("reason"), source_ip=_ip(), reclaim_days=reclaim_days()))
