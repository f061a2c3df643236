"""Poll one device once and return the poll result (shape: docs/profiles.md).

The work is done by plugins (probes/plugins, after NAV ipdevpoll): identity first, which
chooses the profile, then every plugin that can handle that profile, in registry order,
all within one time budget.  :class:`Poller` owns what is shared between devices: the
bound on devices in flight, the implementation choice and the plugin instances (the SDH
plugin remembers which 15-minute buckets it reported).  Device problems never raise:
the result has ``ok: false`` and a short ``error``; a plugin that fails on what an answering
device sent is listed in ``failed`` and the poll stays ``ok``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence

from probes import profile as profmod
from probes.common.netguard import TargetNotAllowed
from probes.plugins import PLUGINS, Identity, Plugin, PollContext
from probes.result import PollResult
from probes.sdh import SdhReader
from probes.snmp import SnmpAuthError, SnmpError, SnmpGarbage, SnmpTimeout, Target, open_client
from probes.snmp.limiter import AdaptiveLimiter

log = logging.getLogger(__name__)

# a device that stops answering (or refuses us) fails the whole poll; anything else a plugin
# meets (a table of the wrong type, a device error) loses that plugin's part only
DEVICE_FAILURES = (TimeoutError, SnmpTimeout, SnmpAuthError, TargetNotAllowed, profmod.ProfileError)


class Poller:
    """Polls devices; one instance per agent process.

    ``max_in_flight`` bounds devices polled at once (shrinks on timeouts, grows back);
    ``budget_s`` caps one device's poll (keep it below the polling interval);
    ``plugins`` are the plugin classes run after identity (default: the registry).
    """

    def __init__(
        self,
        max_in_flight: int = 256,
        impl: str = "auto",
        budget_s: float = 30.0,
        profile_dir: str | None = None,
        plugins: Sequence[type[Plugin]] = PLUGINS,
    ) -> None:
        self.limiter = AdaptiveLimiter(max_in_flight)
        self.impl = impl
        self.budget_s = budget_s
        self._profile_dir = profile_dir or str(profmod.PROFILE_DIR)
        self.identity = Identity()
        self.plugins: list[Plugin] = [cls() for cls in plugins]
        self.varbinds = 0  # total values received, for benchmarks

    @property
    def sdh(self) -> SdhReader | None:
        """The SDH plugin's memory of delivered intervals (tests set its clock)."""
        return next((getattr(p, "reader", None) for p in self.plugins if p.name == "sdh"), None)

    async def poll(self, target: Target, profile: str = "auto", expected_peers: Iterable[str] = ()) -> dict:
        """Poll ``target`` once. Never raises for device problems: ``ok`` False + ``error``."""
        return (await self.poll_result(target, profile, expected_peers)).to_dict()

    async def poll_result(
        self, target: Target, profile: str = "auto", expected_peers: Iterable[str] = ()
    ) -> PollResult:
        """:meth:`poll` as the typed record; ``failed_plugin`` names the plugin a failure hit."""
        result = PollResult(device=target.name or f"{target.host}:{target.port}", ts=time.time(), ok=False)
        ctx: PollContext | None = None
        t0 = time.monotonic()
        async with self.limiter:
            try:
                profiles = profmod.profiles(self._profile_dir)
                ctx = PollContext(target, result, profiles, profile, list(expected_peers))
                await asyncio.wait_for(self._run(ctx), self.budget_s)
                result.ok = True
                self.limiter.answered()
            except Exception as exc:  # noqa: BLE001 - one device must never stop the agent
                plugin = ctx.running if ctx else None
                result.fail(self._error(exc, plugin, result.device), plugin)
                if isinstance(exc, (TimeoutError, SnmpTimeout)):
                    self.limiter.timed_out()
            finally:
                if ctx is not None:
                    self.varbinds += ctx.varbinds
        result.duration_s = round(time.monotonic() - t0, 4)
        return result

    async def _run(self, ctx: PollContext) -> None:
        """Identity, then every plugin that handles the chosen profile; the client closes after."""
        ctx.client = await open_client(ctx.target, self.impl)
        try:
            ctx.running = self.identity.name
            await self.identity.handle(ctx)
            for plugin in self.plugins:
                if plugin.can_handle(ctx.profile):
                    ctx.running = plugin.name
                    try:
                        await plugin.handle(ctx)
                    except DEVICE_FAILURES:
                        raise
                    except Exception as exc:  # noqa: BLE001 - the device answered: only this part is lost
                        ctx.result.part_failed(plugin.name, self._error(exc, plugin.name, ctx.result.device))
            ctx.running = None
        finally:
            await ctx.client.close()

    @staticmethod
    def _error(exc: Exception, plugin: str | None, device: str) -> str:
        """The ``error`` of a failed poll: its kind first (``timeout``, ``auth``, ``garbage`` ...),
        then, for what one plugin read wrong, the plugin's name."""
        at = f"{plugin}: " if plugin else ""
        if isinstance(exc, (TimeoutError, SnmpTimeout)):
            return "timeout"
        if isinstance(exc, SnmpAuthError):
            return f"auth: {exc}"
        if isinstance(exc, TargetNotAllowed):
            return f"not allowed: {exc}"
        if isinstance(exc, profmod.ProfileError):
            return f"profile: {exc}"
        if isinstance(exc, SnmpGarbage):
            return f"garbage: {at}{str(exc).removeprefix('garbage:').strip()}"
        if isinstance(exc, SnmpError):
            return f"snmp: {at}{exc}"
        if isinstance(exc, (ValueError, TypeError, KeyError, IndexError)):
            # a device answering with values of the wrong type or shape
            return f"garbage: {at}{type(exc).__name__}: {exc}"
        log.exception("poll of %s failed unexpectedly (plugin %s)", device, plugin)
        return f"error: {at}{type(exc).__name__}: {exc}"
