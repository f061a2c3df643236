"""Cross-process wake-ups over PostgreSQL ``LISTEN``/``NOTIFY`` (several centres, issue 19).

An agent's batch may arrive at one centre while a browser's wall stream is held open by
another, and the alert evaluator runs in whichever centre leads ``alerts``.  Each process
runs one :class:`Bus`: a *publisher* thread that, after a local change
(:func:`nms.updates.changed`, raised after the change's commit), sends ``NOTIFY nms_changes``
with the kind of change, and a *listener* thread that ``LISTEN``\\ s and wakes this
process's waiters (:func:`nms.updates.wake_from_peer`).  Each has a connection of its own,
outside the pool: a listening session must stay put.

The publisher coalesces: a burst of batches becomes one notification per kind.  A lost
connection is re-opened after a pause; the listener wakes everyone when it comes back, since
it may have missed a notification meanwhile.  On SQLite nothing of this runs: the centre is
one process, and other processes' commits show in ``PRAGMA data_version``.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from typing import Any

from nms import updates
from nms.config import Settings
from nms.leader import KEEPALIVE

log = logging.getLogger(__name__)

CHANNEL = "nms_changes"
RECONNECT_S = 1.0
INSTANCE = uuid.uuid4().hex[:12]  # tells this process's own notifications apart from its peers'


class Bus:
    """The publisher and the listener of one process, on their own connections to ``url``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.stopping = threading.Event()
        self._pending: set[str] = set()
        self._queued = threading.Event()
        self._lock = threading.Lock()
        self.listening = threading.Event()  # set while LISTEN is in force (tests wait for it)
        self.received = 0  # notifications from peers, for tests and logs
        self._remove: Any = None
        self._threads = [
            threading.Thread(target=self._publish_loop, name="notify-publish", daemon=True),
            threading.Thread(target=self._listen_loop, name="notify-listen", daemon=True),
        ]

    def _connect(self, role: str) -> Any:
        import psycopg

        return psycopg.connect(self.url, autocommit=True, connect_timeout=5,
                               application_name=f"nms-notify-{role}", **KEEPALIVE)

    def start(self) -> Bus:
        self._remove = updates.add_publisher(self.publish)
        for t in self._threads:
            t.start()
        return self

    def publish(self, kind: str) -> None:
        """Queue ``kind`` for the publisher thread (never blocks the committing caller)."""
        with self._lock:
            self._pending.add(kind)
        self._queued.set()

    def _publish_loop(self) -> None:
        conn = None
        while not self.stopping.is_set():
            self._queued.wait(1.0)
            if self.stopping.is_set():
                break
            self._queued.clear()
            with self._lock:
                kinds, self._pending = self._pending, set()
            for kind in sorted(kinds):
                try:
                    if conn is None or conn.closed:
                        conn = self._connect("publish")
                    conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"{kind} {INSTANCE}"))
                except Exception as exc:  # noqa: BLE001 - peers fall back to polling until it is back
                    log.warning("notify: cannot publish %s: %s", kind, exc)
                    conn = _close(conn)
                    self.stopping.wait(RECONNECT_S)
        _close(conn)

    def _listen_loop(self) -> None:
        while not self.stopping.is_set():
            conn = None
            try:
                conn = self._connect("listen")
                conn.execute(f"LISTEN {CHANNEL}")
                self.listening.set()
                updates.wake_from_peer(updates.STATE)  # whatever was missed while not listening
                while not self.stopping.is_set():
                    for note in conn.notifies(timeout=1.0):
                        kind, _, sender = note.payload.partition(" ")
                        if sender != INSTANCE:
                            self.received += 1
                            updates.wake_from_peer(kind)
            except Exception as exc:  # noqa: BLE001 - reconnect; meanwhile waiters poll
                if not self.stopping.is_set():
                    log.warning("notify: listener lost its connection (%s); reconnecting", exc)
            finally:
                self.listening.clear()
                _close(conn)
            self.stopping.wait(RECONNECT_S)

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        self._queued.set()
        if self._remove is not None:
            self._remove()
        for t in self._threads:
            if t.is_alive():
                t.join(timeout)


def _close(conn: Any) -> None:
    """Close quietly; returns None to clear the caller's handle."""
    if conn is not None:
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - a dead connection may refuse to close cleanly
            pass
    return None


_bus: tuple[int, Bus] | None = None
_bus_lock = threading.Lock()


def start(settings: Settings) -> Bus | None:
    """This process's bus when the database is PostgreSQL (one per process, idempotent); else None."""
    global _bus
    if not settings.database_url:
        return None
    with _bus_lock:
        if _bus is None or _bus[0] != os.getpid():
            _bus = (os.getpid(), Bus(settings.database_url).start())
        return _bus[1]


def stop() -> None:
    """Stop this process's bus (clean shutdown, tests)."""
    global _bus
    with _bus_lock:
        held, _bus = _bus, None
    if held is not None and held[0] == os.getpid():
        held[1].stop()
