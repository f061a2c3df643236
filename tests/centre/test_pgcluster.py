"""The throwaway PostgreSQL cluster the database layer's tests run on (tests/support/pgcluster.py)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

psycopg = pytest.importorskip("psycopg")

from tests.support.pgcluster import (  # noqa: E402
    PgCluster,
    PgUnavailable,
    database_of,
    fresh_database_url,
    owner_id,
    reap_orphans,
)

ROOT = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    """Running, not just a zombie waiting to be reaped (by init, in a container maybe never)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0] not in "ZX"
    except OSError:
        return False


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def test_cluster_takes_connections_on_loopback_only(pg_cluster: PgCluster) -> None:
    with psycopg.connect(pg_cluster.url()) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        listen = conn.execute("SHOW listen_addresses").fetchone()[0]
        fsync = conn.execute("SHOW fsync").fetchone()[0]
    assert int(version.split(".")[0]) >= 15, version  # STRATEGY of CREATE DATABASE, WITH (FORCE)
    assert listen == "127.0.0.1"
    assert fsync == "off"  # the test cluster trades durability for speed
    assert pg_cluster.url("x") == f"postgresql://postgres@127.0.0.1:{pg_cluster.port}/x"


def test_fresh_databases_are_isolated(pg_cluster: PgCluster, pg_url: str) -> None:
    other = fresh_database_url(pg_cluster, "test_fresh_databases_are_isolated")
    assert database_of(other) != database_of(pg_url)
    try:
        with psycopg.connect(pg_url, autocommit=True) as a, psycopg.connect(other, autocommit=True) as b:
            a.execute("CREATE TABLE only_in_a (x int)")
            assert a.execute("SELECT to_regclass('only_in_a')").fetchone()[0] == "only_in_a"
            assert b.execute("SELECT to_regclass('only_in_a')").fetchone()[0] is None
            # Advisory locks are per database (why a database per test, not a schema per test).
            assert a.execute("SELECT pg_try_advisory_lock(19)").fetchone()[0] is True
            assert b.execute("SELECT pg_try_advisory_lock(19)").fetchone()[0] is True
    finally:
        pg_cluster.drop_database(database_of(other))
    with pytest.raises(psycopg.OperationalError, match="does not exist"):
        psycopg.connect(other).close()


