"""Server-Sent Events for the wall: push the wall document when it changes, else a heartbeat.

Waitress gives each open stream a worker thread, so streams are kept cheap and few:
no database connection of their own (they ask the shared :class:`WallFeed`, which
answers from memory unless the databases moved), a check every ``poll_s``, at most
``max_streams`` at once (the page falls back to polling beyond that), and a bounded
life (``max_age_s``) after which the browser's EventSource reconnects by itself —
which also re-checks the session.  A reconnect that presents the digest it already
has (``Last-Event-ID``) is not sent the same document again.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from dashboards.walldata import Scope, WallFeed, with_server_time


@dataclass(frozen=True)
class StreamConfig:
    poll_s: float = 1.0
    heartbeat_s: float = 10.0
    max_age_s: float = 300.0
    retry_ms: int = 2000
    max_streams: int = 4


class StreamLimiter:
    """Counts open streams; refuses beyond the limit instead of starving the request threads."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0
        self._lock = threading.Lock()

    def acquire(self) -> bool:
        with self._lock:
            if self.open >= self.limit:
                return False
            self.open += 1
            return True

    def release(self) -> None:
        with self._lock:
            self.open = max(0, self.open - 1)

    def releaser(self) -> Callable[[], None]:
        """A callback that releases this slot once, however often it is called."""
        done = threading.Event()

        def release_once() -> None:
            if not done.is_set():
                done.set()
                self.release()

        return release_once


def event(name: str, data: str, event_id: str | None = None) -> str:
    head = f"event: {name}\n" + (f"id: {event_id}\n" if event_id else "")
    return head + "".join(f"data: {line}\n" for line in data.split("\n")) + "\n"


def stream(
    feed: WallFeed,
    scope: Scope,
    cfg: StreamConfig,
    last_id: str | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[str]:
    """The event stream of one client (the caller acquired a slot and releases it on close)."""
    yield f"retry: {cfg.retry_ms}\n\n"
    sent = last_id
    started = last_beat = time.monotonic()
    while True:
        digest, doc = feed.get(scope)
        now = time.monotonic()
        if digest != sent:
            yield event("wall", with_server_time(doc, clock()), digest)
            sent, last_beat = digest, now
        elif now - last_beat >= cfg.heartbeat_s:
            yield event("heartbeat", json.dumps({"server_time": clock(), "digest": digest}))
            last_beat = now
        if now - started >= cfg.max_age_s:
            yield event("bye", json.dumps({"reconnect": True}))
            return
        sleep(cfg.poll_s)
