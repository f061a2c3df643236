"""Read what a device knows about addresses: IP-MIB and LLDP-MIB rows as plain records.

Pure functions over walked columns (``{column: {index: value}}``), so they are tested on
real walks and shared by the plugin (:mod:`probes.plugins.addresses`).  Real agents differ:
Comware leaves out ``ipAdEntAddr`` (the address is the index), some agents write
``ipAddressTable`` indexes without the length arc, ARP tables hold invalid rows.  A row that
cannot be read is counted in ``bad`` and skipped; the rest stands.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from probes.snmp.values import number, text

MAX_ROWS = 200_000  # per table: more is a broken agent looping, not a network
_HEX = re.compile(r"[0-9a-f]{1,2}")


def mac(v: Any) -> str | None:
    """PhysAddress (6 raw bytes, or text) -> ``aa:bb:cc:dd:ee:ff``; None when it is not one."""
    if isinstance(v, bytes) and len(v) == 6:
        return v.hex(":")
    s = (text(v) or "").strip().lower()
    parts = re.split(r"[:-]", s)
    if len(parts) == 6 and all(_HEX.fullmatch(p) for p in parts):  # "0:1a:2b:3:4d:5e" (leading 0s dropped)
        return ":".join(p.zfill(2) for p in parts)
    plain = s.replace(".", "")  # "001a2b3c4d5e", "001a.2b3c.4d5e"
    if len(plain) == 12 and all(c in "0123456789abcdef" for c in plain):
        return ":".join(plain[i:i + 2] for i in range(0, 12, 2))
    return None


def _arcs(index: str) -> list[int]:
    return [int(p) for p in index.split(".")]


def inet_index(arcs: list[int]) -> str:
    """The address of ``InetAddressType.InetAddress`` index arcs (the whole rest of the index).

    The address is length-prefixed (RFC 4001) or, on some agents (ASA), implied.  Zoned
    types (3, 4) may carry 4 zone bytes after the address; the zone is dropped."""
    kind, rest = arcs[0], arcs[1:]
    base = {1: 4, 2: 16, 3: 4, 4: 16}.get(kind)
    if base is None:
        raise ValueError(f"address type {kind} is not IPv4 or IPv6")
    sizes = (base, base + 4) if kind in (3, 4) else (base,)  # a zoned address may carry its zone
    if rest and rest[0] in sizes and len(rest) == 1 + rest[0]:
        raw = rest[1:]
    elif len(rest) in sizes:
        raw = rest
    else:
        raise ValueError(f"index does not hold an address of type {kind}")
    if any(not 0 <= b <= 255 for b in raw):
        raise ValueError("address arcs are not bytes")
    return str(ipaddress.ip_address(bytes(raw[:base])))


def _v4(arcs: list[int]) -> str:
    if len(arcs) != 4 or any(not 0 <= b <= 255 for b in arcs):
        raise ValueError("not an IPv4 address")
    return str(ipaddress.IPv4Address(bytes(arcs)))


def _int(v: Any) -> int | None:
    n = number(v)
    return int(n) if isinstance(n, int | float) else None


class Reader:
    """Turns walked columns into rows; ``ifnames`` maps ifIndex to the poll's interface names."""

    def __init__(self, ifnames: dict[int, str] | None = None) -> None:
        self.ifnames = ifnames or {}
        self.bad = 0
        self.rows = 0

    def _name(self, if_index: int | None) -> str | None:
        return self.ifnames.get(if_index) if if_index is not None else None

    def _each(self, column: dict[str, Any]) -> list[tuple[str, Any]]:
        items = list(column.items())
        if len(items) > MAX_ROWS:
            self.bad += len(items) - MAX_ROWS
            items = items[:MAX_ROWS]
        self.rows += len(items)
        return items

    def ip_addr_table(self, spec: dict, data: dict[str, dict[str, Any]]) -> list[dict]:
        """ipAddrTable (RFC 1213/4293, IPv4): the index is the address."""
        if_col, mask_col = data.get(str(spec.get("if_index")), {}), data.get(str(spec.get("netmask")), {})
        out = []
        for idx, raw_if in self._each(if_col):
            try:
                addr = _v4(_arcs(idx))
                plen = _plen(mask_col.get(idx))
            except ValueError:
                self.bad += 1
                continue
            if_index = _int(raw_if)
            out.append({"address": addr, "plen": plen, "if_index": if_index, "ifname": self._name(if_index),
                        "table": "ipAddrTable"})
        return out

    def ip_address_table(self, spec: dict, data: dict[str, dict[str, Any]]) -> list[dict]:
        """ipAddressTable (RFC 4293, IPv4 and IPv6): prefix length from ``ipAddressPrefix``."""
        if_col = data.get(str(spec.get("if_index")), {})
        prefix_col = data.get(str(spec.get("prefix")), {})
        type_col = data.get(str(spec.get("type")), {})
        out = []
        for idx, raw_if in self._each(if_col):
            try:
                addr = inet_index(_arcs(idx))
            except ValueError:
                self.bad += 1
                continue
            if _int(type_col.get(idx)) not in (None, 1):  # only unicast addresses
                continue
            pointer = text(prefix_col.get(idx)) or ""
            tail = pointer.rsplit(".", 1)[-1]
            plen = int(tail) if tail.isdigit() and pointer.count(".") > 5 else None
            if plen is not None and plen > (32 if ":" not in addr else 128):
                plen = None
            if_index = _int(raw_if)
            out.append({"address": addr, "plen": plen, "if_index": if_index, "ifname": self._name(if_index),
                        "table": "ipAddressTable"})
        return out

    def arp(self, spec: dict, data: dict[str, dict[str, Any]], v6: bool) -> list[dict]:
        """ipNetToMediaTable (index ifIndex.a.b.c.d) or ipNetToPhysicalTable (ifIndex.type.addr)."""
        phys, kind = data.get(str(spec.get("phys")), {}), data.get(str(spec.get("type")), {})
        out = []
        for idx, raw in self._each(phys):
            try:
                arcs = _arcs(idx)
                addr = inet_index(arcs[1:]) if v6 else _v4(arcs[1:])
            except (ValueError, IndexError):
                self.bad += 1
                continue
            if _int(kind.get(idx)) == 2:  # invalid(2): a row being deleted
                continue
            if raw in (b"", "") or raw == b"\0" * 6:
                continue  # an incomplete entry (resolution pending): normal, not garbage
            m = mac(raw)
            if m is None:
                self.bad += 1
                continue
            out.append({"address": addr, "mac": m, "if_index": arcs[0], "ifname": self._name(arcs[0])})
        return out

    def _local_port(self, num: int, port_id: str | None, desc: str | None) -> str:
        """The local port's name: lldpLocPortId or -Desc when it names an interface (the port
        number is only a local index), else the interface whose ifIndex is the number."""
        names = set(self.ifnames.values())
        for cand in (port_id, desc):
            if cand and cand in names:
                return cand
        return self.ifnames.get(num) or port_id or desc or str(num)

    def lldp(self, spec: dict, data: dict[str, dict[str, Any]]) -> list[dict]:
        """lldpRemTable (index timeMark.localPortNum.remIndex) with the local port's name."""
        def col(key: str) -> dict[str, Any]:
            return data.get(str(spec.get(key)), {})

        name_col, port_id, port_sub = col("rem_sys_name"), col("rem_port_id"), col("rem_port_subtype")
        port_desc, chassis = col("rem_port_desc"), col("rem_chassis_id")
        loc_id, loc_desc = col("loc_port_id"), col("loc_port_desc")
        out = []
        for idx in sorted(set(name_col) | set(port_id)):
            try:
                _mark, local, _n = _arcs(idx)[-3:]
            except ValueError:
                self.bad += 1
                continue
            self.rows += 1
            local_port = self._local_port(local, text(loc_id.get(str(local))), text(loc_desc.get(str(local))))
            pid = port_id.get(idx)
            named = _int(port_sub.get(idx)) in (1, 5, 7, None)  # interfaceAlias, interfaceName, local
            remote_port = text(pid) if named and pid is not None else None
            if not remote_port or not remote_port.isprintable():
                remote_port = text(port_desc.get(idx)) or mac(pid) or text(pid)
            raw_chassis = chassis.get(idx)
            out.append({"local_port": local_port, "local_num": local,
                        "remote_name": text(name_col.get(idx)) or None, "remote_port": remote_port,
                        "remote_chassis": mac(raw_chassis) or text(raw_chassis)})
        return out


