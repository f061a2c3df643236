"""What a poller plugin is and what it is handed (the shape of NAV ipdevpoll's plugins).

A plugin reads one part of a device and writes that part of the :class:`PollResult`.
It says which devices it handles from their profile (:meth:`Plugin.can_handle`; by
default: the profile has the plugin's ``section``), and does its work in
:meth:`Plugin.handle` through the :class:`PollContext` of one poll.  One instance per
:class:`~probes.poller.Poller`, so a plugin may remember things between polls (the SDH
plugin remembers which 15-minute intervals it delivered).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from probes.profile import Profile
from probes.result import PollResult
from probes.snmp import SnmpClient, Target


@dataclass
class PollContext:
    """One poll of one device: the open client, the chosen profile, the result being filled."""

    target: Target
    result: PollResult
    profiles: dict[str, Profile]
    requested: str = "auto"  # profile name asked for, or "auto"
    expected_peers: list[str] = field(default_factory=list)
    profile: Profile | None = None  # set by the identity plugin
    maxrep: int = 25  # GETBULK max-repetitions, set with the profile
    varbinds: int = 0  # values received, for benchmarks
    running: str | None = None  # the plugin at work (named when the poll fails)
    client: SnmpClient = None  # type: ignore[assignment]  # opened by the Poller before any plugin

    async def get(self, oids: Sequence[str]) -> dict[str, Any]:
        """GET several OIDs (missing ones map to None)."""
        got = await self.client.get(list(oids))
        self.varbinds += len(got)
        return got

    async def walk(self, columns: Sequence[str], maxrep: int | None = None) -> dict[str, dict[str, Any]]:
        """Walk several columns: ``{column: {index: value}}``."""
        out = await self.client.walk(list(columns), maxrep or self.maxrep)
        self.varbinds += sum(len(v) for v in out.values())
        return out


class Plugin:
    """One part of a poll.  Subclasses set ``name`` (and usually ``section``) and ``handle``."""

    name: ClassVar[str]
    section: ClassVar[str | None] = None  # the profile key this plugin reads

    def can_handle(self, profile: Profile) -> bool:
        """Whether devices polled with ``profile`` get this plugin (default: it has the section)."""
        return bool(self.section and profile.get(self.section))

    async def handle(self, ctx: PollContext) -> None:
        """Read the device through ``ctx`` and write this plugin's part of ``ctx.result``."""
        raise NotImplementedError
