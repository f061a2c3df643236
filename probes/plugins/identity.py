"""Identity: the system group, and with it the profile every other plugin is asked about."""

from __future__ import annotations

from typing import Any

from probes import profile as profmod
from probes.plugins.base import Plugin, PollContext
from probes.profile import Profile
from probes.snmp.values import number, text


class Identity(Plugin):
    """Always runs, and runs first: reads the generic profile's ``identity`` scalars, then
    picks the profile (``auto``: the most specific match) and GETBULK max-repetitions."""

    name = "identity"
    section = "identity"

    def can_handle(self, profile: Profile) -> bool:
        return True

    async def handle(self, ctx: PollContext) -> None:
        oids: dict[str, str] = ctx.profiles["generic"].get("identity")
        got = await ctx.get(list(oids.values()))
        # an agent without a system group (some cameras, bridge-only walks) still answered
        # properly: poll it with an empty identity and, under auto, the generic profile
        identity = identity_of({k: got.get(v) for k, v in oids.items()})
        if ctx.requested == "auto":
            prof = profmod.choose(identity["sysObjectID"], identity["sysDescr"], ctx.profiles)
        else:
            prof = profmod.get(ctx.requested, ctx.profiles)
        ctx.profile = prof
        ctx.maxrep = int(ctx.target.max_repetitions or prof.get("max_repetitions", 25))
        ctx.result.profile = prof.name
        ctx.result.identity = identity


def identity_of(raw: dict[str, Any]) -> dict[str, Any]:
    """The ``identity`` object of a poll result from the raw scalar values."""
    uptime = number(raw.get("sysUpTime"))
    return {
        "sysName": text(raw.get("sysName")) or "",
        "sysDescr": text(raw.get("sysDescr")) or "",
        "sysObjectID": str(raw.get("sysObjectID") or "").lstrip("."),
        "uptime_s": None if uptime is None else uptime / 100.0,
        "sysUpTime": uptime,
        "snmpEngineTime": number(raw.get("snmpEngineTime")),
        "hrSystemUptime": number(raw.get("hrSystemUptime")),
    }
