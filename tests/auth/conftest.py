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
