"""``/api/v1/alerts...`` and ``/api/v1/maintenance``: JSON for the console and the wall.

Reads need ``alerts.read``, changes ``alerts.ack``.  A scoped principal sees and changes
only alerts whose subject's site is in its scope (others answer 404, as if absent).
Every change is audited (:mod:`nms.alerts.store`, :func:`nms.maintenance.add_window`).
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from nms import maintenance
from nms.alerts import store
from nms.alerts.runner import load_rules_for
from nms.auth import authorize, covers, current_principal, require, scope_sites
from nms.auth.enforce import client_ip
from nms.auth.scope import site_tree
from nms.availability import LOCAL_TZ, parse_time
from nms.db import request_db, transaction
from nms.web import nav, render_page, settings_of
from probes.common.subject import Subject
from probes.common.validation import number

bp = Blueprint("alerts", __name__, template_folder="templates")

MAX_LIMIT = 2000
SEVERITIES = ("critical", "major", "minor", "warning", "info")


class BadRequest(ValueError):
    pass


@bp.errorhandler(BadRequest)
def _bad(exc: BadRequest):
    return jsonify(error=str(exc)), 400


@bp.errorhandler(store.NotFound)
def _missing(exc: store.NotFound):
    return jsonify(error=str(exc)), 404


def _inventory():
    return site_tree(current_app)


def _site_names() -> dict[str, str]:
    inv = _inventory()
    return {s.id: s.name_zh for s in inv.sites.values()} if inv is not None else {}


def _visible_site(site: str | None) -> bool:
    """The one scope rule (``nms.auth.covers``): an alert or window without a site is the province's."""
    return covers(current_principal(), site)


def _checked(alert_id: int) -> None:
    """404 unless the alert exists and lies in the principal's scope."""
    if not _visible_site(store.site_of(request_db(), alert_id)):
        raise store.NotFound(f"alert {alert_id}: no such alert")


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise BadRequest("body: expected a JSON object")
    return body


def _text(body: dict[str, Any], key: str, required: bool = False, max_len: int = 2000) -> str | None:
    v = body.get(key)
    if v is None or v == "":
        if required:
            raise BadRequest(f"{key}: required")
        return None
    if not isinstance(v, str):
        raise BadRequest(f"{key}: expected text")
    if len(v) > max_len:
        raise BadRequest(f"{key}: longer than {max_len} characters")
    return v


def _flag(name: str) -> bool | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if raw not in ("0", "1"):
        raise BadRequest(f"{name}: expected 0 or 1")
    return raw == "1"


@bp.get("/api/v1/alerts")
@require("alerts.read")
def list_alerts():
    raw_state = request.args.get("state", "open")
    states: list[str] = []
    for s in raw_state.split(","):
        if s == "open":
            states += ["pending", "firing"]
        elif s in store.STATES:
            states.append(s)
        else:
            raise BadRequest(f"state: {s!r}; expected open, pending, firing or resolved")
    severity = request.args.get("severity") or None
    if severity is not None and severity not in SEVERITIES:
        raise BadRequest(f"severity: expected one of {', '.join(SEVERITIES)}")
    try:
        limit = min(int(request.args.get("limit", 200)), MAX_LIMIT)
        since = float(request.args["since"]) if request.args.get("since") else None
    except ValueError:
        raise BadRequest("limit/since: expected numbers") from None
    subject = None
    if request.args.get("subject"):
        try:
            subject = Subject.parse_ref(request.args["subject"]).key
        except ValueError as exc:
            raise BadRequest(f"subject: {exc}") from None
    sites = scope_sites(current_principal())
    site = request.args.get("site")
    if site:
        inv = _inventory()
        if inv is None or site not in inv.sites:
            raise BadRequest(f"site: unknown site {site!r}")
        wanted = inv.subtree(site)
        sites = wanted if sites is None else sites & wanted
    rows = store.list_alerts(
        request_db(),
        states=tuple(dict.fromkeys(states)),
        sites=sites,
        severity=severity,
        rule=request.args.get("rule") or None,
        subject=subject,
        acknowledged=_flag("acknowledged"),
        muted=_flag("muted"),
        suppressed=bool(_flag("suppressed")),
        since=since,
        limit=max(limit, 1),
        site_names=_site_names(),
    )
    return jsonify(ts=time.time(), alerts=rows)


@bp.get("/api/v1/alerts/<int:alert_id>")
@require("alerts.read")
def get_alert(alert_id: int):
    _checked(alert_id)
    return jsonify(store.detail(request_db(), alert_id, _site_names()))


def _after(alert_id: int):
    return jsonify(store.detail(request_db(), alert_id, _site_names()))


