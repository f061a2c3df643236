"""``POST /api/v1/ingest``: agents push batches of poll results here (docs/architecture.md).

The agent is who its token says it is: the body's ``agent`` must match (403 otherwise).
Everything else (validation, exactly-once storage, state) is :mod:`nms.pipeline`.
"""

from __future__ import annotations

import json
import logging
import zlib

from flask import Blueprint, current_app, jsonify, request

from nms.auth import current_principal, require
from nms.auth.scope import site_tree
from nms.db import request_db
from nms.pipeline import BatchError, ingest_batch
from nms.timeseries import request_timeseries
from nms.web import settings_of

log = logging.getLogger(__name__)

bp = Blueprint("ingest", __name__)

MAX_BODY = 64 * 1024 * 1024


def inventory_of_app():
    """The inventory the centre runs with (None when it cannot be loaded)."""
    return site_tree(current_app)


def _body():
    """The JSON batch; ``Content-Encoding: gzip`` is accepted (a province batch shrinks ~10x)."""
    raw = request.get_data(cache=False)
    if request.headers.get("Content-Encoding", "identity").lower() == "gzip":
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            raw = inflate.decompress(raw, MAX_BODY)
        except zlib.error as exc:
            raise ValueError(f"body: not valid gzip ({exc})") from None
        if inflate.unconsumed_tail:
            raise ValueError(f"body: more than {MAX_BODY} bytes once unzipped; send smaller batches")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"body: not valid JSON ({exc})") from None


@bp.post("/api/v1/ingest")
@require("ingest.write")
def ingest():
    principal = current_principal()
    if principal is None or principal.kind != "agent":
        return jsonify(error="ingest needs an agent token"), 403
    if request.content_length is not None and request.content_length > MAX_BODY:
        return jsonify(error=f"body: larger than {MAX_BODY} bytes; send smaller batches"), 413
    try:
        body = _body()
    except ValueError as exc:
        return jsonify(error=str(exc)), 400
    settings = settings_of(current_app)
    inventory = inventory_of_app()
    try:
        result = ingest_batch(
            request_db("metrics"),
            request_db("centre"),
            principal.name,
            body,
            inventory,
            max_skew_s=settings.ingest_max_future_skew_s,
            store=request_timeseries(inventory),
        )
    except BatchError as exc:
        log.warning("ingest from %s refused: %s", principal.name, exc.message)
        return jsonify(error=exc.message, **exc.extra), exc.status
    return jsonify(result.as_dict())
