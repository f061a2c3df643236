"""Config backup in the web app: device list, versions, diff, export, fetch trigger (API + pages).

Reads need ``configs.read``; triggering a fetch and the raw (unmasked, restorable)
export need ``configs.fetch``.  Every device is checked against the
principal's scope (one without a site: province scope only); lists show only in-scope devices.
"""

from __future__ import annotations

import threading
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, redirect, request, url_for

from nms import audit
from nms.auth import current_principal, require
from nms.auth.policy import require_site, scope_sites
from nms.auth.scope import site_tree
from nms.configs import diff as cdiff
from nms.configs import job, masking, store, vendors
from nms.configs.targets import TargetsError, load_targets
from nms.db import connect, request_db
from nms.web import nav, render_page, settings_of

bp = Blueprint("configs", __name__, template_folder="templates")
API = "/api/v1/configs"


def _actor() -> str:
    principal = current_principal()
    return f"user:{principal.name}" if principal is not None else "anonymous"


def _device_site(db, device: str) -> str | None:
    known, site = store.device_site(db, device)
    if not known:
        abort(404, description=f"no configuration backup for device {device!r}")
    return site


def _check_device(db, device: str) -> None:
    """A device without a site is the province's: province scope only (deny by default)."""
    require_site(_device_site(db, device))


def _version_or_404(db, vid: int) -> dict[str, Any]:
    row = store.get_version(db, vid)
    if row is None:
        abort(404, description=f"config version {vid} does not exist")
    _check_device(db, row["device"])
    return row


def _visible_status(db) -> list[dict[str, Any]]:
    sites = scope_sites(current_principal())
    return [r for r in store.status(db) if sites is None or r["site"] in sites]


def _version_json(row: dict[str, Any], with_content: bool) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k not in ("content", "normalised_sha256")}
    if with_content:
        out["content"] = masking.mask_secrets(row["content"], vendors.spec_for(row["device_type"]).secrets)
    return out


def _diff_args() -> tuple[int, int, bool]:
    try:
        a, b = int(request.args["a"]), int(request.args["b"])
    except (KeyError, ValueError):
        abort(400, description="diff needs integer version ids a and b (?a=1&b=2)")
    return a, b, request.args.get("volatile", "0") != "1"


def _diff(db, a: int, b: int, ignore_volatile: bool) -> cdiff.Diff:
    for vid in (a, b):
        _version_or_404(db, vid)
    return cdiff.diff_versions(db, a, b, ignore_volatile)


def _start_fetch(devices: list[str] | None) -> tuple[int, dict[str, Any]]:
    settings = settings_of(current_app)
    try:
        targets, problems = load_targets(settings, devices)
    except TargetsError as exc:
        return 422, {"error": "configs file: " + "; ".join(exc.errors)}
    sites = scope_sites(current_principal())
    if sites is not None:
        outside = [t.device for t in targets if t.site not in sites]
        if outside:
            return 403, {"error": f"not permitted for devices outside your scope: {', '.join(outside)}"}
    if not targets:
        return 422, {"error": "no devices to fetch", "skipped": problems}
    actor, source_ip, tree = _actor(), request.remote_addr, site_tree()

    def background() -> None:
        db = connect(settings, "centre")
        try:
            job.run(db, targets, actor, source_ip=source_ip, tree=tree)
        finally:
            db.conn.close()

    threading.Thread(target=background, name="configs-web-fetch", daemon=True).start()
    return 202, {"started": sorted(t.device for t in targets), "skipped": problems}


# ---- API ---------------------------------------------------------------------------------

@bp.get(f"{API}/devices")
@require("configs.read")
def api_devices() -> Response:
    return jsonify(_visible_status(request_db()))


@bp.get(f"{API}/devices/<device>/versions")
@require("configs.read")
def api_versions(device: str) -> Response:
    db = request_db()
    _check_device(db, device)
    return jsonify(store.versions(db, device))


