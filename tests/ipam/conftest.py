"""Fixtures for the IPAM tests: a fresh centre database with the ipam_* schema, on either engine.

Every fixture here takes the root ``database_url`` fixture, so each IPAM test runs as
``[sqlite]`` and ``[postgresql]`` (the latter marked ``pg``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from nms.config import Settings
from nms.db import Database, connect, memory
from nms.schema import create_schema, open_migrated

from .helpers import plan_database, planned_app

# What one IPAM test writes: emptied between databases handed out on PostgreSQL.
_WRITTEN = ("ipam_", "audit_log")


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path, testing=True, database_url=database_url)


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = open_migrated(settings, "centre")
    yield database
    database.conn.close()


@pytest.fixture
def fresh_db(settings: Settings) -> Iterator[Callable[[], Database]]:
    """A factory of empty centre databases with every table made (one per Hypothesis example).

    SQLite: a new in-memory database per call.  PostgreSQL: the test's own database, its
    IPAM and audit tables emptied on each later call (a new database per example would cost
    far more than the example).
    """
    opened: list[Database] = []

    def make() -> Database:
        if not settings.database_url:
            db = memory()
            create_schema(db)
            opened.append(db)
            return db
        if not opened:
            opened.append(open_migrated(settings, "centre"))
            return opened[0]
        db = opened[0]
        tables = [t for t in db.table_names() if t.startswith(_WRITTEN)]
        db.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY")
        from ipam.schema import ensure_schema

        ensure_schema(db)  # the default address spaces again
        return db

    yield make
    for db in opened:
        db.conn.close()


@pytest.fixture(scope="session")
def plan_template_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ipam-plan")


def _cluster(database_url: str, request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue("pg_cluster") if database_url else None


@pytest.fixture
def planned(tmp_path: Path, plan_template_dir: Path, database_url: str,
            request: pytest.FixtureRequest) -> Flask:
    """The real app on a database holding the shipped address plan (copied from one import)."""
    return planned_app(tmp_path, plan_template_dir, database_url, _cluster(database_url, request))


@pytest.fixture
def planned_db(settings: Settings, plan_template_dir: Path,
               request: pytest.FixtureRequest) -> Iterator[Database]:
    """The centre database of ``settings`` holding the shipped address plan (copied from one import)."""
    url = settings.database_url
    plan_database(settings.data_dir, plan_template_dir, url, _cluster(url, request))
    db = connect(settings, "centre")
    yield db
    db.conn.close()
