"""SNMP notifications off the wire: v1 Trap-PDU, v2c/v3 SNMPv2-Trap and InformRequest.

Sliced by hand with :mod:`probes.snmp.ber` (a link flap can send hundreds per second;
pysnmp decodes ~40 times slower).  v1 traps are translated to their v2 notification OID
as RFC 3584 section 3.1 says, so profiles name each notification once.
"""

from __future__ import annotations

from dataclasses import dataclass

from probes.snmp import ber

TRAP_V1 = 0xA4
INFORM = 0xA6
TRAP_V2 = 0xA7
SYS_UPTIME_0 = "1.3.6.1.2.1.1.3.0"
SNMP_TRAP_OID_0 = "1.3.6.1.6.3.1.1.4.1.0"
SNMP_TRAP_ENTERPRISE_0 = "1.3.6.1.6.3.1.1.4.3.0"
SNMP_TRAPS = "1.3.6.1.6.3.1.1.5"  # generic traps 0..5 are snmpTraps.1..6

Value = int | bytes | str | None


@dataclass(slots=True)
class Notification:
    """One decoded notification: its OID, varbinds in order, and who may have sent it."""

    version: str  # v1, v2c, v3
    trap_oid: str
    varbinds: list[tuple[str, Value]]
    uptime: int | None = None  # hundredths of a second, sysUpTime.0 / v1 time-stamp
    community: bytes = b""  # v1/v2c
    user: bytes = b""  # v3
    inform: bool = False
    agent_addr: str | None = None  # v1 agent-addr (the device behind a relay)

    def value(self, prefix: str) -> tuple[str, Value] | None:
        """(index, value) of the first varbind under ``prefix`` (index "" for an exact match)."""
        dotted = prefix + "."
        for oid, val in self.varbinds:
            if oid == prefix:
                return "", val
            if oid.startswith(dotted):
                return oid[len(dotted):], val
        return None


def oid_text(arcs: tuple[int, ...]) -> str:
    return ".".join(map(str, arcs))


_OIDS: dict[bytes, str] = {}
_OIDS_MAX = 8192  # a storm repeats the same few varbind names; the cache starts afresh when full


#: decoded varbinds by their encoding (values that change with every message, such as
#: sysUpTime and counters, are not kept); cleared when full like ``_OIDS``
_VARBINDS: dict[bytes, tuple[str, Value]] = {}
_VARBINDS_MAX = 8192
_VOLATILE = frozenset((ber.TIMETICKS, ber.COUNTER32, ber.COUNTER64))


def oid_of(body: bytes) -> str:
    """Dotted text of an encoded OID body, cached.  A new row of a known column (a storm over
    many interfaces) costs one lookup of the column and the decoding of its last arc."""
    text = _OIDS.get(body)
    if text is not None:
        return text
    if len(_OIDS) >= _OIDS_MAX:
        _OIDS.clear()
    j = len(body) - 2  # the last sub-identifier starts after the previous one's final octet
    while j >= 0 and body[j] & 0x80:
        j -= 1
    if j < 0 or body[-1] & 0x80:  # one sub-identifier, or truncated: decode (and refuse) it whole
        text = _OIDS[body] = oid_text(ber.dec_oid_body(body))
        return text
    head = body[:j + 1]
    column = _OIDS.get(head)
    if column is None:
        arcs = ber.dec_oid_body(body)
        _OIDS[head] = oid_text(arcs[:-1])
        text = _OIDS[body] = oid_text(arcs)
        return text
    arc = 0
    for b in body[j + 1:]:
        arc = arc << 7 | (b & 0x7F)
    text = _OIDS[body] = f"{column}.{arc}"
    return text


def _value(tag: int, buf: bytes, s: int, e: int) -> Value:
    if tag == ber.INTEGER:
        return ber.dec_int(buf, s, e)
    if tag == ber.OCTET_STRING or tag == ber.OPAQUE:
        return buf[s:e]
    if tag == ber.OID:
        return oid_of(buf[s:e])
    if tag == ber.IP_ADDRESS:
        if e - s != 4:
            raise ber.BerError("IpAddress is not 4 octets")
        return ".".join(map(str, buf[s:e]))
    if tag in (ber.COUNTER32, ber.GAUGE32, ber.TIMETICKS, ber.COUNTER64):
        return ber.dec_uint(buf, s, e)
    if tag in (ber.NULL, ber.NO_SUCH_OBJECT, ber.NO_SUCH_INSTANCE, ber.END_OF_MIB_VIEW):
        return None
    raise ber.BerError(f"unknown value tag 0x{tag:02x}")


