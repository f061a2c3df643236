"""One leader per background job: alert evaluation, hold expiry, aging, rollups, config backups.

Several ``nms serve`` processes may share one database (issue 19); each starts the same
background loops, and each loop body runs only while its process *leads* that job, so two
centres never evaluate the same alerts or back up the same device at once.  A follower
keeps trying, so when the leader dies (even ``kill -9``) another process takes over within
a few seconds.

- PostgreSQL: a session-level ``pg_try_advisory_lock`` held on a connection of its own
  (never the pool's: a pooled connection changes hands, and a lock must live exactly as
  long as its holder).  When the process dies the kernel closes its socket, the server
  ends the session and the lock is free at once; TCP keep-alives catch a peer that
  vanished without closing.  The leader pings its connection at most every
  ``recheck_s``; a dead connection means it no longer leads.
- SQLite (several processes on one data directory): an exclusive ``flock`` on
  ``<data_dir>/leader-<job>.lock``, released by the kernel when the holder dies.  flock
  locks belong to the open file, so two threads with their own :class:`Leader` exclude
  each other as two processes do.

Usage, in a loop that runs every ``period_s`` (:func:`ticks` waits, re-tries as a follower
every ``FOLLOWER_RETRY_S``, and yields only while leading)::

    for _ in ticks(leader(settings, "rollup"), stop, period_s):
        do_the_work()
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any

from nms.config import Settings

log = logging.getLogger(__name__)

RECHECK_S = 1.0  # how often a leader checks that its lock's connection is alive
FOLLOWER_RETRY_S = 2.0  # how often a follower tries to take over
# The two-key form keeps these locks apart from nms.dbpg's one-key writer locks.
LOCK_SPACE = 0x6E6D73  # "nms"
# Keep-alives on the lock's connection: a leader that vanished without closing is noticed in ~10 s.
KEEPALIVE = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3}


def job_key(job: str) -> int:
    """The advisory lock id of ``job`` (a signed 32-bit int, stable across processes)."""
    key = zlib.crc32(f"nms:leader:{job}".encode())
    return key - (1 << 32) if key >= 1 << 31 else key


class Leader:
    """Leadership of one job by this process (or thread): :meth:`leading` says, and takes it when free."""

    def __init__(self, settings: Settings, job: str, *, recheck_s: float = RECHECK_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not job or not job.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"leader: job name {job!r} must be letters, digits, '-' or '_'")
        self.settings, self.job, self.recheck_s, self.clock = settings, job, recheck_s, clock
        self.url = settings.database_url
        self._held = False
        self._checked = 0.0
        self._conn: Any = None  # psycopg.Connection (PostgreSQL) or an fd (SQLite)
        self._lock = threading.Lock()

    @property
    def engine(self) -> str:
        return "postgresql" if self.url else "sqlite"

    def leading(self) -> bool:
        """True while this holder leads ``job``; a follower tries to take over on every call."""
        with self._lock:
            if self._held:
                if self.clock() - self._checked < self.recheck_s or self._alive():
                    return True
                log.warning("leader: lost the %s lock (its connection died); no longer leading", self.job)
                self._drop()
            self._held = self._try()
            self._checked = self.clock()
            if self._held:
                log.info("leader: this process (pid %d) now leads %s", os.getpid(), self.job)
            return self._held

    # -- engines ------------------------------------------------------------------------------

    def _try(self) -> bool:
        try:
            return self._try_pg() if self.url else self._try_file()
        except Exception as exc:  # noqa: BLE001 - a database away is "not leading", retried later
            log.warning("leader: cannot try the %s lock: %s", self.job, exc)
            self._drop()
            return False

    def _try_pg(self) -> bool:
        import psycopg

        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5,
                                         application_name=f"nms-leader-{self.job}", **KEEPALIVE)
        key = (LOCK_SPACE, job_key(self.job))
        row = self._conn.execute("SELECT pg_try_advisory_lock(%s, %s)", key).fetchone()
        return bool(row and row[0])

    def _try_file(self) -> bool:
        if self._conn is None:
            path = self.settings.path(f"leader-{self.job}.lock")
            self._conn = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._conn, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        os.ftruncate(self._conn, 0)
        os.pwrite(self._conn, f"{os.getpid()}\n".encode(), 0)  # who leads, for a person looking
        return True

    def _alive(self) -> bool:
        """The lock is still ours: on PostgreSQL its session answers (a lock lives as long as it)."""
        self._checked = self.clock()
        if not self.url:
            return True
        try:
            self._conn.execute("SELECT 1").fetchone()
        except Exception:  # noqa: BLE001 - any failure means the session, and the lock, may be gone
            return False
        return True

    def _drop(self) -> None:
        conn, held, self._conn, self._held = self._conn, self._held, None, False
        if conn is None:
            return
        try:
            if isinstance(conn, int):
                os.close(conn)  # releases the flock
                return
            if held and not conn.closed:  # at once, not when the server notices the session end
                conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_SPACE, job_key(self.job)))
        except Exception:  # noqa: BLE001 - a dead connection: its session (and lock) ends with it
            pass
        finally:
            if not isinstance(conn, int):
                conn.close()

    def release(self) -> None:
        """Give up leading (and the connection or file); another holder may take over at once."""
        with self._lock:
            self._drop()

    def __enter__(self) -> Leader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def leader(settings: Settings, job: str, **kwargs: Any) -> Leader:
    """This process's claim on ``job``: ask :meth:`Leader.leading` before each run of its body."""
    return Leader(settings, job, **kwargs)


def ticks(lead: Leader, stop: threading.Event, period_s: float, *, first_wait: bool = True,
          follower_retry_s: float = FOLLOWER_RETRY_S) -> Iterator[None]:
    """Yield once per ``period_s`` while leading, until ``stop``; a follower re-tries every
    ``follower_retry_s`` and, on taking over, runs at once (the jobs are idempotent rounds).

    ``first_wait=False`` runs the first round straight away (if leading).  The lock is
    released when the loop ends.
    """
    try:
        wait = period_s if first_wait else 0.0
        while not stop.wait(wait):
            if lead.leading():
                yield
                wait = period_s
            else:
                wait = min(period_s, follower_retry_s)
    finally:
        lead.release()