def _plen(mask: Any) -> int | None:
    """Prefix length of a netmask (IpAddress bytes or text); None when absent, error when not a mask."""
    if mask is None:
        return None
    raw = mask if isinstance(mask, bytes) and len(mask) == 4 else None
    try:
        m = ipaddress.IPv4Address(raw if raw is not None else str(text(mask)).strip())
    except ValueError:
        raise ValueError(f"netmask {mask!r} is not an address") from None
    bits = int(m)
    plen = bin(bits).count("1")
    if bits != (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF:
        raise ValueError(f"netmask {m} is not contiguous")
    return plen


def columns(spec: dict) -> list[str]:
    """Every column OID a profile's ``addresses`` block names (the walk of one address poll)."""
    out = []
    for key in ("ip_addr", "ip_address", "arp", "neighbours", "lldp"):
        block = spec.get(key) or {}
        out += [str(v) for v in block.values()]
    return out


def read(spec: dict, data: dict[str, dict[str, Any]], ifnames: dict[int, str]) -> dict[str, Any]:
    """The ``addresses`` part of a poll result from the walked columns."""
    r = Reader(ifnames)
    iface = r.ip_addr_table(spec.get("ip_addr") or {}, data) if spec.get("ip_addr") else []
    have = {a["address"] for a in iface}
    if spec.get("ip_address"):
        iface += [a for a in r.ip_address_table(spec["ip_address"], data) if a["address"] not in have]
    arp = r.arp(spec["arp"], data, False) if spec.get("arp") else []
    if spec.get("neighbours"):
        seen = {(a["if_index"], a["address"]) for a in arp}
        arp += [a for a in r.arp(spec["neighbours"], data, True) if (a["if_index"], a["address"]) not in seen]
    lldp = r.lldp(spec["lldp"], data) if spec.get("lldp") else []
    return {"interface": iface, "arp": arp, "lldp": lldp, "rows": r.rows, "bad": r.bad}
