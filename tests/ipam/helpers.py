"""An app with the real inventory and the shipped address plan loaded, plus users."""

from __future__ import annotations

import os
import shutil
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from flask import Flask

from ipam import csvio, store
from ipam.addresses import parse_prefix
from nms.config import ROOT, Settings
from nms.db import Database
from nms.schema import open_migrated
from probes.common.inventory import load_inventory
from probes.common.inventory_model import Inventory
from tests.auth.helpers import app_db, make_app, make_token, make_user

PLAN = ROOT / "ipam" / "data" / "address_plan.csv"
COUNTY, OTHER_COUNTY, CITY = "hefei-feidong", "chaohu-lujiang", "hefei"


@cache
def inventory() -> Inventory:
    return load_inventory(ROOT / "inventory.yaml")


def planned_app(tmp_path: Path, template_dir: Path, database_url: str = "", cluster: Any = None) -> Flask:
    """A fresh app whose centre database is a copy of one with the shipped plan imported."""
    plan_database(tmp_path / "var", template_dir, database_url, cluster)
    return make_app(tmp_path, inventory=inventory(), database_url=database_url)


def plan_database(data_dir: Path, template_dir: Path, database_url: str = "", cluster: Any = None) -> None:
    """Put a copy of a centre database holding the shipped plan where ``data_dir``/``database_url`` point.

    SQLite: a copy of ``template_dir/centre.db`` (imported once).  PostgreSQL (``database_url``
    in ``cluster``, tests/support/pgcluster.py): the database is remade from a template database.
    """
    if database_url:
        _copy_pg_template(cluster, database_url)
        return
    if not (template_dir / "centre.db").exists():
        db = _import_plan(Settings(data_dir=template_dir))
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.conn.close()
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(template_dir / "centre.db", data_dir / "centre.db")


def _import_plan(settings: Settings) -> Database:
    db = open_migrated(settings, "centre")
    csvio.import_csv(db, PLAN.read_text(encoding="utf-8"), actor="test", known_sites=set(inventory().sites))
    return db


_PG_TEMPLATES: dict[int, str] = {}  # cluster port -> its database holding the imported plan


def _copy_pg_template(cluster: Any, database_url: str) -> None:
    from nms.dbpg import close_pools
    from tests.support.pgcluster import database_of

    template = _PG_TEMPLATES.get(cluster.port)
    if template is None:
        template = f"ipam_plan_{os.getpid()}"
        url = cluster.create_database(template)
        _import_plan(Settings(data_dir=Path(tempfile.gettempdir()), database_url=url)).conn.close()
        _PG_TEMPLATES[cluster.port] = template
    close_pools()  # nobody may be connected to either database while it is copied
    name = database_of(database_url)
    cluster.drop_database(name)
    cluster.create_database(name, template=template)


def examples(db_engine: str, n: int) -> int:
    """Hypothesis examples for a test run on ``db_engine``: all ``n`` on SQLite, a fifth on PostgreSQL.

    The PostgreSQL variant checks that the same SQL answers alike there (BYTEA order, the
    free-space queries); every example costs it tens of round trips, so it samples fewer.
    """
    return n if db_engine == "sqlite" else max(n // 5, 20)


def user_token(app: Flask, name: str, role: str, site: str) -> dict[str, str]:
    db = app_db(app)
    try:
        make_user(db, name, role, site)
        return {"Authorization": f"Bearer {make_token(db, 'user', name)}"}
    finally:
        db.conn.close()


def pool_of(app: Flask, site: str, space: str = "专网", family: int = 4) -> store.Prefix:
    db = app_db(app)
    try:
        return store.pools_of_site(db.conn, site, store.space_id(db, space), family)[0]
    finally:
        db.conn.close()


def counts(app: Flask) -> tuple[int, int, int]:
    db = app_db(app)
    try:
        return tuple(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[return-value]
                     for t in ("ipam_prefixes", "ipam_requests", "audit_log"))
    finally:
        db.conn.close()


__all__ = ["parse_prefix", "COUNTY", "OTHER_COUNTY", "CITY"]
