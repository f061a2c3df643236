"""Read snmprec walks (snmpsim's ``OID|TAG|VALUE`` format) into pre-encoded varbinds.

Real walks are messy: hex (``4x``) and escaped (``4e``) values, variation-module
entries (``67:numeric|rate=100``), ``#`` comments, ``|`` inside values, CRLF line
ends, duplicated and out-of-order OIDs.  This reader accepts all of them and
returns one sorted, de-duplicated list, so the agent can bisect it.
"""

from __future__ import annotations

import bz2
from bisect import bisect_left
from dataclasses import dataclass, field
from pathlib import Path

from probes.snmp import ber

# snmprec tag -> BER tag
TAGS = {
    "2": ber.INTEGER,
    "4": ber.OCTET_STRING,
    "5": ber.NULL,
    "6": ber.OID,
    "64": ber.IP_ADDRESS,
    "65": ber.COUNTER32,
    "66": ber.GAUGE32,
    "67": ber.TIMETICKS,
    "68": ber.OPAQUE,
    "70": ber.COUNTER64,
}
_UNSIGNED_MAX = {ber.COUNTER32: 2**32 - 1, ber.GAUGE32: 2**32 - 1, ber.TIMETICKS: 2**32 - 1,
                 ber.COUNTER64: 2**64 - 1}
_ESCAPES = {"\\": 92, "'": 39, '"': 34, "a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11}


class SnmprecError(ValueError):
    """A record that cannot be read; the message names file, line and problem."""


@dataclass
class Walk:
    """A parsed walk: sorted OIDs and their value TLVs (same positions)."""

    oids: list[tuple[int, ...]] = field(default_factory=list)
    values: list[bytes] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # problems met in lenient mode

    def as_dict(self) -> dict[tuple[int, ...], bytes]:
        return dict(zip(self.oids, self.values, strict=True))

    def get(self, oid: tuple[int, ...]) -> bytes | None:
        i = bisect_left(self.oids, oid)
        if i < len(self.oids) and self.oids[i] == oid:
            return self.values[i]
        return None


def unescape(text: str) -> bytes:
    """snmpsim's ``e`` encoding: Python-literal escapes over latin-1 text."""
    out = bytearray()
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch != "\\":
            out.append(ord(ch) & 0xFF)
            i += 1
            continue
        if i + 1 >= n:
            raise ValueError("dangling backslash")
        nxt = text[i + 1]
        if nxt == "x":
            out.append(int(text[i + 2 : i + 4], 16))
            i += 4
        elif nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        else:
            raise ValueError(f"unknown escape \\{nxt}")
    return bytes(out)


def _variation_base(args: str) -> str | None:
    """Base value of a variation entry (``rate=100,initial=5`` -> ``5``)."""
    params = {}
    for part in args.split(","):
        key, sep, val = part.partition("=")
        if sep:
            params[key.strip()] = val.strip()
    for key in ("value", "initial", "offset", "min"):
        if key in params:
            return params[key]
    return None


def encode_value(tag_text: str, value: str) -> bytes:
    """Encode one snmprec value as its BER TLV; raises ValueError naming the problem."""
    tag_text, _, module = tag_text.partition(":")
    encoding = ""
    if tag_text[-1:] in ("x", "e"):
        tag_text, encoding = tag_text[:-1], tag_text[-1]
    if tag_text not in TAGS:
        raise ValueError(f"unknown tag {tag_text!r}")
    tag = TAGS[tag_text]
    if module:
        base = _variation_base(value)
        if base is None:
            value = "" if tag in (ber.OCTET_STRING, ber.OPAQUE) else "0"
            if tag == ber.OID:
                value = "0.0"
            elif tag == ber.IP_ADDRESS:
                value = "0.0.0.0"
        else:
            value = base
    if encoding == "x":
        raw = bytes.fromhex(value)
    elif encoding == "e":
        raw = unescape(value)
    else:
        raw = value.encode("latin-1")
    if tag in (ber.OCTET_STRING, ber.OPAQUE):
        return ber.tlv(tag, raw)
    if tag == ber.NULL:
        return ber.NULL_TLV
    if tag == ber.IP_ADDRESS:
        if not encoding:
            parts = [int(p) for p in value.split(".")]
            if len(parts) != 4 or any(not 0 <= p <= 255 for p in parts):
                raise ValueError(f"bad IpAddress {value!r}")
            raw = bytes(parts)
        if len(raw) != 4:
            raise ValueError(f"IpAddress of {len(raw)} octets")
        return ber.tlv(tag, raw)
    if tag == ber.OID:
        return ber.enc_oid(ber.parse_oid_text(raw.decode("latin-1")))
    number = int(raw.decode("latin-1").strip() or "0") if not encoding else int.from_bytes(raw, "big")
    if tag == ber.INTEGER:
        if not -(2**31) <= number < 2**31:
            number = max(-(2**31), min(number, 2**31 - 1))
        return ber.enc_int(number)
    if number < 0:
        raise ValueError(f"negative value {number} for an unsigned type")
    return ber.enc_int(min(number, _UNSIGNED_MAX[tag]), tag)


def parse_text(text: str | bytes, source: str = "<text>", strict: bool = True) -> Walk:
    """Parse snmprec text; in lenient mode bad records are listed in ``skipped``."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    seen: dict[tuple[int, ...], bytes] = {}
    skipped: list[str] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip("\r\n\t ")
        if not line or line.startswith("#"):
            continue
        try:
            oid_text, tag_text, value = line.split("|", 2)
        except ValueError:
            problem = f"{source}:{lineno}: record: expected OID|TAG|VALUE, got {line[:60]!r}"
            if strict:
                raise SnmprecError(problem) from None
            skipped.append(problem)
            continue
        try:
            oid = ber.parse_oid_text(oid_text)
            if tag_text.partition(":")[0] in ("128", "129", "130"):
                continue  # recorded noSuchObject/noSuchInstance/endOfMibView: absent
            encoded = encode_value(tag_text, value)
        except (ValueError, ber.BerError) as exc:
            problem = f"{source}:{lineno}: {oid_text}: {exc}"
            if strict:
                raise SnmprecError(problem) from None
            skipped.append(problem)
            continue
        seen.setdefault(oid, encoded)  # duplicates: the first record wins
    oids = sorted(seen)
    return Walk(oids=oids, values=[seen[o] for o in oids], skipped=skipped)


def parse_file(path: str | Path, strict: bool = False) -> Walk:
    """Parse a ``.snmprec`` or ``.snmprec.bz2`` file (real walks: lenient by default)."""
    path = Path(path)
    data = path.read_bytes()
    if path.suffix == ".bz2":
        data = bz2.decompress(data)
    return parse_text(data, source=str(path), strict=strict)
