"""Just enough BER for SNMP: decode messages, encode responses fast (simulator and receiver).

A general ASN.1 library spends most of its time building objects; an agent that
serves a province needs ~50,000 varbinds per CPU-second, so requests are sliced
by hand and responses are glued together from pre-encoded TLVs.
"""

from __future__ import annotations

# Universal / application tags used by SNMP (RFC 2578, RFC 3416).
INTEGER = 0x02
OCTET_STRING = 0x04
NULL = 0x05
OID = 0x06
SEQUENCE = 0x30
IP_ADDRESS = 0x40
COUNTER32 = 0x41
GAUGE32 = 0x42
TIMETICKS = 0x43
OPAQUE = 0x44
COUNTER64 = 0x46
NO_SUCH_OBJECT = 0x80
NO_SUCH_INSTANCE = 0x81
END_OF_MIB_VIEW = 0x82

GET = 0xA0
GETNEXT = 0xA1
RESPONSE = 0xA2
SET = 0xA3
GETBULK = 0xA5
REPORT = 0xA8

NO_SUCH_OBJECT_TLV = b"\x80\x00"
NO_SUCH_INSTANCE_TLV = b"\x81\x00"
END_OF_MIB_VIEW_TLV = b"\x82\x00"
NULL_TLV = b"\x05\x00"


class BerError(ValueError):
    """A packet that is not the SNMP we understand."""


def enc_len(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    if n < 0x100:
        return bytes((0x81, n))
    if n < 0x10000:
        return bytes((0x82, n >> 8, n & 0xFF))
    return bytes((0x83, n >> 16, (n >> 8) & 0xFF, n & 0xFF))


def tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes((tag, n)) + body
    return bytes((tag,)) + enc_len(n) + body


def enc_int_body(value: int) -> bytes:
    """Two's complement, minimal length (INTEGER)."""
    length = (value + (value < 0)).bit_length() // 8 + 1
    return value.to_bytes(length, "big", signed=True)


def enc_uint_body(value: int) -> bytes:
    """Unsigned application types (Counter32/64, Gauge32, TimeTicks): a leading
    zero octet when the top bit is set, as BER requires."""
    return value.to_bytes(value.bit_length() // 8 + 1, "big")


def enc_int(value: int, tag: int = INTEGER) -> bytes:
    if tag == INTEGER:
        return tlv(tag, enc_int_body(value))
    return tlv(tag, enc_uint_body(value))


def enc_oid_body(arcs: tuple[int, ...]) -> bytes:
    if len(arcs) < 2:
        arcs = tuple(arcs) + (0,) * (2 - len(arcs))
    first = arcs[0] * 40 + arcs[1]
    rest = arcs[2:]
    if first < 0x80 and (not rest or max(rest) < 0x80):
        return bytes((first, *rest))  # the common case: every arc fits one octet
    out = bytearray()
    for arc in (first, *rest):
        if arc < 0x80:
            out.append(arc)
            continue
        chunk = []
        while arc:
            chunk.append(arc & 0x7F)
            arc >>= 7
        chunk.reverse()
        for b in chunk[:-1]:
            out.append(b | 0x80)
        out.append(chunk[-1])
    return bytes(out)


def enc_oid(arcs: tuple[int, ...]) -> bytes:
    return tlv(OID, enc_oid_body(arcs))


def dec_oid_body(body: bytes) -> tuple[int, ...]:
    if not body:
        raise BerError("empty OID")
    arcs: list[int] = []
    value = 0
    for b in body:
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(value)
            value = 0
    if body[-1] & 0x80:
        raise BerError("truncated OID")
    first = arcs[0]
    if first < 40:
        head = (0, first)
    elif first < 80:
        head = (1, first - 40)
    else:
        head = (2, first - 80)
    return head + tuple(arcs[1:])


def parse_oid_text(text: str) -> tuple[int, ...]:
    text = text.strip().lstrip(".")
    try:
        arcs = tuple(int(p) for p in text.split("."))
    except ValueError:
        raise BerError(f"not a numeric OID: {text!r}") from None
    if len(arcs) < 2 or any(a < 0 for a in arcs):
        raise BerError(f"not a numeric OID: {text!r}")
    return arcs


def read_tlv(buf: bytes, pos: int) -> tuple[int, int, int]:
    """Return (tag, start of value, end of value) of the TLV at ``pos``."""
    try:
        tag = buf[pos]
        n = buf[pos + 1]
    except IndexError:
        raise BerError("truncated TLV") from None
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > 4:
            raise BerError("bad length")
        n = int.from_bytes(buf[pos : pos + k], "big")
        pos += k
    end = pos + n
    if end > len(buf):
        raise BerError("TLV runs past the end of the packet")
    return tag, pos, end


def dec_int(buf: bytes, start: int, end: int) -> int:
    return int.from_bytes(buf[start:end], "big", signed=True)


def dec_uint(buf: bytes, start: int, end: int) -> int:
    return int.from_bytes(buf[start:end], "big")
