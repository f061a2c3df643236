"""SONET/SDH performance and defects from SONET-MIB (RFC 3592), for any device that has it.

Which devices: every profile carrying an ``sdh:`` block (``generic`` does, so every
router, whatever its vendor).  Whether a device has SDH ports is decided by what it
answers, not by its sysDescr: one walk of ``sonetMediumType``; a device without the
table costs that one request and nothing else.

Per SDH ifIndex the poll reports the defects of the three layers (section LOS/LOF,
line AIS/RDI, path LOP/AIS/RDI/UNEQ/PLM) and every *completed* 15-minute interval
not yet delivered: :class:`SdhReader` remembers, per interface, the end time of the
newest interval it reported and reads intervals 1..k of the interval tables, where
k counts the intervals completed since (bounded by ``sonetMediumValidIntervals``, at
most 96).  A gap between polls (agent down, WAN cut) therefore loses no bucket while
the device still holds it (24 h); a first poll delivers everything the device holds
(the centre stores buckets keyed by their end time, so a repeat changes nothing).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from probes.snmp.values import number

INTERVAL_S = 900
MAX_INTERVALS = 96
GET_BATCH = 40  # OIDs per GET: one response stays well under 1,500 bytes per 40 varbinds
LAYERS = ("section", "line", "path")
PROBE_REPETITIONS = 8
SNAP_S = 60  # an interval end this close to a quarter hour is the quarter hour (NE clocks align)

Walk = Callable[[Any, list[str], int], Awaitable[dict[str, dict[str, Any]]]]


def interval_end(now: float, elapsed: float) -> int:
    """End time of the newest completed interval: ``now - timeElapsed``, snapped to the
    quarter hour when it is within a minute of one, so two polls agree on the key."""
    end = now - elapsed
    q = round(end / INTERVAL_S) * INTERVAL_S
    return int(q) if abs(end - q) <= SNAP_S else int(round(end))


@dataclass
class SdhReader:
    """Reads SONET-MIB for one agent process and remembers what it already delivered."""

    clock: Callable[[], float] = time.time
    delivered: dict[tuple[str, int, str], int] = field(default_factory=dict)  # -> newest end reported

    async def read(
        self, client: Any, spec: dict, key: tuple[str, int], walk: Walk, maxrep: int
    ) -> list[dict]:
        """The ``sdh`` list of a poll result (empty when the device has no SONET-MIB)."""
        medium = str(spec["medium_type"])
        # a short first request: on a device without SONET-MIB it is the only one
        types = (await walk(client, [medium], min(maxrep, PROBE_REPETITIONS)))[medium]
        media = sorted((i for i in types if i.isdigit()), key=int)
        if not media:
            return []
        layers = spec.get("layers") or {}
        status_cols = [str(layers[k]["status"]) for k in LAYERS if k in layers and "status" in layers[k]]
        scalar_cols = [str(spec[k]) for k in ("time_elapsed", "valid_intervals") if k in spec]
        data = await walk(client, scalar_cols + status_cols, maxrep)
        now = self.clock()
        path_of = await self._paths(client, spec, data, media, walk, maxrep)
        out: dict[str, dict] = {}
        for idx in media:
            entry = out[idx] = _entry(idx, path_of.get(idx, idx))
            for k in LAYERS:
                lay = layers.get(k) or {}
                if "status" not in lay:
                    continue
                row = idx if k != "path" else entry["path_ifIndex_s"]
                entry[f"{k}_status"] = bitmap(
                    number(data[str(lay["status"])].get(row)), lay.get("bits") or {}
                )
        pending: dict[tuple[str, int, str], int] = {}
        if "time_elapsed" in spec:
            await self._intervals(client, spec, key, data, out, now, pending)
        self.delivered.update(pending)
        for e in out.values():
            p = e.pop("path_ifIndex_s")
            if p != str(e["ifIndex"]):
                e["path_ifIndex"] = int(p)
        return [out[i] for i in media]

    async def _paths(self, client, spec: dict, data: dict, media: list[str], walk: Walk, maxrep: int) -> dict:
        """Medium ifIndex -> path ifIndex.  Many routers keep the path rows on the medium's own
        ifIndex; RFC 3592 puts them on a sonetPath interface stacked on it (ifStackTable)."""
        path = (spec.get("layers") or {}).get("path") or {}
        col = str(path.get("status", ""))
        rows = set(data.get(col, {}))
        loose = [r for r in rows if r not in media]
        if not loose or "stack" not in spec:
            return {}
        stack = str(spec["stack"])
        links = (await walk(client, [stack], maxrep))[stack]
        out = {}
        for pair in links:
            hi, _, lo = pair.partition(".")
            if hi in loose and lo in media and lo not in rows:
                out[lo] = hi
        return out

    async def _intervals(
        self, client, spec: dict, key: tuple[str, int], data: dict, out: dict, now: float, pending: dict
    ) -> None:
        elapsed_col = str(spec["time_elapsed"])
        valid_col = str(spec.get("valid_intervals", ""))
        plan: list[tuple[str, int, int, str, str, str]] = []  # (idx, n, end, layer, field, oid)
        first: dict[str, int] = {}
        for idx, entry in out.items():
            elapsed = number(data[elapsed_col].get(idx))
            if elapsed is None:
                continue
            end1 = interval_end(now, elapsed)
            first[idx] = end1
            held = number(data.get(valid_col, {}).get(idx))
            held = MAX_INTERVALS if held is None else max(0, min(MAX_INTERVALS, int(held)))
            last = self.delivered.get((*key, idx))
            due = MAX_INTERVALS if last is None else round((end1 - last) / INTERVAL_S)
            if due <= 0:
                continue
            entry["missed_intervals"] = max(0, due - held) if last is not None else 0
            for n in range(1, min(due, held) + 1):
                for layer, lay in (spec.get("layers") or {}).items():
                    row = idx if layer != "path" else entry["path_ifIndex_s"]
                    for fld, col in (lay.get("interval") or {}).items():
                        plan.append((idx, n, end1 - (n - 1) * INTERVAL_S, layer, fld, f"{col}.{row}.{n}"))
            pending[(*key, idx)] = end1
        if not plan:
            return
        got = await _get(client, [p[-1] for p in plan])
        # the quarter hour may have turned while we read: interval n is then another interval
        again = await _get(client, [f"{elapsed_col}.{i}" for i in first])
        for idx, end1 in first.items():
            e2 = number(again.get(f"{elapsed_col}.{idx}"))
            if e2 is None or abs(interval_end(self.clock(), e2) - end1) > INTERVAL_S // 2:
                pending.pop((*key, idx), None)
                out[idx].pop("missed_intervals", None)
                first[idx] = -1
        buckets: dict[tuple[str, int], dict] = {}
        for idx, _n, end, layer, fld, oid in plan:
            if first[idx] < 0:
                continue
            b = buckets.setdefault((idx, end), {"interval_end": end})
            v = number(got.get(oid))
            b.setdefault(layer, {})[fld] = None if v is None else int(v)
        for (idx, _end), b in sorted(buckets.items(), key=lambda kv: kv[0][1]):
            answered = {k: b.pop(k) for k in LAYERS if k in b}
            layers = {k: lay for k, lay in answered.items() if any(v is not None for v in lay.values())}
            if not layers:
                continue  # the device answered none of it: no such interval
            valid = all(lay.pop("valid", 1) in (1, None) for lay in layers.values())
            line = layers.get("line") or {}
            b.update(es=line.get("es"), ses=line.get("ses"), uas=line.get("uas"), valid=valid, **layers)
            out[idx]["buckets"].append(b)


async def _get(client: Any, oids: list[str]) -> dict[str, Any]:
    """GET many OIDs, a bounded number per request."""
    got: dict[str, Any] = {}
    for i in range(0, len(oids), GET_BATCH):
        got.update(await client.get(oids[i : i + GET_BATCH]))
    return got


def _entry(idx: str, path_idx: str) -> dict:
    return {
        "ifIndex": int(idx),
        "section_status": [],
        "line_status": [],
        "path_status": [],
        "buckets": [],
        "path_ifIndex_s": path_idx,
    }


def bitmap(v: Any, bits: dict) -> list[str]:
    """Names of the set bits of a SONET-MIB status bitmap (1 = no defect has no name)."""
    if v is None:
        return []
    v = int(v)
    return [str(name) for bit, name in sorted((int(b), n) for b, n in bits.items()) if v & bit]