def _spares(cluster: PgCluster) -> set[str]:
    with psycopg.connect(cluster.url()) as conn:
        return {r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'spare%'")}


def test_a_recycled_database_is_as_good_as_new(pg_cluster: PgCluster) -> None:
    first = fresh_database_url(pg_cluster, "first")
    leftover = psycopg.connect(first, autocommit=True)  # a test's client never closed
    leftover.execute("CREATE TABLE t (x int); CREATE SCHEMA extra; CREATE TABLE extra.u (y int)")
    leftover.execute("SELECT pg_advisory_lock(7)")
    leftover.execute("LISTEN wake")
    before = _spares(pg_cluster)
    pg_cluster.recycle_database(database_of(first))
    with pytest.raises(psycopg.OperationalError):  # its session was ended
        leftover.execute("SELECT 1")
    leftover.close()
    (spare,) = _spares(pg_cluster) - before

    second = fresh_database_url(pg_cluster, "second")
    assert spare not in _spares(pg_cluster)  # it is the recycled one, renamed
    with psycopg.connect(second, autocommit=True) as conn:
        schemas = {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_'")}
        assert schemas == {"public", "information_schema"}
        assert conn.execute("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"
                            ).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").fetchone()[0] == 0
        assert conn.execute("SELECT pg_try_advisory_lock(7)").fetchone()[0] is True
        conn.execute("CREATE TABLE t (x int)")  # public is usable as in a new database
    with pytest.raises(psycopg.OperationalError, match="does not exist"):
        psycopg.connect(first).close()  # the old name is gone: a leftover client cannot come back
    pg_cluster.recycle_database(database_of(second))


def test_a_database_that_cannot_be_made_new_is_dropped(pg_cluster: PgCluster) -> None:
    url = fresh_database_url(pg_cluster, "settings")
    name = database_of(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" SET work_mem = \'8MB\'')  # survives emptying the schemas
        conn.execute(f'ALTER DATABASE "{name}" CONNECTION LIMIT 3')
    before = _spares(pg_cluster)
    pg_cluster.recycle_database(name)
    assert _spares(pg_cluster) == before
    with psycopg.connect(pg_cluster.url()) as conn:
        settings = conn.execute("SELECT count(*) FROM pg_db_role_setting WHERE setdatabase <> 0").fetchone()
    assert settings == (0,)  # dropped with its database


def test_database_names_are_made_safe_and_unique(pg_cluster: PgCluster) -> None:
    name = 'test[Weird "name"; DROP DATABASE postgres]' + "x" * 80
    urls = [fresh_database_url(pg_cluster, name) for _ in range(2)]
    try:
        names = [database_of(u) for u in urls]
        assert names[0] != names[1]
        assert all(len(n) <= 63 and n.replace("_", "").isalnum() for n in names), names
        for url in urls:
            with psycopg.connect(url) as conn:
                assert conn.execute("SELECT current_database()").fetchone()[0] == database_of(url)
    finally:
        for url in urls:
            pg_cluster.drop_database(database_of(url))


def test_stop_leaves_no_postgres_behind() -> None:
    """A bench's durable cluster in a ``with`` block; stopped with a session still open."""
    with PgCluster.start(durable=True) as cluster:
        conn = psycopg.connect(cluster.create_database("bench"), autocommit=True)  # left open
        setting = conn.execute("SELECT current_database(), current_setting('fsync')").fetchone()
        assert setting == ("bench", "on")
        pid = cluster.postmaster()
        assert pid is not None and _alive(pid)
        children = _children(pid)
        assert children, "a running postmaster has background workers"
    conn.close()  # after the fast shutdown ended its session
    assert not _alive(pid)
    assert not [c for c in children if _alive(c)]
    assert _refused(cluster.port)
    assert not cluster.root.exists()
    cluster.stop()  # idempotent


@pytest.fixture
def base() -> Iterator[Path]:
    """A base directory of the test's own that the postgres user can reach (tmp_path is root's)."""
    path = Path(tempfile.mkdtemp(prefix="nms-pgtest-"))
    os.chmod(path, 0o755)
    yield path
    reap_orphans(path)  # whatever a failed test left running there
    shutil.rmtree(path)


def test_a_killed_session_s_cluster_is_reaped_by_the_next(base: Path, tmp_path: Path) -> None:
    errors = tmp_path / "session.err"
    with open(errors, "w") as err:
        session = subprocess.Popen(
            [sys.executable, "-c", "import time; from tests.support.pgcluster import PgCluster; "
             f"c = PgCluster.start({str(base)!r}); print(c.port, flush=True); time.sleep(120)"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    try:
        line = session.stdout.readline()
        assert line.strip().isdigit(), f"the session did not start its cluster: {errors.read_text()[-2000:]}"
        (root,) = base.iterdir()
        pid = int((root / "data" / "postmaster.pid").read_text().split("\n", 1)[0])
    finally:
        session.kill()  # SIGKILL: no atexit, no fixture teardown
        session.wait()
        session.stdout.close()
    port = int(line)
    assert _alive(pid), "pg_ctl detaches the postmaster: it outlives its session"
    assert not _refused(port)
    assert reap_orphans(base) == 1
    assert not _alive(pid), open(f"/proc/{pid}/status").read()
    assert _refused(port)
    assert list(base.iterdir()) == []


def test_only_clusters_of_dead_sessions_are_reaped(base: Path) -> None:
    live, starting, dead = (base / f"nms-pg-{n}" for n in ("live", "starting", "dead"))
    for root in (live, starting, dead):
        root.mkdir()
    (live / "owner").write_text(owner_id(os.getpid()))
    (dead / "owner").write_text(f"{os.getpid()} 1")  # this pid, another start time: a reused pid
    assert reap_orphans(base) == 1
    assert sorted(base.iterdir()) == [live, starting]


def test_failed_start_cleans_up(base: Path) -> None:
    with pytest.raises(RuntimeError, match="max_connections"):
        PgCluster.start(base, max_connections=0)  # the postmaster refuses the setting
    assert list(base.iterdir()) == []


def test_missing_binaries_are_named(tmp_path: Path) -> None:
    with pytest.raises(PgUnavailable, match="PostgreSQL not installed: initdb, pg_ctl, postgres missing"):
        PgCluster.start(bin_dir=tmp_path)
