"""What an IPAM request needs from the app: the request's centre database and the four-eyes setting."""

from __future__ import annotations

from flask import current_app

from nms.db import Database, request_db


def db() -> Database:
    """The request's centre database (:func:`nms.db.request_db`; tables made at app start)."""
    return request_db()


def allow_self_approval() -> bool:
    """Whether this centre relaxes the four-eyes rule (``NMS_IPAM_ALLOW_SELF_APPROVAL=1``)."""
    return bool(current_app.config["NMS_SETTINGS"].ipam_allow_self_approval)


def reclaim_days() -> float:
    """Days without a sighting after which an allocation is reclaimable (``NMS_IPAM_RECLAIM_DAYS``)."""
    return float(current_app.config["NMS_SETTINGS"].ipam_reclaim_days)
