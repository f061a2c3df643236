"""Fixtures for the IPAM tests: a fresh centre database with the ipam_* schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from nms.config import Settings
from nms.schema import create_schema, open_migrated


def memory_db() -> sqlite_utils.Database:
    """An in-memory database opened like nms.db.connect does (explicit transactions)."""
    db = sqlite_utils.Database(sqlite3.connect(":memory:", isolation_level=None))
    create_schema(db)
    return db


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, testing=True)


@pytest.fixture
def db(settings: Settings) -> sqlite_utils.Database:
    database = open_migrated(settings, "centre")
    yield database
    database.conn.close()