@bp.post("/api/v1/alerts/<int:alert_id>/ack")
@require("alerts.ack")
def ack(alert_id: int):
    _checked(alert_id)
    body = _body()
    store.acknowledge(
        request_db(),
        alert_id,
        current_principal().actor,
        _text(body, "note"),
        _text(body, "assignee", max_len=100),
        client_ip(),
    )
    return _after(alert_id)


@bp.post("/api/v1/alerts/<int:alert_id>/unack")
@require("alerts.ack")
def unack(alert_id: int):
    _checked(alert_id)
    note = _text(_body(), "note")
    store.unacknowledge(request_db(), alert_id, current_principal().actor, note, client_ip())
    return _after(alert_id)


@bp.post("/api/v1/alerts/<int:alert_id>/comment")
@require("alerts.ack")
def comment(alert_id: int):
    _checked(alert_id)
    store.comment(
        request_db(), alert_id, current_principal().actor, _text(_body(), "text", required=True), client_ip()
    )
    return _after(alert_id)


@bp.post("/api/v1/alerts/<int:alert_id>/assign")
@require("alerts.ack")
def assign(alert_id: int):
    _checked(alert_id)
    body = _body()
    if "assignee" not in body:
        raise BadRequest("assignee: required (a user name, or null to unassign)")
    store.assign(
        request_db(), alert_id, current_principal().actor, _text(body, "assignee", max_len=100), client_ip()
    )
    return _after(alert_id)


@bp.post("/api/v1/alerts/<int:alert_id>/silence")
@require("alerts.ack")
def silence(alert_id: int):
    _checked(alert_id)
    body = _body()
    minutes = body.get("minutes")
    if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or not 0 < minutes <= 30 * 24 * 60:
        raise BadRequest("minutes: expected a number of minutes between 1 and 43200")
    store.silence(
        request_db(), alert_id, current_principal().actor, float(minutes), _text(body, "note"), client_ip()
    )
    return _after(alert_id)


@bp.get("/api/v1/alerts/notifications")
@require("alerts.read")
def list_notifications():
    """Every delivery and its attempts (e.g. ``?status=failed`` after a gateway outage)."""
    status = request.args.get("status") or None
    if status is not None and status not in ("queued", "retry", "sent", "failed", "rate_limited"):
        raise BadRequest("status: expected queued, retry, sent, failed or rate_limited")
    try:
        limit = min(int(request.args.get("limit", 200)), MAX_LIMIT)
    except ValueError:
        raise BadRequest("limit: expected an integer") from None
    sites = scope_sites(current_principal())
    rows = store.notifications(request_db(), status=status, sites=sites, limit=max(limit, 1))
    return jsonify(notifications=rows)


@bp.get("/api/v1/alerts/rules")
@require("alerts.read")
def rules():
    rs = load_rules_for(settings_of(current_app))
    return jsonify(
        source=rs.source,
        flap_window_s=rs.flap_window_s,
        flap_threshold=rs.flap_threshold,
        rules=[r.as_dict() for r in rs.rules],
    )


# ---- maintenance windows ------------------------------------------------------------------


def _subject_site(kind: str, subject: str) -> str | None:
    """The site a window's subject is scoped to (a link: its far end's, the site it serves)."""
    inv = _inventory()
    if inv is None:
        return None
    if kind not in maintenance.SUBJECT_KINDS:
        raise BadRequest(f"subject_kind: {kind!r}; expected one of {', '.join(maintenance.SUBJECT_KINDS)}")
    try:
        s = Subject.parse(kind, subject)
    except ValueError as exc:
        raise BadRequest(f"subject_id: {exc}") from None
    if kind == "site":
        return subject if subject in inv.sites else None
    if kind == "link":
        link = inv.links.get(subject)
        return inv.devices[link.b.device].site if link and link.b.device in inv.devices else None
    return inv.devices[s.name].site if s.name in inv.devices else None


@bp.get("/api/v1/maintenance")
@require("alerts.read")
def list_maintenance():
    return jsonify(windows=_windows_json())


def _time(body: dict[str, Any], key: str, required: bool = True) -> float | None:
    v = body.get(key)
    if v is None and not required:
        return None
    t = number(v)
    if t is None:
        raise BadRequest(f"{key}: expected a Unix time in seconds")
    return t


