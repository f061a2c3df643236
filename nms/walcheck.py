"""Checkpoint centre.db's write-ahead log in the background, so no request pays for it.

In WAL mode SQLite copies the log back into the database (a *checkpoint*, which fsyncs
the log and the database) inside whichever commit takes the log past
``wal_autocheckpoint`` pages.  With SQLite's default of 1000 pages, and 12-14 pages of
log per IPAM allocation, that was 1.2-1.4% of allocations, each 3-5 ms longer (the
fsyncs): the whole allocation p99 tail (bench/ipam.py).  ``nms serve`` runs
:class:`Checkpointer` instead: a thread that checkpoints PASSIVE (never waits for, nor
blocks, readers and writers), paced by how fast the log grows.  The next writer to find
the log wholly copied back starts it again from the beginning, so between bursts of
writes the log stays short and no commit checkpoints.  Under an unbroken stream of
transactions that moment never comes (each checkpoint lets a few more in; taking the
write lock to force it would be an inline checkpoint again), and the log grows to the
larger bound ``nms.db`` sets for centre.db, where a commit checkpoints itself: once per
10,000 pages instead of once per 1,000.

Durability is unchanged: ``synchronous`` stays as it is, only who runs the checkpoint moves.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from nms.config import Settings
from nms.db import connect

log = logging.getLogger(__name__)

# Pages of log one round aims to copy back: SQLite's own autocheckpoint size.
TARGET_PAGES = 1000
MIN_WAIT_S = 0.05  # under a flood of writes: at most 20 rounds a second
MAX_WAIT_S = 5.0  # when quiet: what was written is in the database file within seconds


@dataclass
class Round:
    """What one ``PRAGMA wal_checkpoint`` answered."""

    busy: bool  # another checkpoint was running: nothing done
    log_pages: int  # pages in the log (it starts again from 0 once a writer restarts it)
    done_pages: int  # pages of it now in the database file


def checkpoint(db: Any) -> Round:
    """One passive checkpoint of ``db`` (a :func:`nms.db.connect` handle)."""
    busy, log_pages, done = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return Round(bool(busy), max(log_pages, 0), max(done, 0))


def next_wait(prev_log: int, now_log: int, elapsed_s: float) -> float:
    """Seconds until the log has grown by about :data:`TARGET_PAGES`, from how fast it just grew.

    A log smaller than before was restarted by a writer: everything in it is new.
    """
    grown = now_log - prev_log if now_log >= prev_log else now_log
    if grown <= 0:
        return MAX_WAIT_S
    return min(MAX_WAIT_S, max(MIN_WAIT_S, elapsed_s * TARGET_PAGES / grown))


class Checkpointer:
    """A daemon thread checkpointing one database until :meth:`stop`."""

    def __init__(self, settings: Settings, name: str = "centre") -> None:
        self.settings, self.name = settings, name
        self.stopping = threading.Event()
        self.rounds = 0
        self.thread = threading.Thread(target=self._loop, name=f"wal-checkpoint-{name}", daemon=True)

    def start(self) -> Checkpointer:
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop after the round under way, with a last passive checkpoint."""
        self.stopping.set()
        self.thread.join(30)

    def _loop(self) -> None:
        db = connect(self.settings, self.name)
        if getattr(db, "engine", "sqlite") != "sqlite":  # PostgreSQL checkpoints by itself
            db.close()
            return
        try:
            prev, t_prev, wait = 0, time.monotonic(), MIN_WAIT_S
            while not self.stopping.wait(wait):
                try:
                    r = checkpoint(db)
                except Exception:  # e.g. the file vanished: the commits' own bound still holds
                    log.exception("checkpoint of %s.db failed; will retry", self.name)
                    wait = MAX_WAIT_S
                    continue
                self.rounds += 1
                now = time.monotonic()
                wait = next_wait(prev, r.log_pages, now - t_prev)
                prev, t_prev = r.log_pages, now
            checkpoint(db)
        finally:
            db.conn.close()
