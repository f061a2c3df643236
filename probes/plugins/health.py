"""Health (CPU, memory, temperature) and firewall sessions: values from a list of sources.

A source is a scalar, a column aggregated over rows, used/total columns, or total less
free scalars (docs/profiles.md); the first source that yields a value wins, because
vendors move their OIDs between firmware releases.
"""

from __future__ import annotations

from typing import Any

from probes.plugins.base import Plugin, PollContext
from probes.snmp.values import number, text


class Health(Plugin):
    """``health``: one number per key of the profile's ``health`` block the device answers."""

    name = "health"
    section = "health"

    async def handle(self, ctx: PollContext) -> None:
        out = {}
        for key, sources in ctx.profile.get("health").items():
            v = await first_value(ctx, sources)
            if v is not None:
                out[key] = round(float(v), 2)
        ctx.result.health = out


class Sessions(Plugin):
    """``sessions``: concurrent sessions of a firewall (profiles with a ``sessions`` list)."""

    name = "sessions"
    section = "sessions"

    async def handle(self, ctx: PollContext) -> None:
        v = await first_value(ctx, ctx.profile.get("sessions"))
        # session counts are integers; keep a fraction only if the device really sent one
        ctx.result.sessions = int(v) if v is not None and float(v).is_integer() else v


async def first_value(ctx: PollContext, sources: list[dict]) -> float | None:
    """The first source that yields a value wins (vendors differ across firmware)."""
    for src in sources:
        v = await source_value(ctx, src)
        if v is not None:
            return v
    return None


async def source_value(ctx: PollContext, src: dict) -> float | None:
    scale, offset = float(src.get("scale", 1)), float(src.get("offset", 0))
    if "total_scalar" in src:
        # used = total - every "free" scalar (UCD-SNMP: avail, buffers, cached), as a percentage
        oids = [str(src["total_scalar"]), *(str(o) for o in src.get("free_scalars", []))]
        got = await ctx.get(oids)
        values = [number(got.get(o)) for o in oids]
        if values[0] is None or values[0] <= 0 or values[1:2] == [None]:
            return None
        used = values[0] - sum(v for v in values[1:] if v is not None)
        return max(0.0, min(100.0, 100.0 * used / values[0]))
    if "scalar" in src:
        got = await ctx.get([str(src["scalar"])])
        v = number(got.get(str(src["scalar"])))
        return None if v is None else v * scale + offset
    cols = [str(src[k]) for k in ("column", "used", "total", "free", "pct") if k in src]
    where = src.get("where")
    if where:
        cols.append(str(where["column"]))
    data = await ctx.walk(cols)
    idxs = set().union(*(data[c].keys() for c in cols[: len(cols) - (1 if where else 0)]))
    if where:
        idxs = {i for i in idxs if _where_ok(data[str(where["column"])].get(i), where)}
    if not idxs:
        return None
    if "column" in src or "pct" in src:
        col = str(src.get("column", src.get("pct")))
        vals = [number(data[col].get(i)) for i in idxs]
        vals = [v for v in vals if v is not None]
        if src.get("skip_zero"):
            vals = [v for v in vals if v]
        if "max_valid" in src:  # above it: a "not supported" sentinel such as 65535
            vals = [v for v in vals if v <= float(src["max_valid"])]
        if not vals:
            return None
        agg = src.get("agg", "avg")
        v = {"avg": sum(vals) / len(vals), "max": max(vals), "min": min(vals), "sum": sum(vals)}.get(
            agg, vals[0]
        )
        return v * scale + offset
    used = sum(number(data[str(src["used"])].get(i)) or 0 for i in idxs)
    if "total" in src:
        total = sum(number(data[str(src["total"])].get(i)) or 0 for i in idxs)
    else:
        total = used + sum(number(data[str(src["free"])].get(i)) or 0 for i in idxs)
    return None if total <= 0 else 100.0 * used / total


def _where_ok(v: Any, where: dict) -> bool:
    if "equals" in where:
        return (
            str(v).lstrip(".") if isinstance(v, str) else str(number(v) if number(v) is not None else text(v))
        ) == str(where["equals"])
    if "gt" in where:
        n = number(v)
        return n is not None and n > float(where["gt"])
    return v is not None
