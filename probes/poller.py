"""Poll one device once and return the poll result (shape: docs/profiles.md).

:class:`Poller` owns what is shared between devices: the bound on devices in
flight, the implementation choice, and the little memory needed to report each
completed SDH 15-minute bucket once.  Device problems never raise: the result has
``ok: false`` and a short ``error``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterable
from typing import Any

from nms.netguard import TargetNotAllowed
from probes import profile as profmod
from probes.sdh import SdhReader, bitmap
from probes.snmp import SnmpAuthError, SnmpError, SnmpGarbage, SnmpTimeout, Target, open_client
from probes.snmp.limiter import AdaptiveLimiter
from probes.snmp.values import address, index_address, number, text

log = logging.getLogger(__name__)

_MAX32 = 4294967295
_MAX_SPEED = 10**13  # 10 Tbit/s: anything above is a sentinel, not a speed


def blank_result(device: str, profile: str | None, ts: float) -> dict:
    """A poll result with nothing in it yet (the contract's shape); failures fill in ``error``."""
    return {
        "device": device,
        "ts": ts,
        "ok": False,
        "error": None,
        "duration_s": 0.0,
        "profile": profile,
        "identity": {},
        "interfaces": [],
        "health": {},
        "sessions": None,
        "tunnels": [],
        "sdh": [],
    }


def empty_result(target: Target, profile: str | None = None) -> dict:
    return blank_result(target.name or f"{target.host}:{target.port}", profile, time.time())


class Poller:
    """Polls devices; one instance per agent process.

    ``max_in_flight`` bounds devices polled at once (shrinks on timeouts, grows back);
    ``budget_s`` caps one device's poll (keep it below the polling interval).
    """

    def __init__(
        self,
        max_in_flight: int = 256,
        impl: str = "auto",
        budget_s: float = 30.0,
        profile_dir: str | None = None,
    ) -> None:
        self.limiter = AdaptiveLimiter(max_in_flight)
        self.impl = impl
        self.budget_s = budget_s
        self._profile_dir = profile_dir or str(profmod.PROFILE_DIR)
        self.sdh = SdhReader()  # remembers which 15-minute SDH intervals were delivered
        self.varbinds = 0  # total values received, for benchmarks

    async def poll(self, target: Target, profile: str = "auto", expected_peers: Iterable[str] = ()) -> dict:
        """Poll ``target`` once. Never raises for device problems: ``ok`` False + ``error``."""
        result = empty_result(target)
        t0 = time.monotonic()
        async with self.limiter:
            try:
                await asyncio.wait_for(
                    self._poll(target, profile, list(expected_peers), result), self.budget_s
                )
                result["ok"] = True
                self.limiter.answered()
            except (TimeoutError, SnmpTimeout):
                self._fail(result, "timeout")
                self.limiter.timed_out()
            except SnmpAuthError as exc:
                self._fail(result, f"auth: {exc}")
            except SnmpGarbage as exc:
                self._fail(result, str(exc) if str(exc).startswith("garbage") else f"garbage: {exc}")
            except TargetNotAllowed as exc:
                self._fail(result, f"not allowed: {exc}")
            except profmod.ProfileError as exc:
                self._fail(result, f"profile: {exc}")
            except SnmpError as exc:
                self._fail(result, f"snmp: {exc}")
            except (ValueError, TypeError, KeyError, IndexError) as exc:
                # a device answering with values of the wrong type or shape
                self._fail(result, f"garbage: {type(exc).__name__}: {exc}")
            except Exception as exc:  # noqa: BLE001 - one device must never stop the agent
                log.exception("poll of %s failed unexpectedly", result["device"])
                self._fail(result, f"error: {type(exc).__name__}: {exc}")
        result["duration_s"] = round(time.monotonic() - t0, 4)
        return result

    @staticmethod
    def _fail(result: dict, error: str) -> None:
        result.update(
            ok=False, error=error, identity={}, interfaces=[], health={}, sessions=None, tunnels=[], sdh=[]
        )

    async def close(self) -> None:
        """Nothing pooled across polls yet: each poll opens and drops its own socket."""

    # -- one device -------------------------------------------------------------------------

    async def _poll(self, target: Target, profile_name: str, peers: list[str], result: dict) -> None:
        profiles = profmod.profiles(self._profile_dir)
        generic = profiles["generic"]
        client = await open_client(target, self.impl)
        try:
            ident_oids = generic.get("identity")
            got = await client.get(list(ident_oids.values()))
            self.varbinds += len(got)
            raw = {k: got.get(v) for k, v in ident_oids.items()}
            # an agent without a system group (some cameras, bridge-only walks) still answered
            # properly: poll it with an empty identity and, under auto, the generic profile
            identity = _identity(raw)
            if profile_name == "auto":
                prof = profmod.choose(identity["sysObjectID"], identity["sysDescr"], profiles)
            else:
                prof = profmod.get(profile_name, profiles)
            result["profile"] = prof.name
            result["identity"] = identity
            maxrep = int(target.max_repetitions or prof.get("max_repetitions", 25))
            result["interfaces"] = await self._interfaces(client, prof, maxrep)
            result["health"] = await self._health(client, prof.get("health") or {}, maxrep)
            if prof.get("sessions"):
                result["sessions"] = _count(await self._first_value(client, prof.get("sessions"), maxrep))
            if prof.get("tunnels"):
                result["tunnels"] = await self._tunnels(client, prof.get("tunnels"), peers, maxrep)
            if prof.get("sdh"):
                result["sdh"] = await self.sdh.read(client, prof.get("sdh"), (target.host, target.port),
                                                    self._walk, maxrep)
        finally:
            await client.close()

    async def _walk(self, client, columns: list[str], maxrep: int) -> dict[str, dict]:
        out = await client.walk(columns, maxrep)
        self.varbinds += sum(len(v) for v in out.values())
        return out

    async def _interfaces(self, client, prof: profmod.Profile, maxrep: int) -> list[dict]:
        spec = prof.get("interfaces") or {}
        columns: dict[str, dict] = spec.get("columns") or {}
        counters: dict[str, list[str]] = spec.get("counters") or {}
        if not columns:
            return []
        hc_cols = [c[0] for c in counters.values()]
        data = await self._walk(client, hc_cols, maxrep)
        data.update(await self._walk(client, [c["oid"] for c in columns.values()], maxrep))
        indexes: set[str] = set()
        for col in columns.values():
            indexes.update(data[col["oid"]])
        with_hc = set().union(*(data[c].keys() for c in hc_cols)) if hc_cols else set()
        if indexes - with_hc or not with_hc:
            # some rows lack 64-bit counters: read the 32-bit ones for those rows
            data.update(await self._walk(client, [c[-1] for c in counters.values() if len(c) > 1], maxrep))
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
        return _unique_names(rows)

    async def _health(self, client, spec: dict, maxrep: int) -> dict:
        out = {}
        for key, sources in spec.items():
            v = await self._first_value(client, sources, maxrep)
            if v is not None:
                out[key] = round(float(v), 2)
        return out

    async def _first_value(self, client, sources: list[dict], maxrep: int) -> float | None:
        """The first source that yields a value wins (vendors differ across firmware)."""
        for src in sources:
            v = await self._source_value(client, src, maxrep)
            if v is not None:
                return v
        return None

    async def _source_value(self, client, src: dict, maxrep: int) -> float | None:
        scale, offset = float(src.get("scale", 1)), float(src.get("offset", 0))
        if "total_scalar" in src:
            # used = total - every "free" scalar (UCD-SNMP: avail, buffers, cached), as a percentage
            oids = [str(src["total_scalar"]), *(str(o) for o in src.get("free_scalars", []))]
            got = await client.get(oids)
            self.varbinds += len(oids)
            values = [number(got.get(o)) for o in oids]
            if values[0] is None or values[0] <= 0 or values[1:2] == [None]:
                return None
            used = values[0] - sum(v for v in values[1:] if v is not None)
            return max(0.0, min(100.0, 100.0 * used / values[0]))
        if "scalar" in src:
            got = await client.get([str(src["scalar"])])
            self.varbinds += 1
            v = number(got.get(str(src["scalar"])))
            return None if v is None else v * scale + offset
        cols = [str(src[k]) for k in ("column", "used", "total", "free", "pct") if k in src]
        where = src.get("where")
        if where:
            cols.append(str(where["column"]))
        data = await self._walk(client, cols, maxrep)
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

    async def _tunnels(self, client, spec: dict, peers: list[str], maxrep: int) -> list[dict]:
        cols = [str(spec[k]) for k in ("peer_column", "state_column", "name_column") if k in spec]
        data = await self._walk(client, cols, maxrep) if cols else {}
        up_values = {str(v) for v in spec.get("up", [1])}
        live: dict[str, dict] = {}
        index_arcs = int(spec.get("peer_index_arcs", 0))
        keys = data[cols[0]].keys() if cols else []
        for idx in keys:
            peer = (
                index_address(idx, index_arcs)
                if index_arcs
                else address(data[str(spec["peer_column"])].get(idx))
            )
            if not peer:
                continue
            state = "up"
            if "state_column" in spec:
                raw = data[str(spec["state_column"])].get(idx)
                state = (
                    "up"
                    if str(number(raw) if number(raw) is not None else text(raw)) in up_values
                    else "down"
                )
            name = text(data[str(spec["name_column"])].get(idx)) if "name_column" in spec else None
            if live.get(peer, {}).get("state") != "up":  # any live SA to the peer makes it up
                live[peer] = {"peer": peer, "name": name, "state": state}
        if not peers:
            return sorted(live.values(), key=lambda t: t["peer"])
        # every expected peer, its SA row gone or not ("down", no SA), then rows nobody expected
        out = []
        for p in peers:
            key = address(p) or p
            t = live.pop(key, None)
            if t is None:
                out.append({"peer": key, "name": None, "state": "down", "expected": True, "sa": False})
            else:
                out.append(t | {"expected": True, "sa": True})
        out += [t | {"expected": False, "sa": True} for t in sorted(live.values(), key=lambda t: t["peer"])]
        return out


def _count(v: float | None) -> int | float | None:
    """Session counts are integers; keep a fraction only if the device really sent one."""
    return int(v) if v is not None and float(v).is_integer() else v


def _identity(raw: dict) -> dict:
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
    if kind in ("counter", "gauge") and not col.get("scale"):
        return lambda v: v if type(v) is int else number(v)
    return lambda v: _convert(v, col)


def _convert(v: Any, col: dict) -> Any:
    kind = col.get("type", "gauge")
    if kind == "string":
        return text(v)
    if kind == "enum":
        n = number(v)
        if n is None:
            return None
        return (col.get("enum") or {}).get(int(n), str(int(n)))
    if kind == "bitmap":
        return bitmap(number(v), col.get("bits") or {})
    n = number(v)
    if n is None:
        return None
    scale = col.get("scale")
    return n * scale if scale else n


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


def _where_ok(v: Any, where: dict) -> bool:
    if "equals" in where:
        return (
            str(v).lstrip(".") if isinstance(v, str) else str(number(v) if number(v) is not None else text(v))
        ) == str(where["equals"])
    if "gt" in where:
        n = number(v)
        return n is not None and n > float(where["gt"])
    return v is not None


def _index_key(idx: str) -> tuple:
    return tuple(int(p) if p.isdigit() else 0 for p in idx.split("."))


async def poll_device(target: Target, profile: str = "auto", expected_peers: Iterable[str] = ()) -> dict:
    """One-off convenience wrapper (architecture.md name)."""
    return await Poller(max_in_flight=1).poll(target, profile, expected_peers)


def _unique_names(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
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
