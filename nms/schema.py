"""Every store's tables, made and upgraded once: at app creation, ``nms serve`` start, ``nms migrate``.

Request paths never create tables.  Each table group (a *component*: audit, auth, state,
IPAM, ...) has a schema version and an ordered list of migrations; ``schema_versions``
records how far each component of a database has come, and :func:`migrate_db` runs the
missing steps in order, each in its own writer transaction (so two centres starting at once
on one PostgreSQL database apply every step exactly once).

Version 1 of every component is its store's ``ensure_schema``: the tables as the last
release made them, written idempotently (``CREATE ... IF NOT EXISTS`` plus the ``ALTER
TABLE`` upgrades of older files), so a database made by any earlier release reaches
version 1 in place with nothing lost.  A later change to a table is a new function appended
to its component's list, never an edit of an applied step; the same steps build a fresh
SQLite file and a fresh PostgreSQL database (``nms.dbpg`` translates the column types).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ipam import schema as ipam_schema
from nms import audit, clockskew, maintenance, pipeline, sdh, state
from nms.alerts import schema as alerts_schema
from nms.auth import schema as auth_schema
from nms.config import Settings
from nms.configs import store as configs_store
from nms.db import Database, SqliteDatabase, connect, transaction
from nms.events import store as events_store
from nms.portals import store as portals_store

Migration = Callable[[Any], None]


@dataclass(frozen=True)
class Component:
    """A group of tables with one owner, versioned together: version N = ``steps[:N]`` applied."""

    name: str
    steps: tuple[Migration, ...]

    @property
    def version(self) -> int:
        return len(self.steps)


# centre.db: accounts and audit, state and events, alerts and maintenance, configs, the event
# log, IPAM, portals.
CENTRE: tuple[Component, ...] = (
    Component("audit", (audit.ensure_schema,)),
    Component("auth", (auth_schema.ensure_schema, auth_schema.add_secrets)),
    Component("state", (state.ensure_schema,)),
    Component("sdh", (sdh.ensure_schema,)),
    Component("clockskew", (clockskew.ensure_schema,)),
    Component("maintenance", (maintenance.ensure_schema,)),
    Component("alerts", (alerts_schema.ensure_schema, alerts_schema.add_eval_generation)),
    Component("configs", (configs_store.ensure_schema,)),
    Component("events", (events_store.ensure_schema,)),
    Component("ipam", (ipam_schema.ensure_schema,)),
    Component("portals", (portals_store.ensure_schema,)),
)
# metrics.db: the ingest journal (the time series make their own tables, nms.store).
METRICS: tuple[Component, ...] = (Component("pipeline", (pipeline.ensure_schema,)),)
COMPONENTS = {"centre": CENTRE, "metrics": METRICS}

VERSIONS_TABLE = """CREATE TABLE IF NOT EXISTS schema_versions (
    db TEXT NOT NULL, component TEXT NOT NULL, version INTEGER NOT NULL, applied_ts REAL NOT NULL,
    PRIMARY KEY (db, component))"""


def versions(db: Database, name: str = "centre") -> dict[str, int]:
    """Applied version of each component of ``db`` (absent: 0, a database older than versioning)."""
    if "schema_versions" not in db.table_names():
        return {}
    return dict(db.execute("SELECT component, version FROM schema_versions WHERE db = ?", (name,)).fetchall())


def pending(db: Database, name: str = "centre") -> list[tuple[str, int]]:
    """(component, version) steps ``db`` still lacks, in the order they would run."""
    have = versions(db, name)
    return [(c.name, v) for c in COMPONENTS[name] for v in range(have.get(c.name, 0) + 1, c.version + 1)]


def migrate_db(db: Database, name: str = "centre") -> list[tuple[str, int]]:
    """Bring every component of ``db`` to its latest version; returns the steps applied here.

    Each step runs in its own writer transaction and re-reads the version inside it, so
    concurrent starts apply each step once; a failing step rolls back and stops the upgrade
    with the component still at its previous version.
    """
    if not hasattr(db, "engine"):  # a bare sqlite-utils Database (an in-memory scratch copy)
        db = SqliteDatabase(db.conn, name)
    db.execute(VERSIONS_TABLE)
    applied: list[tuple[str, int]] = []
    for component in COMPONENTS[name]:
        while True:
            with transaction(db):
                row = db.execute(
                    "SELECT version FROM schema_versions WHERE db = ? AND component = ?",
                    (name, component.name),
                ).fetchone()
                have = row[0] if row else 0
                if have >= component.version:
                    break
                component.steps[have](db)
                db.execute(
                    """INSERT INTO schema_versions (db, component, version, applied_ts) VALUES (?, ?, ?, ?)
                       ON CONFLICT (db, component) DO UPDATE SET version = excluded.version,
                       applied_ts = excluded.applied_ts""",
                    (name, component.name, have + 1, time.time()),
                )
            applied.append((component.name, have + 1))
    return applied


def create_schema(db: Database, name: str = "centre") -> None:
    """Make (or upgrade) every table of database ``name`` on ``db``; idempotent."""
    migrate_db(db, name)


def migrate(settings: Settings) -> list[tuple[str, str, int]]:
    """Make or upgrade both databases of ``settings`` (cheap when they are current)."""
    done: list[tuple[str, str, int]] = []
    for name in ("centre", "metrics"):
        db = connect(settings, name)
        try:
            done += [(name, c, v) for c, v in migrate_db(db, name)]
        finally:
            db.conn.close()
    return done


def open_migrated(settings: Settings, name: str = "centre") -> Database:
    """For a command line entry point: make or upgrade the databases, then open ``name``."""
    migrate(settings)
    return connect(settings, name)


# Who owns which table: the one module (or package) with SQL on it; everyone else calls its
# functions.  tests/centre/test_table_ownership.py scans the code against this map and
# checks docs/storage.md ("Who touches which tables") lists the same.
OWNERS: dict[str, tuple[str, ...]] = {
    "nms.schema": ("schema_versions",),
    # metrics.db
    "nms.store": ("ts_source", "ts_metric", "ts_head", "ts_block"),
    "nms.pipeline": ("ingest_batches", "ts_dead_letter"),
    # centre.db
    "nms.state": ("state_current", "state_events", "state_gaps", "state_applied", "agent_epochs"),
    "nms.sdh": ("state_sdh", "state_sdh_pm"),
    "nms.clockskew": ("ingest_clock_skew", "ingest_agent_clock"),
    "nms.maintenance": ("maint_windows",),
    "nms.audit": ("audit_log",),
    "nms.auth": ("auth_users", "auth_tokens", "auth_login_failures", "auth_secrets"),
    "nms.alerts": (
        "alert_alerts", "alert_history", "alert_comments", "alert_silences", "alert_maint_modes",
        "alert_notifications", "alert_notification_log", "alert_eval",
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