def _create_window(body: dict[str, Any]) -> tuple[int, str]:
    """Validate and create a window (audited by nms.maintenance); BadRequest/PermissionError otherwise."""
    kind, subject = body.get("subject_kind"), body.get("subject_id")
    if not isinstance(kind, str) or not isinstance(subject, str) or not subject:
        raise BadRequest("subject_kind, subject_id: required text")
    site = _subject_site(kind, subject)
    if site is None:
        raise BadRequest(f"subject_id: {kind} {subject!r} is not in the inventory")
    if not _visible_site(site):
        raise PermissionError(f"not permitted at site {site!r}")
    mode = body.get("mode") or "mute"
    if mode not in ("mute", "skip"):
        raise BadRequest("mode: expected mute or skip")
    db = request_db()
    try:
        with transaction(db):  # the window and its alert mode together, or neither
            wid = maintenance.add_window(
                db,
                kind,
                subject,
                _time(body, "start"),
                _time(body, "end"),
                actor=current_principal().actor,
                subtree=bool(body.get("subtree", False)),
                rrule=body.get("rrule") or None,
                until=_time(body, "until", False),
                reason=_text(body, "reason"),
                site=site,
            )
            store.set_window_mode(db, wid, mode)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    return wid, mode


@bp.post("/api/v1/maintenance")
@require("alerts.ack")
def add_maintenance():
    try:
        wid, mode = _create_window(_body())
    except PermissionError as exc:
        return jsonify(error=str(exc)), 403
    return jsonify(id=wid, mode=mode), 201


def _end_window(window_id: int) -> bool:
    """End a window now (a future one is removed, with its alert mode). False if not visible."""
    db = request_db()
    w = next((w for w in maintenance.windows(db) if w.id == window_id), None)
    if w is None or not _visible_site(_subject_site(w.subject_kind, w.subject_id)):
        return False
    with transaction(db):
        if maintenance.end_window(
            db, w, actor=current_principal().actor, now=time.time(),
            source_ip=client_ip(),
            site=_subject_site(w.subject_kind, w.subject_id),
        ):
            store.forget_window_mode(db, window_id)
    return True


@bp.delete("/api/v1/maintenance/<int:window_id>")
@require("alerts.ack")
def end_maintenance(window_id: int):
    if not _end_window(window_id):
        return jsonify(error=f"maintenance window {window_id}: no such window"), 404
    return jsonify(id=window_id, ended=True)


# ---- maintenance page (form, CSRF) ---------------------------------------------------------------


def _windows_json() -> list[dict[str, Any]]:
    db = request_db()
    modes = store.window_modes(db)
    now = time.time()
    out = []
    for w in maintenance.windows(db):
        if not _visible_site(_subject_site(w.subject_kind, w.subject_id)):
            continue
        out.append(
            {
                "id": w.id,
                "subject_kind": w.subject_kind,
                "subject_id": w.subject_id,
                "subtree": w.subtree,
                "start": w.start,
                "end": w.end,
                "rrule": w.rrule,
                "until": w.until,
                "ended": w.ended,
                "reason": w.reason,
                "mode": modes.get(w.id, "mute"),
                "active": bool(w.occurrences(now, now + 1)),
            }
        )
    return out


def _local(ts: float | None) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(ts, LOCAL_TZ).strftime("%Y-%m-%d %H:%M") if ts else ""


@bp.get("/alerts/maintenance")
@require("alerts.read")
@nav("维护窗口 Maintenance", order=25)
def maintenance_page():
    return render_page(
        "alerts/maintenance.html",
        windows=_windows_json(),
        local=_local,
        can_edit=authorize(current_principal(), "alerts.ack"),
        message=request.args.get("msg"),
        error=request.args.get("error"),
    )


@bp.post("/alerts/maintenance")
@require("alerts.ack")
def maintenance_form():
    from flask import redirect, url_for

    f = request.form
    try:
        body: dict[str, Any] = {
            k: f.get(k) for k in ("subject_kind", "subject_id", "rrule", "reason", "mode")
        }
        body["subtree"] = f.get("subtree") == "on"
        for k in ("start", "end", "until"):
            raw = (f.get(k) or "").strip()
            try:
                body[k] = parse_time(raw) if raw else None
            except ValueError as exc:
                raise BadRequest(f"{k}: {exc}") from None
        wid, _mode = _create_window(body)
    except (BadRequest, PermissionError) as exc:
        return redirect(url_for("alerts.maintenance_page", error=str(exc)))
    return redirect(url_for("alerts.maintenance_page", msg=f"维护窗口 #{wid} 已创建 window created"))


@bp.post("/alerts/maintenance/<int:window_id>/end")
@require("alerts.ack")
def maintenance_end_form(window_id: int):
    from flask import redirect, url_for

    if not _end_window(window_id):
        return redirect(url_for("alerts.maintenance_page", error=f"window {window_id}: no such window"))
    return redirect(url_for("alerts.maintenance_page", msg=f"维护窗口 #{window_id} 已结束 window ended"))
