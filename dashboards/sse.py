"""Server-Sent Events for the wall: push the wall document when it changes, else a heartbeat.

Waitress gives each open stream a worker thread, so streams are kept cheap and few:
no database connection of their own (they ask the shared :class:`WallFeed`, which
answers from memory unless the databases moved), a check when a change is announced
(:mod:`nms.updates`; from other centres too, over PostgreSQL ``NOTIFY``: :mod:`nms.notify`)
but at most every ``min_gap_s``, else every ``poll_s``, at most
``max_streams`` at once and ``max_per_principal`` per viewer, with ``kiosk_streams`` kept
for the wall kiosk (the page falls back to polling beyond that), and a bounded
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
from nms import updates


@dataclass(frozen=True)
class StreamConfig:
    poll_s: float = 1.0
    min_gap_s: float = 1.0  # checks at most this often: a burst of changes costs one rebuild a second
    heartbeat_s: float = 10.0
    max_age_s: float = 300.0
    retry_ms: int = 2000
    max_streams: int = 4  # the pool shared by everyone
    max_per_principal: int = 2  # no one viewer (or token) holds the whole pool
    kiosk_streams: int = 2  # reserved for wall kiosk tokens: the wall always gets its stream


class StreamLimiter:
    """Counts open streams; refuses beyond the limits instead of starving the request threads.

    A shared pool of ``limit`` streams, at most ``per_principal`` of them per principal, and
    ``kiosk_slots`` more that only kiosk tokens may use (they spill into the shared pool once
    those are taken).  Everything stays bounded: ``limit + kiosk_slots`` streams at most.
    """

    def __init__(self, limit: int, per_principal: int | None = None, kiosk_slots: int = 0) -> None:
        self.limit = limit
        self.per_principal = limit if per_principal is None else per_principal
        self.kiosk_slots = kiosk_slots
        self.open = 0  # streams in the shared pool
        self.kiosk_open = 0  # streams in the kiosks' reserve
        self.by_principal: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, who: str, kiosk: bool = False) -> Callable[[], None] | str:
        """A callback releasing the slot (once, however often called), or why there is none."""
        with self._lock:
            mine = self.by_principal.get(who, 0)
            if mine >= self.per_principal:
                return f"you already have {mine} wall streams open (at most {self.per_principal} each)"
            reserve = kiosk and self.kiosk_open < self.kiosk_slots
            if not reserve and self.open >= self.limit:
                return f"too many wall streams open (all {self.limit} in use)"
            if reserve:
                self.kiosk_open += 1
            else:
                self.open += 1
            self.by_principal[who] = mine + 1
        done = threading.Event()

        def release_once() -> None:
            with self._lock:
                if done.is_set():
                    return
                done.set()
                if reserve:
                    self.kiosk_open -= 1
                else:
                    self.open -= 1
                left = self.by_principal.get(who, 1) - 1
                if left > 0:
                    self.by_principal[who] = left
                else:
                    self.by_principal.pop(who, None)

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
    sleep: Callable[[float], None] | None = None,
) -> Iterator[str]:
    """The event stream of one client (the caller acquired a slot and releases it on close).

    Between checks it waits for a change to be announced or ``poll_s`` (``sleep``, given by
    tests, replaces that wait).
    """
    yield f"retry: {cfg.retry_ms}\n\n"
    sent = last_id
    started = last_beat = time.monotonic()
    while True:
        mark, checked = updates.generation(), time.monotonic()
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
        if sleep is not None:
            sleep(cfg.poll_s)
        elif updates.wait_for_change(mark, cfg.poll_s) != mark:  # the first change shows at once
            time.sleep(max(0.0, cfg.min_gap_s - (time.monotonic() - checked)))
