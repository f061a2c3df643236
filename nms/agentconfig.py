"""``GET /api/v1/agents/<name>/config``: an agent pulls its assignment from the centre.

Only the agent itself (its token, and behind the proxy its client certificate) may read
it: another agent's token gets 403.  The answer is :func:`probes.common.assignment.encode`
of the inventory the centre runs with (:func:`nms.auth.scope.site_tree`: the last valid
one, so a broken ``inventory.yaml`` never reaches an agent); its ``ETag`` is the SHA-256 of
the body, and ``If-None-Match`` with it gets 304, so the agents' minute polls cost nothing
while nothing changed.  No secret values are in it (see :mod:`probes.common.assignment`).

The agent sends its clock in ``X-Agent-Time``; minutes apart from the centre's are logged
here (the agent logs and exports its own measure from our ``Date`` header).
"""

from __future__ import annotations

import logging
import threading
import time

from flask import Blueprint, Response, current_app, jsonify, request

from nms import clockskew
from nms.auth import current_principal, require
from nms.auth.scope import site_tree
from nms.db import request_db
from probes.common.assignment import assignment_of, encode, etag_of
from probes.common.inventory_model import Inventory

log = logging.getLogger(__name__)

bp = Blueprint("agent_config", __name__)

CLOCK_HEADER = "X-Agent-Time"
SKEW_WARN_S = 60.0
_lock = threading.Lock()


def _encoded(tree: Inventory, agent: str) -> tuple[bytes, str]:
    """(body, etag) of ``agent``'s assignment, built once per inventory loaded."""
    cache: dict = current_app.extensions.setdefault("nms_agent_configs", {})
    with _lock:
        if cache.get("tree") is not tree:
            cache.clear()
            cache["tree"] = tree
        if agent not in cache:
            body = encode(assignment_of(tree, agent))
            cache[agent] = (body, etag_of(body))
        return cache[agent]


def _note_clock(agent: str, now: float) -> None:
    raw = request.headers.get(CLOCK_HEADER)
    try:
        skew = float(raw) - now if raw else None
    except ValueError:
        return
    if skew is None:
        return
    clockskew.note_agent_clock(request_db(), agent, skew, now)  # for `nms doctor` and the console
    if abs(skew) >= SKEW_WARN_S:
        log.warning(
            "agent %s: its clock is %.1f minutes %s the centre's",
            agent,
            abs(skew) / 60,
            "ahead of" if skew > 0 else "behind",
        )


@bp.get("/api/v1/agents/<name>/config")
@require("ingest.write")
def agent_config(name: str) -> Response:
    principal = current_principal()
    if principal is None or principal.kind != "agent":
        return jsonify(error="an agent's configuration is read with that agent's token"), 403
    if principal.name != name:
        return jsonify(error=f"forbidden: this token is agent {principal.name!r}'s, not {name!r}'s"), 403
    now = time.time()
    _note_clock(name, now)
    tree = site_tree(current_app)
    if tree is None:
        return jsonify(error="the centre has no valid inventory loaded; try again later"), 503
    if name not in tree.agents:
        return jsonify(error=f"agent {name!r} is not in the inventory's agents"), 404
    body, etag = _encoded(tree, name)
    if request.if_none_match.contains(etag):
        resp = Response(status=304)
    else:
        resp = Response(body, mimetype="application/json")
    resp.set_etag(etag)
    resp.headers["Cache-Control"] = "no-cache"
    resp.date = now
    return resp
