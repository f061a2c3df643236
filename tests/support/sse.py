"""A Server-Sent Events client for tests: reads a real HTTP stream in a thread of its own."""

from __future__ import annotations

import json
import queue
import threading
import time
import urllib.request
from typing import Any


class SseClient:
    """Opens ``url`` and queues each event as (arrival monotonic time, name, data dict)."""

    def __init__(self, url: str, headers: dict[str, str] | None = None, timeout: float = 30) -> None:
        req = urllib.request.Request(url, headers={"Accept": "text/event-stream", **(headers or {})})
        self.resp = urllib.request.urlopen(req, timeout=timeout)  # noqa: S310 - loopback only
        self.events: queue.Queue[tuple[float, str, Any]] = queue.Queue()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        name, data = "message", []
        try:
            for raw in self.resp:
                line = raw.decode().rstrip("\n")
                if line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].strip())
                elif not line and data:
                    self.events.put((time.monotonic(), name, json.loads("\n".join(data))))
                    name, data = "message", []
        except (OSError, ValueError, AttributeError):  # http.client, when closed under it
            pass  # closed by the test or the server

    def next(self, event: str, timeout: float, where: Any = lambda doc: True) -> tuple[float, Any]:
        """The next ``event`` whose data satisfies ``where``: (arrival, data); fails after ``timeout``."""
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            try:
                at, name, doc = self.events.get(timeout=left)
            except queue.Empty:
                break
            if name == event and where(doc):
                return at, doc
        raise AssertionError(f"no {event!r} event as wanted within {timeout} s")

    def close(self) -> None:
        try:
            self.resp.close()
        except OSError:
            pass