@bp.get(f"{API}/versions/<int:vid>")
@require("configs.read")
def api_version(vid: int) -> Response:
    return jsonify(_version_json(_version_or_404(request_db(), vid), with_content=True))


@bp.get(f"{API}/diff")
@require("configs.read")
def api_diff() -> Response:
    a, b, ignore = _diff_args()
    d = _diff(request_db(), a, b, ignore)
    return jsonify({"a": d.a, "b": d.b, "changed": d.changed, "ignore_volatile": d.ignore_volatile,
                    "diff": "\n".join(d.lines)})


def _export(row: dict[str, Any], text: str, suffix: str) -> Response:
    name = f"{row['device']}-v{row['version']}{suffix}.cfg"
    return Response(text, mimetype="text/plain; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "X-Config-SHA256": row["sha256"]})


@bp.get(f"{API}/versions/<int:vid>/export")
@require("configs.read")
def api_export(vid: int) -> Response:
    row = _version_or_404(request_db(), vid)
    return _export(row, masking.mask_secrets(row["content"], vendors.spec_for(row["device_type"]).secrets),
                   "-masked")


@bp.get(f"{API}/versions/<int:vid>/export/raw")
@require("configs.fetch")
def api_export_raw(vid: int) -> Response:
    """The stored text exactly, secrets included, for restoring a device: audited."""
    db = request_db()
    row = _version_or_404(db, vid)
    audit.record(db, _actor(), "configs.version.export_raw", f"device:{row['device']}",
                 after={"version": row["version"], "sha256": row["sha256"]}, source_ip=request.remote_addr,
                 site=_device_site(db, row["device"]))
    return _export(row, row["content"], "")


@bp.get(f"{API}/events")
@require("configs.read")
def api_events() -> Response:
    since = request.args.get("since", "0")
    if not since.isdigit():
        abort(400, description="since: expected an event id (integer)")
    sites = scope_sites(current_principal())
    db = request_db()
    visible = None if sites is None else {r["device"] for r in _visible_status(db)}
    rows = [e for e in store.events(db, int(since)) if visible is None or e["device"] in visible]
    return jsonify(rows)


@bp.post(f"{API}/fetch")
@require("configs.fetch")
def api_fetch() -> Response:
    body = request.get_json(silent=True) or {}
    devices = body.get("devices")
    if devices is not None and not (isinstance(devices, list) and all(isinstance(d, str) for d in devices)):
        return jsonify({"error": "devices: expected a list of device names"}), 400
    status, payload = _start_fetch(devices or None)
    return jsonify(payload), status


# ---- pages -------------------------------------------------------------------------------

def _render(template: str, **ctx: Any) -> Response:
    return render_page(template, **ctx)


@bp.get("/configs/")
@require("configs.read")
@nav("配置备份 Configs", order=60)
def page_index() -> Response:
    devices = _visible_status(request_db())
    return _render("configs/index.html", devices=devices, fetched=request.args.get("fetched"))


@bp.get("/configs/device/<device>")
@require("configs.read")
def page_device(device: str) -> Response:
    db = request_db()
    _check_device(db, device)
    return _render("configs/device.html", device=device, versions=store.versions(db, device))


@bp.get("/configs/version/<int:vid>")
@require("configs.read")
def page_version(vid: int) -> Response:
    row = _version_or_404(request_db(), vid)
    return _render("configs/version.html", v=_version_json(row, with_content=True))


@bp.get("/configs/diff")
@require("configs.read")
def page_diff() -> Response:
    a, b, ignore = _diff_args()
    return _render("configs/diff.html", d=_diff(request_db(), a, b, ignore))


@bp.post("/configs/fetch")
@require("configs.fetch")
def page_fetch() -> Response:
    devices = [d for d in request.form.getlist("device") if d]
    status, payload = _start_fetch(devices or None)
    if status != 202:
        abort(status, description=payload.get("error", "fetch refused"))
    return redirect(url_for("configs.page_index", fetched=len(payload["started"])))
