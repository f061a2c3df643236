"""The centre database for an IPAM request, with the ipam_* schema ensured once per app."""

from __future__ import annotations

import sqlite_utils
from flask import current_app, g

from ipam.schema import ensure_schema
from nms.db import connect


def db() -> sqlite_utils.Database:
    """Per-request connection (shared with nms.auth when it opened one), closed at teardown."""
    try:
        from nms.auth.enforce import request_db
    except ModuleNotFoundError:  # pragma: no cover - auth always present in the app
        database = g.get("_ipam_db")
        if database is None:
            database = g._ipam_db = connect(current_app.config["NMS_SETTINGS"], "centre")
    else:
        database = request_db()
    if not current_app.extensions.get("ipam_schema"):
        ensure_schema(database)
        current_app.extensions["ipam_schema"] = True
    return database


def allow_self_approval() -> bool:
    """Whether this centre relaxes the four-eyes rule (``NMS_IPAM_ALLOW_SELF_APPROVAL=1``)."""
    return bool(current_app.config["NMS_SETTINGS"].ipam_allow_self_approval)
