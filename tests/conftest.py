"""Fixtures shared by every test area."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nms.config import Settings
from nms.schema import open_migrated
from tests.support.ci_skips import pytest_runtest_makereport, pytest_terminal_summary  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
TESTBED = ROOT.parent / "shared" / "testbed"


@pytest.fixture
def testbed() -> Path:
    """The shared test bed of real device walks; tests that need it skip without it."""
    if not TESTBED.is_dir():
        pytest.skip(f"test bed not found at {TESTBED} (../shared/testbed beside the repository)")
    return TESTBED


# Test areas whose tests run on both database engines: each test using ``settings`` (or
# ``database_url``) runs as ``[sqlite]`` and ``[postgresql]``; the PostgreSQL variants carry
# the ``pg`` mark and run as their own tier (``make test-pg``, CI), all in one cluster.
ENGINE_AREAS = ("centre", "ipam", "alerts", "auth", "dashboards", "configs", "portals", "events")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_engine" not in metafunc.fixturenames:
        return
    parts = Path(str(metafunc.definition.path)).resolve().relative_to(ROOT / "tests").parts
    if len(parts) > 1 and parts[0] in ENGINE_AREAS:
        metafunc.parametrize(
            "db_engine", ["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)], indirect=True
        )


@pytest.fixture
def db_engine(request: pytest.FixtureRequest) -> str:
    """``sqlite`` unless the test's area runs on both engines (then parametrised)."""
    return getattr(request, "param", "sqlite")


@pytest.fixture
def database_url(db_engine: str, request: pytest.FixtureRequest):
    """Empty for SQLite files; a fresh, empty PostgreSQL database of the test's own otherwise."""
    if db_engine == "sqlite":
        yield ""
        return
    yield request.getfixturevalue("pg_url")
    from nms.dbpg import close_pools

    close_pools()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """A data directory of the test's own and no inventory (areas needing one override this)."""
    return Settings(data_dir=tmp_path / "var", inventory_path=tmp_path / "no-inventory.yaml", testing=True,
                    database_url=database_url)


@pytest.fixture
def centre_db(settings: Settings):
    """centre.db with every table made, as ``nms serve`` leaves it at start (stores never make tables)."""
    db = open_migrated(settings, "centre")
    yield db
    db.conn.close()


@pytest.fixture
def metrics_db(settings: Settings):
    db = open_migrated(settings, "metrics")
    yield db
    db.conn.close()


@pytest.fixture(scope="session")
def pg_cluster():
    """One throwaway PostgreSQL cluster for the whole session (tests/support/pgcluster.py).

    PostgreSQL not installed: the tests skip, which fails the run under ``CI=true``
    (tests/support/ci_skips.py), as for the other real engines.
    """
    pytest.importorskip("psycopg", reason="psycopg not installed (pip install -r requirements.txt)")
    from tests.support.pgcluster import PgCluster, PgUnavailable

    try:
        cluster = PgCluster.start()
    except PgUnavailable as e:
        pytest.skip(str(e))
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty database of this test's own in the session's cluster; emptied and recycled afterwards."""
    from tests.support.pgcluster import database_of, fresh_database_url

    url = fresh_database_url(pg_cluster, request.node.name)
    yield url
    pg_cluster.recycle_database(database_of(url))
