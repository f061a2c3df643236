"""A throwaway PostgreSQL (15 on Debian 12) cluster on a free loopback port, for tests and benches.

PostgreSQL refuses to run as root, so when the tests run as root the cluster's binaries
run as the ``postgres`` user (``runuser``) in a directory of the cluster's own, given to
``postgres``; as any other user they run as that user.  The cluster listens on 127.0.0.1
only, trusts loopback connections only (its socket directory is private to its owner),
and by default trades durability for speed (``fsync=off`` and friends: a test's data need
not survive a power cut); ``durable=True`` keeps PostgreSQL's defaults for benches.
:meth:`PgCluster.stop` leaves no process and no directory behind, also after a failed start;
a session killed outright leaves its cluster to the next start (:func:`reap_orphans`).

Per-test isolation is a database per test, never a schema per test: advisory locks and
``LISTEN``/``NOTIFY`` channels are per database, and the layer under test uses both.  But
``CREATE DATABASE`` is slow here (it copies template0 and checkpoints: measured 20-30 ms on
a quiet machine, 250 ms to 1 s on a busy one), so :func:`fresh_database_url` hands out
*recycled* databases: after a test its sessions are ended, it is renamed (a leftover client
cannot reconnect), its schemas are dropped, and it is checked to hold nothing a new one
would not (else it is dropped).  Measured with one table: recycled 67 ms, new database 254 ms,
new schema 21 ms per test; with 31 tables and their indexes: 0.9 s, 1.8 s, 0.8 s (busy
machine, load 9 on 2 cores; the table DDL included).
"""

from __future__ import annotations

import atexit
import itertools
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import psycopg
from psycopg import sql

from nms.balancer import tail_of
from tests.support.ports import free_port


def _newest_bin_dir(root: Path = Path("/usr/lib/postgresql")) -> Path:
    """Debian's server binaries: 15 on Debian 12, the newest major if several are installed."""
    majors = sorted((int(p.name) for p in root.glob("*") if p.name.isdigit()), reverse=True)
    return root / str(majors[0] if majors else 15) / "bin"


BIN_DIR = _newest_bin_dir()
SERVICE_USER = "postgres"
# Test speed: nothing is forced to disk.  A crash loses the cluster, which a test throws away anyway.
FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
START_TIMEOUT_S = 30
_ATTEMPTS = 3  # the free port may be taken between choosing it and the postmaster binding it
_counter = itertools.count(1)
_PREFIX = "nms-pg-"  # the clusters' directories, under the base directory
_OWNER = "owner"  # in a cluster's directory: the process that started it (see reap_orphans)

# A recycled database: every schema a test made goes, public comes back as in template0.
_USER_SCHEMAS = "SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema'"
_NEW_PUBLIC = (
    "CREATE SCHEMA public AUTHORIZATION pg_database_owner;"
    " GRANT USAGE ON SCHEMA public TO PUBLIC;"
    " COMMENT ON SCHEMA public IS 'standard public schema'"
)
# What dropping the schemas does not remove; any of it left and the database is dropped instead.
_LEFTOVER_QUERIES = (
    "SELECT count(*) FROM pg_extension WHERE extname <> 'plpgsql'",
    "SELECT count(*) FROM pg_largeobject_metadata",
    "SELECT count(*) FROM pg_event_trigger",
    "SELECT count(*) FROM pg_publication",
    "SELECT count(*) FROM pg_default_acl",
    "SELECT count(*) FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase"
    " WHERE d.datname = current_database()",
    "SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()",
    "SELECT count(*) FROM pg_namespace"
    " WHERE nspname !~ '^pg_' AND nspname NOT IN ('information_schema', 'public')",
    "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace",
    "SELECT count(*) FROM pg_database WHERE datname = current_database()"
    " AND (datconnlimit <> -1 OR datistemplate OR NOT datallowconn OR datacl IS NOT NULL)",
)
_LEFTOVER_COUNT = len(_LEFTOVER_QUERIES)
_LEFTOVERS = "SELECT " + ", ".join(f"({q})" for q in _LEFTOVER_QUERIES)


