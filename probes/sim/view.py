"""A device's MIB view: a shared, pre-encoded walk plus a small per-device overlay.

The walk of a kind (tens of thousands of OIDs) is encoded once and shared by every
device of that kind; each device only owns the OIDs it changes or adds (its name,
its interfaces, counters, SDH rows, tunnels).  GETNEXT merges the two sorted lists.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable

from probes.sim.snmprec import Walk
from probes.snmp import ber

# IP-MIB address, prefix and neighbour tables and LLDP-MIB local/remote ports (probes.sim.addressing)
DROPPED = tuple((1, 3, 6, 1, 2, 1, 4, t) for t in (20, 22, 32, 34, 35)) + (
    (1, 0, 8802, 1, 1, 2, 1, 3, 7), (1, 0, 8802, 1, 1, 2, 1, 4))
Dynamic = Callable[[float], bytes | None]  # now -> value TLV; None: the row is gone for now
Value = bytes | Dynamic


class KindView:
    """Sorted OIDs of a walk with their full varbind TLVs, encoded once."""

    def __init__(self, walk: Walk, extra: Walk | None = None) -> None:
        merged = walk.as_dict()
        if extra is not None:
            merged.update(extra.as_dict())
        # the province's own address and LLDP tables replace the recorded device's
        merged = {o: val for o, val in merged.items() if not any(o[:len(t)] == t for t in DROPPED)}
        self.oids = sorted(merged)
        self.vbs = [ber.tlv(ber.SEQUENCE, ber.enc_oid(o) + merged[o]) for o in self.oids]
        self.values = [merged[o] for o in self.oids]

    def value(self, oid: tuple[int, ...]) -> bytes | None:
        i = bisect_left(self.oids, oid)
        if i < len(self.oids) and self.oids[i] == oid:
            return self.values[i]
        return None

    def column(self, prefix: tuple[int, ...]) -> list[tuple[tuple[int, ...], bytes]]:
        """All (oid, value) under ``prefix``."""
        i = bisect_right(self.oids, prefix)
        out = []
        n = len(prefix)
        while i < len(self.oids) and self.oids[i][:n] == prefix:
            out.append((self.oids[i], self.values[i]))
            i += 1
        return out


class DeviceView:
    """Lookups for one device: its overlay first, then the kind's walk."""

    def __init__(self, base: KindView) -> None:
        self.base = base
        self.overlay: dict[tuple[int, ...], tuple[bytes, Value]] = {}
        self.hidden: set[tuple[int, ...]] = set()
        self._extra: list[tuple[int, ...]] = []
        self._dirty = False
        self._lock = threading.Lock()

    def set(self, oid: tuple[int, ...], value: Value) -> None:
        self.overlay[oid] = (ber.enc_oid(oid), value)
        self.hidden.discard(oid)
        self._dirty = True

    def hide(self, oid: tuple[int, ...]) -> None:
        self.overlay.pop(oid, None)
        self.hidden.add(oid)
        self._dirty = True

    def _extras(self) -> list[tuple[int, ...]]:
        if self._dirty:
            with self._lock:
                self._extra = sorted(o for o in self.overlay if self.base.value(o) is None)
                self._dirty = False
        return self._extra

    def get(self, oid: tuple[int, ...], now: float) -> bytes | None:
        """Full varbind TLV for ``oid``, or None when the device has no such instance."""
        hit = self.overlay.get(oid)
        if hit is not None:
            oid_tlv, val = hit
            if type(val) is not bytes and (val := val(now)) is None:
                return None
            return ber.tlv(ber.SEQUENCE, oid_tlv + val)
        if oid in self.hidden:
            return None
        base = self.base
        i = bisect_left(base.oids, oid)
        if i < len(base.oids) and base.oids[i] == oid:
            return base.vbs[i]
        return None

    def next(self, oid: tuple[int, ...], now: float) -> tuple[tuple[int, ...], bytes] | None:
        """(next OID, its varbind TLV) after ``oid``, or None at the end of the view."""
        base = self.base
        boids = base.oids
        extra = self._extras()
        i = bisect_right(boids, oid)
        j = bisect_right(extra, oid)
        while True:
            b = boids[i] if i < len(boids) else None
            e = extra[j] if j < len(extra) else None
            if b is None and e is None:
                return None
            if b is not None and (e is None or b < e):
                if b in self.hidden:
                    i += 1
                    continue
                hit = self.overlay.get(b)
                if hit is None:
                    return b, base.vbs[i]
                cand = b
                i += 1
            else:
                cand = e
                hit = self.overlay[e]
                j += 1
            oid_tlv, val = hit
            if type(val) is not bytes and (val := val(now)) is None:
                continue  # a row that is gone for now (a dropped tunnel's SA)
            return cand, ber.tlv(ber.SEQUENCE, oid_tlv + val)
