"""Turn raw SNMP values into Python values the poll result can carry."""

from __future__ import annotations

import ipaddress
from typing import Any


def text(v: Any) -> str | None:
    """OCTET STRING -> str; UTF-8 first, GBK (Chinese vendors) next, hex last."""
    if v is None:
        return None
    if isinstance(v, bytes):
        raw = v.rstrip(b"\x00")
        for enc in ("utf-8", "gbk"):
            try:
                return raw.decode(enc)
            except UnicodeDecodeError:
                continue
        return raw.hex(":")
    return str(v)


def number(v: Any) -> float | int | None:
    """INTEGER/Counter/Gauge/TimeTicks -> int; numeric strings (e.g. "41.5") -> float."""
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return v
    s = text(v)
    if s is None:
        return None
    s = s.strip().rstrip("%").strip()
    try:
        return int(s)
    except ValueError:
        try:
            return float(s)
        except ValueError:
            return None


def address(v: Any) -> str | None:
    """IpAddress / InetAddress (4 or 16 raw bytes, or text) -> canonical string."""
    if v is None:
        return None
    if isinstance(v, bytes):
        if len(v) in (4, 16):
            return str(ipaddress.ip_address(v))
        v = text(v)
    s = str(v).strip()
    try:
        return str(ipaddress.ip_address(s))
    except ValueError:
        return s or None


def index_address(index: str, arcs: int = 4) -> str | None:
    """The last ``arcs`` sub-identifiers of an index as an address (tables indexed by peer)."""
    parts = index.split(".")
    if len(parts) < arcs:
        return None
    try:
        return str(ipaddress.ip_address(bytes(int(x) for x in parts[-arcs:])))
    except ValueError:
        return None
