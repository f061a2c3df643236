"""Interfaces: IF-MIB rows (or a profile's own columns), counters HC first, names unique."""

from __future__ import annotations

import re
from typing import Any

from probes.plugins.base import Plugin, PollContext
from probes.profile import Profile
from probes.sdh import bitmap
from probes.snmp.values import number, text

_MAX32 = 4294967295
_MAX_SPEED = 10**13  # 10 Tbit/s: anything above is a sentinel, not a speed


class Interfaces(Plugin):
    """``interfaces[]`` from the profile's ``interfaces.columns`` / ``counters`` / ``skip``."""

    name = "interfaces"
    section = "interfaces"

    def can_handle(self, profile: Profile) -> bool:
        return bool((profile.get("interfaces") or {}).get("columns"))

    async def handle(self, ctx: PollContext) -> None:
        ctx.result.interfaces = await read_interfaces(ctx, ctx.profile.get("interfaces"))


async def read_interfaces(ctx: PollContext, spec: dict) -> list[dict]:
    columns: dict[str, dict] = spec["columns"]
    counters: dict[str, list[str]] = spec.get("counters") or {}
    hc_cols = [c[0] for c in counters.values()]
    data = await ctx.walk(hc_cols)
    data.update(await ctx.walk([c["oid"] for c in columns.values()]))
    indexes: set[str] = set()
    for col in columns.values():
        indexes.update(data[col["oid"]])
    with_hc = set().union(*(data[c].keys() for c in hc_cols)) if hc_cols else set()
    if indexes - with_hc or not with_hc:
        # some rows lack 64-bit counters: read the 32-bit ones for those rows
        data.update(await ctx.walk([c[-1] for c in counters.values() if len(c) > 1]))
        for c in counters.values():
            indexes.update(data[c[-1]])
    rows = []
    skip = spec.get("skip") or {}
    # hot loop (50,000 rows a cycle): resolve columns and converters once, not per row
    plan = [(key, data[col["oid"]], _converter(col)) for key, col in columns.items()]
    ctr = [(key, data[c[0]], data.get(c[-1], {})) for key, c in counters.items()]
    for idx in sorted((i for i in indexes if i.isdigit()), key=int):
        row: dict[str, Any] = {"index": int(idx)}
        for key, values, conv in plan:
            row[key] = conv(values.get(idx))
        hc = idx in with_hc
        for key, hcv, lowv in ctr:
            v = (hcv if hc else lowv).get(idx)
            row[key] = v if type(v) is int else number(v)
        row["speed_bps"] = _speed(row.pop("speed", None), row.pop("high_speed", None))
        row["hc"] = hc
        row["discontinuity"] = row.get("discontinuity") or 0
        if not row.get("name"):
            row["name"] = row.get("descr")
        if skip and _skipped(row, skip):
            continue
        rows.append(row)
    return unique_names(rows)


def _converter(col: dict):
    """A one-argument converter for a column (fast paths for plain numbers and enums)."""
    kind = col.get("type", "gauge")
    if kind == "string":
        return text
    if kind == "enum":
        names = {int(k): str(n) for k, n in (col.get("enum") or {}).items()}

        def enum(v: Any) -> str | None:
            n = v if type(v) is int else number(v)
            return None if n is None else names.get(int(n), str(int(n)))

        return enum
    if kind == "bitmap":
        bits = col.get("bits") or {}
        return lambda v: bitmap(number(v), bits)
    scale = col.get("scale")
    if not scale:
        return lambda v: v if type(v) is int else number(v)

    def scaled(v: Any) -> float | None:
        n = number(v)
        return None if n is None else n * scale

    return scaled


def _speed(speed: Any, high_speed: Any) -> int | None:
    """bit/s: ifHighSpeed (Mbit/s, already scaled) when ifSpeed is saturated or missing.

    ifSpeed is kept when it fits (155.52 Mbit/s STM-1 is more precise than 156 Mbit/s);
    absurd values (above 10 Tbit/s, e.g. 0xFFFEFFFF Mbit/s) are dropped.
    """
    if high_speed and high_speed > _MAX_SPEED:
        high_speed = None
    if high_speed and (speed is None or speed >= _MAX32 or high_speed > speed):
        return int(high_speed)
    return None if speed is None else int(speed)


def _skipped(row: dict, skip: dict) -> bool:
    if row.get("type") in (skip.get("type") or []):
        return True
    pattern = skip.get("name_regex")
    return bool(pattern and re.search(pattern, row.get("name") or ""))


def unique_names(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give every interface a name of its own, as the poll result promises.

    Some devices name two ports alike (or leave a name empty); the first keeps the name,
    the others get ``name#ifIndex``, so the centre can key interfaces by name.  What the
    device itself said stays in ``device_name`` whenever it differs.
    """
    seen: set[str] = set()
    for row in rows:
        said = row.get("name")
        name = said or f"ifIndex{row['index']}"
        if name in seen:
            name = f"{name}#{row['index']}"
        seen.add(name)
        if name != said:
            row["device_name"] = said
            row["name"] = name
    return rows
