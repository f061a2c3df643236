"""Read APIs of the centre: current state, events, time series, availability (JSON, CSV, HTML).

Scoped accounts (a county operator) only see subjects of their sites: the filter is
applied here, on the server, from the principal's scope.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template_string, request

from nms import availability, sdh, sitenet, state
from nms.auth import current_principal, require
from nms.auth.policy import require_site, scope_sites
from nms.auth.scope import site_tree
from nms.db import request_db
from nms.events import suspect
from nms.store import TimeSeriesUnavailable
from nms.timeseries import request_timeseries
from nms.web import nav

bp = Blueprint("centre_api", __name__)

MAX_EVENTS = 10000


def _inventory():
    return site_tree(current_app)


class BadRequest(ValueError):
    pass


@bp.errorhandler(BadRequest)
def _bad(exc: BadRequest):
    return jsonify(error=str(exc)), 400


@bp.errorhandler(TimeSeriesUnavailable)
def _series_down(exc: TimeSeriesUnavailable):
    """A chart while the time-series engine is down: say so (503, retry), not a bare 500."""
    return jsonify(error=f"time series unavailable: {exc}"), 503, {"Retry-After": "30"}


def _time_arg(name: str, default: float | None = None) -> float | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return availability.parse_time(raw)
    except ValueError as exc:
        raise BadRequest(f"{name}: {exc}") from None


def _site_map(db) -> dict[tuple[str, str], str | None]:
    out = {(row.kind, row.subject): row.site for row in state.current_rows(db)}
    inv = _inventory()
    if inv is not None:  # a portal belongs to its inventory site, checked or not
        out.update({("portal", p.id): p.site for p in inv.portals.values()})
    return out


def _visible(kind: str, subject: str, sites: set[str] | None, site_of: dict) -> bool:
    return sites is None or site_of.get((kind, subject)) in sites


# ---- state --------------------------------------------------------------------------------------


@bp.get("/api/v1/state")
@require("status.read")
def current_state():
    """Everything's state in one cheap read (the wall display polls this).

    A site's entry carries ``networks``: {network: {state, since, reason}} (专网 internal,
    外网 external; :mod:`nms.sitenet`), the same rows as ``site_networks``.
    """
    db = request_db("centre")
    sites = scope_sites(current_principal())
    out: dict[str, dict[str, Any]] = {k: {} for k in state.KINDS}
    for kind, subject, st, since, reason, site in state.current_rows(db):
        if sites is None or site in sites:
            out[kind][subject] = {"state": st, "since": since, "reason": reason}
    # a device reported a problem no poll has checked yet: suspect, not red (nms.events.suspect)
    found = suspect.suspects(db, time.time(), sites=None if sites is None else frozenset(sites))
    for (kind, subject), why in found.items():
        if subject in out[kind]:
            out[kind][subject]["suspect"] = why
    for link_id, why in suspect.links_of(found, _inventory()).items():
        if link_id in out["link"]:
            out["link"][link_id]["suspect"] = why
    for site_id, nets in sitenet.per_site(out["site_network"]).items():  # each site names its networks
        if site_id in out["site"]:
            out["site"][site_id]["networks"] = nets
    # SDH defects per port (nms.sdh), seen where the port's interface is seen
    ports = {k: v for k, v in sdh.current(db).items() if k in out["interface"]}
    return jsonify(ts=time.time(), sdh=ports, **{f"{k}s": v for k, v in out.items()})


@bp.get("/api/v1/events")
@require("status.read")
def list_events():
    db = request_db("centre")
    try:
        limit = min(int(request.args.get("limit", 500)), MAX_EVENTS)
    except ValueError:
        raise BadRequest("limit: expected an integer") from None
    kind = request.args.get("kind")
    if kind is not None and kind not in state.KINDS:
        raise BadRequest(f"kind: expected one of {', '.join(state.KINDS)}")
    rows = state.events(
        db,
        since=_time_arg("from"),
        until=_time_arg("to"),
        kind=kind,
        subject=request.args.get("subject"),
        limit=limit,
    )
    sites = scope_sites(current_principal())
    if sites is not None:
        site_of = _site_map(db)
        rows = [r for r in rows if _visible(r["kind"], r["subject"], sites, site_of)]
    return jsonify(events=rows)


# ---- time series -------------------------------------------------------------------------------


@bp.get("/api/v1/series")
@require("metrics.read")
def series():
    """?device=&interface=&metrics=in_bps,out_bps&from=&to=&level=auto|raw|5m|1h"""
    device = request.args.get("device")
    if not device:
        raise BadRequest("device: required")
    inv = _inventory()
    if inv is not None and device in inv.devices:
        require_site(inv.devices[device].site)
    elif scope_sites(current_principal()) is not None:
        return jsonify(error=f"device: {device!r} unknown"), 404
    metrics = [m for m in request.args.get("metrics", "in_bps,out_bps").split(",") if m]
    now = time.time()
    t1 = _time_arg("to", now)
    t0 = _time_arg("from", t1 - 86400)
    if t1 <= t0:
        raise BadRequest("to: must be after from")
    try:
        s = request_timeseries().read_range(
            device,
            request.args.get("interface", ""),
            metrics,
            int(t0),
            int(t1),
            request.args.get("level", "auto"),
        )
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    return jsonify(device=device, interface=request.args.get("interface", ""), **s.as_dict())


# ---- availability -----------------------------------------------------------------------------


def _period() -> tuple[float, float]:
    try:
        if request.args.get("month"):
            return availability.month_range(request.args["month"])
        if request.args.get("day"):
            return availability.day_range(request.args["day"])
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    now = time.time()
    t1 = _time_arg("to", now)
    t0 = _time_arg("from", t1 - 30 * 86400)
    if t1 <= t0:
        raise BadRequest("to: must be after from")
    return t0, t1


def _kinds() -> list[str]:
    kinds = request.args.getlist("kind") or list(availability.REPORT_KINDS)
    bad = [k for k in kinds if k not in availability.REPORT_KINDS]
    if bad:
        raise BadRequest(f"kind: {bad[0]!r}; expected device, link, site or portal")
    return kinds


def _rows(t0: float, t1: float, kinds: Iterable[str]) -> list[dict[str, Any]]:
    db = request_db("centre")
    rows = availability.report(db, t0, t1, _inventory(), kinds=kinds)
    sites = scope_sites(current_principal())
    if sites is not None:
        site_of = _site_map(db)
        rows = [r for r in rows if _visible(r["kind"], r["subject"], sites, site_of)]
    return rows


@bp.get("/api/v1/availability")
@require("reports.read")
def availability_json():
    t0, t1 = _period()
    rows = _rows(t0, t1, _kinds())
    if request.args.get("format") == "csv":
        return Response(
            availability.to_csv(rows),
            mimetype="text/csv",
            headers={"Content-Disposition": f"attachment; filename=availability-{int(t0)}-{int(t1)}.csv"},
        )
    return jsonify({"from": t0, "to": t1, "policy": availability.NO_DATA_POLICY, "rows": rows})


@bp.get("/api/v1/availability.csv")
@require("reports.read")
def availability_csv():
    t0, t1 = _period()
    return Response(availability.to_csv(_rows(t0, t1, _kinds())), mimetype="text/csv")


PAGE = """{% extends "base.html" %}
{% block title %}可用率 Availability{% endblock %}
{% block content %}
<h1>可用率报表 Availability</h1>
<form method="get" class="card">
  <label>从 From <input name="from" value="{{ from_text }}"></label>
  <label>到 To <input name="to" value="{{ to_text }}"></label>
  <button type="submit">查询 Show</button>
  <a href="/api/v1/availability.csv?from={{ t0|int }}&to={{ t1|int }}">CSV</a>
