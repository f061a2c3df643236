"""Fixtures of the accounts tests: a real app on a temporary data dir, and its database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils
from flask import Flask

from tests.auth.helpers import app_db, make_app, tiny_inventory


@pytest.fixture
def app(tmp_path: Path, database_url: str) -> Flask:
    """The real app on SQLite files or, in the ``[postgresql]`` variant, a fresh database."""
    return make_app(tmp_path, tiny_inventory(), database_url=database_url)


@pytest.fixture
def db(app: Flask) -> Iterator[sqlite_utils.Database]:
    database = app_db(app)
    yield database
    database.conn.close()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def module_database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """``database_url`` for a module-scoped world built once: each module runs on both engines."""
    if request.param == "sqlite":
        yield ""
        return
    from tests.support.pgcluster import database_of, fresh_database_url

    cluster = request.getfixturevalue("pg_cluster")
    url = fresh_database_url(cluster, request.module.__name__.rsplit(".", 1)[-1])
    yield url
    from nms.dbpg import close_pools

    close_pools()
    cluster.drop_database(database_of(url))
