"""Addresses: interface addresses, ARP/ND neighbours and LLDP neighbours, on a slower schedule.

What a device knows about addresses changes slowly and its tables can be large, so this
plugin runs at most once per ``addresses.interval_s`` (profile, default 900 s) per device;
the polls in between carry no ``addresses`` part (absent, not empty: the centre then keeps
what it knew).  ``NMS_ADDRESS_INTERVAL_S`` overrides every profile (tests, demos).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable

from probes import addresses
from probes.plugins.base import Plugin, PollContext
from probes.snmp import SnmpError

DEFAULT_INTERVAL_S = 900.0
DEFAULT_MAX_S = 20.0


class TablesTooSlow(SnmpError):
    """The tables took longer than ``addresses.max_s``: only this part of the poll is lost
    (a huge ARP table over a slow WAN must not make the device look down)."""


def interval_override() -> float | None:
    """Seconds from ``NMS_ADDRESS_INTERVAL_S``, or None; a bad value is an error, not a default."""
    raw = os.environ.get("NMS_ADDRESS_INTERVAL_S", "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"NMS_ADDRESS_INTERVAL_S: {raw!r} is not a number of seconds") from None
    if value < 0:
        raise ValueError("NMS_ADDRESS_INTERVAL_S: must be >= 0")
    return value


class Addresses(Plugin):
    """``addresses`` ({interface, arp, lldp, rows, bad}) once per interval per device."""

    name = "addresses"
    section = "addresses"

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.last: dict[tuple[str, str, int], float] = {}  # (name, host, port) -> when its tables were read

    def due(self, ctx: PollContext) -> bool:
        spec = ctx.profile.get("addresses") or {}
        override = interval_override()
        interval = override if override is not None else float(spec.get("interval_s", DEFAULT_INTERVAL_S))
        last = self.last.get(_key(ctx))
        return last is None or self.clock() - last >= interval

    async def handle(self, ctx: PollContext) -> None:
        if not self.due(ctx):
            return
        spec = ctx.profile.get("addresses")
        max_s = float(spec.get("max_s", DEFAULT_MAX_S))
        try:
            data = await asyncio.wait_for(ctx.walk(addresses.columns(spec)), max_s)
        except TimeoutError:
            raise TablesTooSlow(f"tables not read within {max_s:g} s (addresses.max_s)") from None
        ifnames = {int(i["index"]): i["name"] for i in ctx.result.interfaces or ()
                   if i.get("index") is not None}
        ctx.result.addresses = addresses.read(spec, data, ifnames)
        self.last[_key(ctx)] = self.clock()


def _key(ctx: PollContext) -> tuple[str, str, int]:
    """One device: its name too, since devices may share an address (snmpsim, a proxy)."""
    return (ctx.target.name or "", ctx.target.host, ctx.target.port)