</form>
<p class="muted">{{ from_text }} – {{ to_text }} (Asia/Shanghai), {{ rows|length }} rows
(sites: one per network, 专网 internal / 外网 external).
Maintenance time is excluded from the percentage and shown separately. {{ policy }}</p>
<table>
<tr><th>Kind</th><th>Subject</th><th>Network</th><th>Availability</th><th>Measured</th><th>Degraded</th>
<th>Down</th><th>Unreachable</th><th>Outages</th><th>Maintenance</th><th>No data</th><th>G.826 (SDH)</th></tr>
{% for r in rows %}
<tr><td>{{ r.kind }}</td><td>{{ r.subject }}</td><td>{{ r.network or "" }}</td>
<td>{{ "—" if r.availability_pct is none else "%.3f %%"|format(r.availability_pct) }}</td>
<td>{{ "—" if r.measured_availability_pct is none else "%.3f %%"|format(r.measured_availability_pct) }}</td>
<td>{{ r.degraded_s|hms }}</td>
<td>{{ r.down_s|hms }}</td><td>{{ r.unreachable_s|hms }}</td><td>{{ r.outages }}</td>
<td>{{ r.maintenance_s|hms }}</td><td>{{ r.unknown_s|hms }}</td>
<td>{% if r.g826_availability_pct is not none %}
{{ "%.3f %% (UAS %d s)"|format(r.g826_availability_pct, r.g826_uas_s) }}{% endif %}
{% if r.g826_esr is not none %}<br>ESR {{ "%.2e"|format(r.g826_esr) }} SESR {{ "%.2e"|format(r.g826_sesr) }}
{% if r.g826_bber is not none %}BBER {{ "%.2e"|format(r.g826_bber) }}{% endif %}{% endif %}</td>
</tr>
{% endfor %}
</table>
{% endblock %}"""


def _hms(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


@bp.get("/reports/availability")
@require("reports.read")
@nav("可用率 Availability", order=60)
def availability_page():
    from datetime import datetime

    t0, t1 = _period()
    rows = _rows(t0, t1, _kinds())
    env = current_app.jinja_env
    env.filters.setdefault("hms", _hms)

    def fmt(t: float) -> str:
        return datetime.fromtimestamp(t, availability.LOCAL_TZ).strftime("%Y-%m-%d %H:%M")

    texts = {"from_text": fmt(t0), "to_text": fmt(t1), "policy": availability.NO_DATA_POLICY}
    return render_template_string(PAGE, rows=rows, t0=t0, t1=t1, **texts)
