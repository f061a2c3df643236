"""Every store's tables, made once: at app creation, ``nms serve`` start and the CLI entry points.

Request paths never create tables.  Each store keeps its own idempotent ``ensure_schema``
(with the ``ALTER TABLE`` upgrades of older databases); this module is the one place that
runs them all, so a new store is added here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from ipam import schema as ipam_schema
from nms import audit, clockskew, maintenance, pipeline, sdh, state
from nms.alerts import schema as alerts_schema
from nms.auth import schema as auth_schema
from nms.config import Settings
from nms.configs import store as configs_store
from nms.db import connect
from nms.events import store as events_store
from nms.portals import store as portals_store

Ensure = Callable[[sqlite_utils.Database], None]

# centre.db: accounts and audit, state and events, alerts and maintenance, configs, the event
# log, IPAM.
CENTRE: tuple[Ensure, ...] = (
    audit.ensure_schema,
    auth_schema.ensure_schema,
    state.ensure_schema,
    sdh.ensure_schema,
    clockskew.ensure_schema,
    maintenance.ensure_schema,
    alerts_schema.ensure_schema,
    configs_store.ensure_schema,
    events_store.ensure_schema,
    ipam_schema.ensure_schema,
    portals_store.ensure_schema,
)
# metrics.db: the time series and the ingest journal.
METRICS: tuple[Ensure, ...] = (pipeline.ensure_schema,)


def create_schema(db: sqlite_utils.Database, name: str = "centre") -> None:
    """Make (or upgrade) every table of database ``name`` on ``db``; idempotent."""
    for ensure in CENTRE if name == "centre" else METRICS:
        ensure(db)


def migrate(settings: Settings) -> None:
    """Make or upgrade both databases under ``settings.data_dir`` (cheap when they are current)."""
    for name in ("centre", "metrics"):
        db = connect(settings, name)
        try:
            create_schema(db, name)
        finally:
            db.conn.close()


def open_migrated(settings: Settings, name: str = "centre") -> sqlite_utils.Database:
    """For a command line entry point: make or upgrade the databases, then open ``name``."""
    migrate(settings)
    return connect(settings, name)


# Who owns which table: the one module (or package) with SQL on it; everyone else calls its
# functions.  tests/centre/test_table_ownership.py scans the code against this map and
# checks docs/storage.md ("Who touches which tables") lists the same.
OWNERS: dict[str, tuple[str, ...]] = {
    # metrics.db
    "nms.store": ("ts_source", "ts_metric", "ts_head", "ts_block"),
    "nms.pipeline": ("ingest_batches", "ts_dead_letter"),
    # centre.db
    "nms.state": ("state_current", "state_events", "state_gaps", "state_applied", "agent_epochs"),
    "nms.sdh": ("state_sdh", "state_sdh_pm"),
    "nms.clockskew": ("ingest_clock_skew", "ingest_agent_clock"),
    "nms.maintenance": ("maint_windows",),
    "nms.audit": ("audit_log",),
    "nms.auth": ("auth_users", "auth_tokens", "auth_login_failures"),
    "nms.alerts": (
        "alert_alerts", "alert_history", "alert_comments", "alert_silences", "alert_maint_modes",
        "alert_notifications", "alert_notification_log",
    ),
    "nms.configs.store": ("config_versions", "config_status", "config_events"),
    "nms.events.store": ("event_log",),
    "nms.configs.hostkeys": ("config_hostkeys",),
    "nms.portals.store": (
        "portal_checks", "portal_snapshots", "portal_baselines", "portal_current", "portal_events",
    ),
    "ipam": (
        "ipam_spaces", "ipam_prefixes", "ipam_addresses", "ipam_requests", "ipam_notifications",
        "ipam_idempotency", "ipam_free", "ipam_free_pools",
        "ipam_seen", "ipam_lldp_seen", "ipam_address_polls", "ipam_findings",
    ),
    # the agent's own spool file (not the centre's)
    "probes.agent.spool": ("meta", "identity", "pending", "pending_events", "batches", "dead_letter"),
}
