"""Which time-series store this process uses: the seam the engines plug into.

``NMS_TSDB_URL`` unset: SQLite (:class:`nms.store.SqliteTimeSeriesStore` on ``metrics.db``);
set: a Prometheus-compatible engine through remote write and PromQL
(:class:`nms.tsdb.remote.RemoteWriteStore`; ``NMS_TSDB_LONG_URL``: a second engine for the
hourly rollups of the long range).  Everyone above the stores (ingest, charts,
the wall, metric rules, the rollup loop) gets its store here and sees only
:class:`nms.store.TimeSeriesStore`.
"""

from __future__ import annotations

import threading
from typing import Any

import sqlite_utils
from flask import current_app

from nms.db import connect, request_db
from nms.store import SqliteTimeSeriesStore, TimeSeriesStore
from nms.tsdb.remote import RemoteWriteStore


def open_timeseries(
    settings: Any, metrics_db: sqlite_utils.Database | None = None, inventory: Any = None
) -> TimeSeriesStore:
    """The store the settings select: ``NMS_TSDB_URL`` set -> the remote engine, else SQLite.

    SQLite runs on ``metrics_db`` (the caller's connection, which it closes; opened here
    when not given).  The remote store is one per process and URL (thread-safe, it caches
    encoded labels); ``inventory`` gives its series ``site`` and ``network`` labels.
    """
    if not settings.tsdb_url:
        if metrics_db is None:
            metrics_db = connect(settings, "metrics")
        return SqliteTimeSeriesStore(metrics_db)
    with _REMOTE_LOCK:
        key = (settings.tsdb_url, settings.tsdb_long_url)
        store = _REMOTE.get(key)
        if store is None:
            store = _REMOTE[key] = RemoteWriteStore(settings.tsdb_url, long_url=settings.tsdb_long_url)
        if inventory is not None:
            store.labels_of = _labels_of(inventory)
    return store


_REMOTE: dict[tuple[str, str], Any] = {}
_REMOTE_LOCK = threading.Lock()
_LABELS: dict[int, Any] = {}


def _labels_of(inventory: Any) -> Any:
    """``network`` and ``site`` label pairs of a device, per inventory object (a reload makes a new one)."""
    got = _LABELS.get(id(inventory))
    if got is not None and got[0] is inventory:
        return got[1]
    pairs = {name: (("network", str(d.network)), ("site", d.site)) for name, d in inventory.devices.items()}

    def labels_of(device: str) -> tuple[tuple[str, str], ...]:
        return pairs.get(device, ())

    _LABELS.clear()
    _LABELS[id(inventory)] = (inventory, labels_of)
    return labels_of


def request_timeseries(inventory: Any = None) -> TimeSeriesStore:
    """The store of the current request: SQLite on the request's metrics.db (:func:`nms.db.request_db`)."""
    settings = current_app.config["NMS_SETTINGS"]
    return open_timeseries(settings, None if settings.tsdb_url else request_db("metrics"), inventory)
