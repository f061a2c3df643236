"""SDH: SONET-MIB defects and completed 15-minute intervals (the reading is probes/sdh.py)."""

from __future__ import annotations

from typing import Any

from probes.plugins.base import Plugin, PollContext
from probes.sdh import SdhReader


class Sdh(Plugin):
    """``sdh[]`` for profiles with an ``sdh`` block (generic has one, so nearly every device);
    a device without SONET-MIB costs one short walk.  Remembers, per Poller, which intervals
    it delivered, so each bucket is reported once."""

    name = "sdh"
    section = "sdh"

    def __init__(self) -> None:
        self.reader = SdhReader()

    async def handle(self, ctx: PollContext) -> None:
        async def walk(_client: Any, columns: list[str], maxrep: int) -> dict[str, dict[str, Any]]:
            return await ctx.walk(columns, maxrep)

        key = (ctx.target.host, ctx.target.port)
        ctx.result.sdh = await self.reader.read(ctx.client, ctx.profile.get("sdh"), key, walk, ctx.maxrep)
