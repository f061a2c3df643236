"""``/api/v1/eventlog`` (JSON, paged) and ``/api/v1/eventlog.csv``: search the event log.

Filters: ``site`` (its subtree), ``device``, ``kind`` and ``severity`` (comma lists),
``origin`` (trap, syslog, receiver), ``from``/``to`` (Unix seconds, a date or an ISO
date-time), ``q`` (text in the message, subject or sender), ``limit``/``offset``.
Both need ``status.read``; a scoped principal sees only events of devices at its sites,
filtered in the query itself (an event of an unknown sender is the province's).
"""

from __future__ import annotations

import time

from flask import Blueprint, Response, current_app, jsonify, request

from nms.auth import current_principal, require, scope_sites
from nms.auth.scope import site_tree
from nms.availability import parse_time
from nms.db import request_db
from nms.events import store
from probes.events.model import SEVERITIES

bp = Blueprint("eventlog", __name__)

MAX_LIMIT = 1000
MAX_CSV_ROWS = 100_000
ORIGINS = ("trap", "syslog", "receiver")


class BadRequest(ValueError):
    pass


@bp.errorhandler(BadRequest)
def _bad(exc: BadRequest):
    return jsonify(error=str(exc)), 400


def _list(name: str, allowed: tuple[str, ...] | None = None) -> tuple[str, ...]:
    values = tuple(v for v in (request.args.get(name) or "").split(",") if v)
    if allowed is not None and (bad := [v for v in values if v not in allowed]):
        raise BadRequest(f"{name}: {', '.join(bad)}; expected {', '.join(allowed)}")
    return values


def _time(name: str) -> float | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return parse_time(raw)
    except ValueError as exc:
        raise BadRequest(f"{name}: {exc}") from None


def _query() -> store.Query:
    """The request's filters, narrowed to the principal's scope."""

    scope = scope_sites(current_principal())
    sites = None if scope is None else frozenset(scope)
    if site := request.args.get("site"):
        inv = site_tree(current_app)
        if inv is None or site not in inv.sites:
            raise BadRequest(f"site: unknown site {site!r}")
        wanted = frozenset(inv.subtree(site))
        sites = wanted if sites is None else sites & wanted
    origin = request.args.get("origin") or None
    if origin is not None and origin not in ORIGINS:
        raise BadRequest(f"origin: expected one of {', '.join(ORIGINS)}")
    return store.Query(sites=sites, device=request.args.get("device") or None, kinds=_list("kind"),
                       severities=_list("severity", SEVERITIES), origin=origin, since=_time("from"),
                       until=_time("to"), text=(request.args.get("q") or "")[:200] or None)


def _int(name: str, default: int, top: int) -> int:
    try:
        value = int(request.args.get(name, default))
    except ValueError:
        raise BadRequest(f"{name}: expected an integer") from None
    if not 0 <= value <= top:
        raise BadRequest(f"{name}: expected 0 to {top}")
    return value


@bp.get("/api/v1/eventlog")
@require("status.read")
def search():
    limit, offset = _int("limit", 200, MAX_LIMIT), _int("offset", 0, 10**9)
    rows, total = store.search(request_db(), _query(), limit, offset)
    return jsonify(ts=time.time(), total=total, offset=offset, limit=limit, events=rows)


@bp.get("/api/v1/eventlog.csv")
@require("status.read")
def export_csv():
    rows, _ = store.search(request_db(), _query(), MAX_CSV_ROWS)
    return Response(store.to_csv(rows), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=eventlog.csv"})