class PgUnavailable(RuntimeError):
    """PostgreSQL cannot be run here (binaries or the ``postgres`` user missing)."""


def _run_as() -> list[str]:
    """The command prefix that runs a PostgreSQL binary as a user it accepts."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    if runuser is None:
        raise PgUnavailable("running as root and runuser(1) is missing: cannot start PostgreSQL as postgres")
    return [runuser, "-u", SERVICE_USER, "--"]


def _check_installed(bin_dir: Path) -> None:
    missing = [name for name in ("initdb", "pg_ctl", "postgres") if not (bin_dir / name).is_file()]
    if missing:
        raise PgUnavailable(
            f"PostgreSQL not installed: {', '.join(missing)} missing in {bin_dir} "
            "(scripts/setup.sh installs the Debian package postgresql)"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVICE_USER)
        except KeyError:
            raise PgUnavailable(
                f"running as root and there is no {SERVICE_USER!r} user to run PostgreSQL as"
            ) from None


class PgCluster:
    """One running cluster: its port, its directory, and the databases made in it."""

    def __init__(self, root: Path, port: int, bin_dir: Path, durable: bool = False) -> None:
        self.root = root
        self.durable = durable
        self._admin_conn: psycopg.Connection | None = None
        self._lock = threading.Lock()
        self._spares: list[str] = []  # emptied databases, ready to be renamed for the next test
        self.data = root / "data"
        self.sockets = root / "sockets"
        self.log = root / "postgres.log"
        self.port = port
        self.bin_dir = bin_dir
        self.stopped = False

    # -- life cycle ---------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        base_dir: Path | str | None = None,
        durable: bool = False,
        *,
        max_connections: int = 200,
        bin_dir: Path = BIN_DIR,
    ) -> PgCluster:
        """initdb and start a cluster under ``base_dir`` (default: the system temp directory).

        ``base_dir`` must be reachable by the ``postgres`` user when run as root (pytest's
        own temp directories are not: they are private to root).  Whatever fails, nothing is
        left running and the cluster's directory is removed.
        """
        _check_installed(bin_dir)
        reap_orphans(base_dir, bin_dir)
        root = Path(tempfile.mkdtemp(prefix=_PREFIX, dir=base_dir))
        (root / _OWNER).write_text(owner_id(os.getpid()) or "", encoding="ascii")
        cluster = cls(root, 0, bin_dir, durable)
        try:
            cluster._init(max_connections)
            for attempt in range(_ATTEMPTS):
                cluster.port = free_port()
                if cluster._try_start() or attempt == _ATTEMPTS - 1:
                    break
        except BaseException:
            cluster.stop()
            raise
        if cluster.stopped or cluster.postmaster() is None:
            log = cluster.log_tail()
            cluster.stop()
            raise RuntimeError(f"PostgreSQL did not start in {root}:\n{log}")
        # An interrupted session still stops its postmaster; a killed one leaves it to reap_orphans.
        atexit.register(cluster.stop)
        return cluster

    def _pg(self, binary: str, *args: str, timeout: float = 40) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*_run_as(), str(self.bin_dir / binary), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "LC_ALL": "C"},
            cwd=self.root,
        )

    def _init(self, max_connections: int) -> None:
        self.sockets.mkdir(mode=0o700)
        if os.geteuid() == 0:
            user = pwd.getpwnam(SERVICE_USER)
            for path in (self.root, self.sockets):
                os.chown(path, user.pw_uid, user.pw_gid)
        done = self._pg(
            "initdb", "-D", str(self.data), "-U", SERVICE_USER, "--auth=trust", "--no-sync",
            "--encoding=UTF8", "--locale=C", "--no-instructions",
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed in {self.data}: {done.stderr.strip() or done.stdout.strip()}")
        # Trust only loopback: the socket directory is private and TCP listens on 127.0.0.1 alone.
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\n"
            "host all all 127.0.0.1/32 trust\n"
            "host all all ::1/128 trust\n",
            encoding="utf-8",
        )
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.sockets}'",
            "max_connections": str(max_connections),
            "logging_collector": "off",
            **({} if self.durable else FAST_SETTINGS),
        }
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\n# nms test cluster\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

    def _try_start(self) -> bool:
        """One ``pg_ctl start`` on :attr:`port`; False when the port was taken meanwhile."""
        if os.geteuid() == 0 and not self.log.exists():
            self.log.touch()
            user = pwd.getpwnam(SERVICE_USER)
            os.chown(self.log, user.pw_uid, user.pw_gid)
        done = self._pg(
            "pg_ctl", "start", "-w", "-t", str(START_TIMEOUT_S), "-D", str(self.data),
            "-l", str(self.log), "-o", f"-p {self.port}",
        )
        if done.returncode == 0:
            return True
        log = self.log_tail()
        if "could not bind" in log or "could not create any TCP/IP sockets" in log:
            return False
        raise RuntimeError(f"pg_ctl start failed (port {self.port}): {done.stderr.strip()}\n{log}")

    def postmaster(self) -> int | None:
        """The pid of this cluster's running postmaster (not a stale pid file's reused pid)."""
        try:
            pid = int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return None
        return pid if str(self.data).encode() in cmdline and not _gone(pid) else None

    def log_tail(self) -> str:
        return tail_of(self.log)

    def stop(self) -> None:
        """Fast shutdown (open sessions are ended), then remove the cluster's directory.

        Idempotent; if ``pg_ctl`` cannot stop it, the postmaster is killed, so no
        ``postgres`` process of this cluster survives.
        """
        if self.stopped:
            return
        self.stopped = True
        atexit.unregister(self.stop)
        if self._admin_conn is not None:
            self._admin_conn.close()
        pid = self.postmaster()
        if pid is not None:
            try:
                self._pg("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data), timeout=40)
            except subprocess.TimeoutExpired:
                pass
            # pg_ctl returns once the pid file is gone, a moment before the process itself.
            if not _wait_gone(pid, 5.0):
                _kill_postmaster(pid)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PgCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- databases ------------------------------------------------------------------------------

    def url(self, dbname: str = "postgres", **params: str) -> str:
        """A libpq URL for ``dbname`` over loopback TCP (``params`` become query parameters)."""
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"postgresql://{SERVICE_USER}@127.0.0.1:{self.port}/{dbname}" + (f"?{query}" if query else "")

    def _admin(self) -> psycopg.Connection:
        """The cluster's own session (autocommit), kept open: a new one costs about 5 ms."""
        if self._admin_conn is None or self._admin_conn.closed or self._admin_conn.broken:
            self._admin_conn = psycopg.connect(self.url(), autocommit=True, connect_timeout=10)
        return self._admin_conn

    def _execute(self, query: sql.Composable, params: tuple[object, ...] = ()) -> list[tuple]:
        with self._lock:
            cur = self._admin().execute(query, params)
            return cur.fetchall() if cur.description else []

    def create_database(self, name: str, template: str = "template0") -> str:
        """``CREATE DATABASE name TEMPLATE template``; returns the new database's URL.

        Without fsync the file-copy strategy is the faster (its checkpoints write nothing to
        disk); a durable cluster keeps the default (since PostgreSQL 15), which avoids two checkpoints.
        ``template`` may be a database of the caller's (e.g. one migrated once per session)
        as long as nobody is connected to it.
        """
        strategy = sql.SQL("WAL_LOG" if self.durable else "FILE_COPY")
        self._execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY {}").format(
                sql.Identifier(name), sql.Identifier(template), strategy
            )
        )
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop ``name``, ending any session still connected to it (a test's leftover pool)."""
        self._execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    # -- recycled databases (see fresh_database_url) ---------------------------------------------

    def _rename(self, old: str, new: str) -> None:
        rename = sql.SQL("ALTER DATABASE {} RENAME TO {}")
        self._execute(rename.format(sql.Identifier(old), sql.Identifier(new)))

    def take_database(self, name: str) -> str:
        """An empty database named ``name``: a recycled spare renamed, else a new one."""
        while self._spares:
            spare = self._spares.pop()
            try:
                self._rename(spare, name)
                return self.url(name)
            except psycopg.Error:
                self.drop_database(spare)
        return self.create_database(name)

    def recycle_database(self, name: str) -> None:
        """End every session of ``name``, empty it and keep it as a spare for :meth:`take_database`.

        The database is renamed first, so a leftover client of the test (a pool reconnecting,
        a process not stopped) cannot reach it again; it is kept only if afterwards nothing
        distinguishes it from a new one (:data:`_LEFTOVERS`), else dropped.
        """
        self._execute(
            sql.SQL(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()"
            ),
            (name,),
        )
        spare = f"spare_{os.getpid()}_{next(_counter)}"
        try:
            self._rename(name, spare)
        except psycopg.Error:  # someone connected again meanwhile
            self.drop_database(name)
            return
        try:
            with psycopg.connect(self.url(spare), autocommit=True, connect_timeout=10) as conn:
                for (schema,) in conn.execute(_USER_SCHEMAS).fetchall():
                    conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
                conn.execute(_NEW_PUBLIC)
                pristine = conn.execute(_LEFTOVERS).fetchone() == (0,) * _LEFTOVER_COUNT
        except psycopg.Error:
            pristine = False
        if pristine:
            self._spares.append(spare)
        else:
            self.drop_database(spare)


def owner_id(pid: int) -> str | None:
    """``pid`` and its start time: a process, even after its pid is reused by another."""
    try:
        return f"{pid} {Path(f'/proc/{pid}/stat').read_text().rsplit(') ', 1)[1].split()[19]}"
    except (OSError, IndexError):
        return None


def reap_orphans(base_dir: Path | str | None = None, bin_dir: Path = BIN_DIR) -> int:
    """Stop and remove the clusters under ``base_dir`` whose starting process is gone.

    A test session killed outright (SIGKILL, a CI timeout) runs no clean-up, and its
    postmaster, detached by ``pg_ctl``, would run on; the next session removes it.  A
    cluster without an owner file (still starting) is left alone.  Returns how many.
    """
    reaped = 0
    for root in Path(base_dir or tempfile.gettempdir()).glob(_PREFIX + "*"):
        try:
            owner = (root / _OWNER).read_text(encoding="ascii")
        except OSError:
            continue
        pid = owner.split(" ", 1)[0]
        if not pid.isdigit() or owner_id(int(pid)) == owner:
            continue
        PgCluster(root, 0, bin_dir).stop()
        reaped += 1
    return reaped


def _gone(pid: int) -> bool:
    """No such process, or only its exit status left (a zombie nobody has reaped yet)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not _gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _kill_postmaster(pid: int) -> None:
    """SIGQUIT (immediate shutdown: the postmaster ends its children), then SIGKILL."""
    for sig, wait_s in ((signal.SIGQUIT, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        if _wait_gone(pid, wait_s):
            return


_NAME_LIMIT = 63  # PostgreSQL truncates identifiers longer than NAMEDATALEN - 1


def fresh_database_url(cluster: PgCluster, name: str) -> str:
    """An empty database of the caller's own, named after ``name`` (made unique), and its URL.

    Give it back with :meth:`PgCluster.recycle_database` (the ``pg_url`` fixture does).
    A database, not a schema, because only a database isolates completely: advisory locks
    and ``LISTEN``/``NOTIFY`` channels are per database.  A recycled one (emptied, checked,
    renamed) rather than a new one, because ``CREATE DATABASE`` costs 25-300 ms here, most
    of it a checkpoint, against about 10 ms to empty a database.
    """
    suffix = f"_{os.getpid()}_{next(_counter)}"
    stem = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_") or "test"
    return cluster.take_database("t_" + stem[: _NAME_LIMIT - 2 - len(suffix)] + suffix)


def database_of(url: str) -> str:
    """The database name in a libpq URL (for :meth:`PgCluster.drop_database`)."""
    return psycopg.conninfo.conninfo_to_dict(url)["dbname"]