def varbinds(buf: bytes, start: int, end: int) -> list[tuple[str, Value]]:
    tag, pos, stop = ber.read_tlv(buf, start)
    if tag != ber.SEQUENCE or stop > end:
        raise ber.BerError("varbind list is not a SEQUENCE")
    out: list[tuple[str, Value]] = []
    seen, append = _VARBINDS, out.append
    while pos < stop:
        raw = None
        if buf[pos] == 0x30 and buf[pos + 1] < 0x80 and buf[pos + 2] == 0x06 and buf[pos + 3] < 0x80:
            # the common case, short lengths: sliced here instead of three read_tlv calls
            ve, os_ = pos + 2 + buf[pos + 1], pos + 4
            oe = os_ + buf[pos + 3]
            if ve > stop or oe > ve:
                raise ber.BerError("varbind runs past its list")
            raw = buf[pos:ve]
            hit = seen.get(raw)
            if hit is not None:  # a flapping link repeats its varbinds: decoded once
                append(hit)
                pos = ve
                continue
        else:
            vtag, vs, ve = ber.read_tlv(buf, pos)
            if vtag != ber.SEQUENCE or ve > stop:
                raise ber.BerError("varbind is not a SEQUENCE")
            otag, os_, oe = ber.read_tlv(buf, vs)
            if otag != ber.OID:
                raise ber.BerError("varbind name is not an OID")
        ttag, tl = buf[oe], buf[oe + 1]
        if tl < 0x80:
            ts, te = oe + 2, oe + 2 + tl
        else:
            ttag, ts, te = ber.read_tlv(buf, oe)
        if te > ve:
            raise ber.BerError("varbind value runs past its varbind")
        if ttag == 0x02:  # INTEGER and OCTET STRING inline: most varbinds are one of them
            val: Value = int.from_bytes(buf[ts:te], "big", signed=True)
        elif ttag == 0x04:
            val = buf[ts:te]
        else:
            val = _value(ttag, buf, ts, te)
        item = (oid_of(buf[os_:oe]), val)
        append(item)
        if raw is not None and ttag not in _VOLATILE:
            if len(seen) >= _VARBINDS_MAX:
                seen.clear()
            seen[raw] = item
        pos = ve
    return out


def decode_pdu(pdu: bytes, version: str) -> Notification:
    """A v2-style notification PDU (SNMPv2-Trap or Inform) or a v1 Trap-PDU."""
    tag, s, e = ber.read_tlv(pdu, 0)
    if tag == TRAP_V1:
        return _v1(pdu, s, e)
    if tag not in (TRAP_V2, INFORM):
        raise ber.BerError(f"PDU 0x{tag:02x} is not a notification")
    if pdu[s + 1] < 0x80 and pdu[s + 3 + pdu[s + 1]] == 1 and pdu[s + 6 + pdu[s + 1]] == 1:
        p = s + 8 + pdu[s + 1]  # short request-id, one-octet error-status and error-index
    else:
        _, _, p = ber.read_tlv(pdu, s)  # request-id
        _, _, p = ber.read_tlv(pdu, p)  # error-status
        _, _, p = ber.read_tlv(pdu, p)  # error-index
    vbs = varbinds(pdu, p, e)
    if len(vbs) < 2 or vbs[1][0] != SNMP_TRAP_OID_0 or not isinstance(vbs[1][1], str):
        raise ber.BerError("notification lacks sysUpTime.0, snmpTrapOID.0")
    uptime = vbs[0][1] if vbs[0][0] == SYS_UPTIME_0 and isinstance(vbs[0][1], int) else None
    return Notification(version, vbs[1][1], vbs[2:], uptime, inform=tag == INFORM)


def _v1(pdu: bytes, s: int, e: int) -> Notification:
    tag, a, b = ber.read_tlv(pdu, s)
    if tag != ber.OID:
        raise ber.BerError("v1 trap enterprise is not an OID")
    enterprise = oid_of(pdu[a:b])
    tag, a, p = ber.read_tlv(pdu, b)
    agent = _value(tag, pdu, a, p)
    _, a, b = ber.read_tlv(pdu, p)
    generic = ber.dec_int(pdu, a, b)
    _, a, p = ber.read_tlv(pdu, b)
    specific = ber.dec_int(pdu, a, p)
    _, a, b = ber.read_tlv(pdu, p)
    uptime = ber.dec_uint(pdu, a, b)
    vbs = varbinds(pdu, b, e)
    if generic == 6:
        trap_oid = f"{enterprise}.0.{specific}"
    elif 0 <= generic < 6:
        trap_oid = f"{SNMP_TRAPS}.{generic + 1}"
    else:
        raise ber.BerError(f"v1 generic-trap {generic} out of range")
    vbs.append((SNMP_TRAP_ENTERPRISE_0, enterprise))
    return Notification("v1", trap_oid, vbs, uptime, agent_addr=agent if isinstance(agent, str) else None)


@dataclass(slots=True)
class CommunityMessage:
    """A v1/v2c message: version, community, and where its PDU lies."""

    version: str
    community: bytes
    pdu_at: int
    pdu: bytes


def split_message(data: bytes) -> CommunityMessage | None:
    """The parts of a v1/v2c message, None for a v3 one; BerError for anything else."""
    tag, s, e = ber.read_tlv(data, 0)
    if tag != ber.SEQUENCE:
        raise ber.BerError("message is not a SEQUENCE")
    tag, a, b = ber.read_tlv(data, s)
    if tag != ber.INTEGER or b - a > 4:
        raise ber.BerError("version is not a small INTEGER")
    version = ber.dec_int(data, a, b)
    if version == 3:
        return None
    if version not in (0, 1):
        raise ber.BerError(f"SNMP version {version} is not v1, v2c or v3")
    tag, a, p = ber.read_tlv(data, b)
    if tag != ber.OCTET_STRING:
        raise ber.BerError("community is not an OCTET STRING")
    return CommunityMessage("v1" if version == 0 else "v2c", data[a:p], p, data[p:e])


def response_pdu(inform_pdu: bytes) -> bytes:
    """The Response an InformRequest asks for: same request-id and varbinds (RFC 3416 4.2.7)."""
    return bytes((ber.RESPONSE,)) + inform_pdu[1:]
