"""A bound on devices polled at once that shrinks when devices time out.

Dead devices hold a slot for their whole timeout; letting the bound shrink keeps a
burst of dead devices from starving live ones of sockets and CPU, and it grows
back one step per answered device.
"""

from __future__ import annotations

import asyncio


class AdaptiveLimiter:
    def __init__(self, limit: int = 256, minimum: int | None = None) -> None:
        self.maximum = max(1, limit)
        self.minimum = max(1, min(minimum if minimum is not None else max(8, limit // 4), self.maximum))
        self.limit = self.maximum
        self.active = 0
        self._cond = asyncio.Condition()

    async def __aenter__(self) -> AdaptiveLimiter:
        async with self._cond:
            await self._cond.wait_for(lambda: self.active < self.limit)
            self.active += 1
        return self

    async def __aexit__(self, *exc: object) -> None:
        async with self._cond:
            self.active -= 1
            self._cond.notify_all()

    def timed_out(self) -> None:
        self.limit = max(self.minimum, int(self.limit * 0.8))

    def answered(self) -> None:
        if self.limit < self.maximum:
            self.limit += 1
