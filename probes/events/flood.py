"""Flood control: a chatty source is counted, not processed, so it starves nobody.

Each source address has a token bucket checked *before* a message is parsed or matched,
so a device sending 10,000 syslog lines per second costs a dictionary lookup per line
beyond its allowance.  What is held back is reported once per interval as one
``flood`` event with the count; unknown sources get a much smaller allowance.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_TRACKED = 50_000  # distinct sources remembered; beyond it the table starts afresh


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float
    held: int = 0  # messages counted, not processed, since the last report
    since: float = 0.0


@dataclass
class FloodGate:
    """``admit(source)`` is True while ``source`` is within ``rate`` per second (``burst``
    at once); ``held()`` returns and resets the per-source counts of what was refused."""

    rate: float = 200.0
    burst: float = 1000.0
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    total_held: int = 0

    def admit(self, source: str) -> bool:
        now = self.clock()
        b = self._buckets.get(source)
        if b is None:
            if len(self._buckets) >= MAX_TRACKED:
                self._buckets.clear()
            b = self._buckets[source] = _Bucket(self.burst, now)
        else:
            b.tokens = min(self.burst, b.tokens + (now - b.stamp) * self.rate)
            b.stamp = now
        if b.tokens >= 1.0:
            b.tokens -= 1.0
            return True
        if not b.held:
            b.since = now
        b.held += 1
        self.total_held += 1
        return False

    def held(self) -> dict[str, tuple[int, float]]:
        """{source: (messages held back, monotonic time the holding began)}, then reset."""
        out = {}
        for src, b in self._buckets.items():
            if b.held:
                out[src] = (b.held, b.since)
                b.held = 0
        return out
