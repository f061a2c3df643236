"""The SNMP responder: one request in, one response out, against a DeviceView.

v1/v2c are handled here directly; v3 messages are unwrapped/wrapped by
:mod:`probes.snmp.usm` around the same PDU handler.  Requests are sliced by hand and
responses glued from pre-encoded varbinds: this is the simulator's hot loop.
"""

from __future__ import annotations

import time

from probes.sim.view import DeviceView
from probes.snmp import ber

MAX_RESPONSE = 60_000  # bytes; GETBULK stops adding repetitions before this
MAX_VARBINDS = 2_000

# v2c error statuses
TOO_BIG, NO_SUCH_NAME, GEN_ERR, NOT_WRITABLE = 1, 2, 5, 17


class Stats:
    def __init__(self) -> None:
        self.requests = 0
        self.varbinds = 0
        self.dropped = 0

    def as_dict(self) -> dict:
        return {"requests": self.requests, "varbinds": self.varbinds, "dropped": self.dropped}


def parse_varbind_oids(buf: bytes, start: int, end: int) -> list[tuple[tuple[int, ...], bytes]]:
    """(oid, raw varbind TLV) for each varbind of a request's list."""
    out = []
    pos = start
    while pos < end:
        tag, vs, ve = ber.read_tlv(buf, pos)
        if tag != ber.SEQUENCE:
            raise ber.BerError("varbind is not a SEQUENCE")
        otag, os_, oe = ber.read_tlv(buf, vs)
        if otag != ber.OID:
            raise ber.BerError("varbind name is not an OID")
        out.append((ber.dec_oid_body(buf[os_:oe]), buf[pos:ve]))
        pos = ve
    return out


def handle_pdu(view: DeviceView, version: int, pdu: bytes, stats: Stats,
               max_size: int = MAX_RESPONSE, now: float | None = None) -> bytes:
    """Answer one PDU (GET, GETNEXT, GETBULK, SET) with a Response PDU TLV (values as of ``now``)."""
    tag, ps, pe = ber.read_tlv(pdu, 0)
    _, rs, re_ = ber.read_tlv(pdu, ps)
    reqid = pdu[ps:re_]
    _, es, ee = ber.read_tlv(pdu, re_)
    a = ber.dec_int(pdu, es, ee)
    _, is_, ie = ber.read_tlv(pdu, ee)
    b = ber.dec_int(pdu, is_, ie)
    vtag, vs, ve = ber.read_tlv(pdu, ie)
    if vtag != ber.SEQUENCE:
        raise ber.BerError("varbind list is not a SEQUENCE")
    reqs = parse_varbind_oids(pdu, vs, ve)
    now = time.time() if now is None else now
    err = idx = 0
    out: list[bytes] = []
    v1 = version == 0
    if tag == ber.GET:
        for n, (oid, _raw) in enumerate(reqs, 1):
            vb = view.get(oid, now)
            if vb is None or (v1 and _is_counter64(vb)):
                if v1:
                    err, idx = NO_SUCH_NAME, n
                    break
                vb = ber.tlv(ber.SEQUENCE, ber.enc_oid(oid) + ber.NO_SUCH_INSTANCE_TLV)
            out.append(vb)
    elif tag == ber.GETNEXT:
        for n, (oid, _raw) in enumerate(reqs, 1):
            nxt = view.next(oid, now)
            while v1 and nxt is not None and _is_counter64(nxt[1]):
                nxt = view.next(nxt[0], now)
            if nxt is None:
                if v1:
                    err, idx = NO_SUCH_NAME, n
                    break
                out.append(ber.tlv(ber.SEQUENCE, ber.enc_oid(oid) + ber.END_OF_MIB_VIEW_TLV))
            else:
                out.append(nxt[1])
    elif tag == ber.GETBULK and not v1:
        non_rep = max(0, min(a, len(reqs)))
        max_rep = max(0, b)
        size = 0
        for oid, _raw in reqs[:non_rep]:
            nxt = view.next(oid, now)
            vb = nxt[1] if nxt else ber.tlv(ber.SEQUENCE, ber.enc_oid(oid) + ber.END_OF_MIB_VIEW_TLV)
            out.append(vb)
            size += len(vb)
        cursors = [oid for oid, _ in reqs[non_rep:]]
        ended = [False] * len(cursors)
        budget = max_size - 64 - len(reqid)
        for _rep in range(max_rep):
            if not cursors or all(ended):
                break
            row: list[bytes] = []
            for k, oid in enumerate(cursors):
                nxt = None if ended[k] else view.next(oid, now)
                if nxt is None:
                    ended[k] = True
                    row.append(ber.tlv(ber.SEQUENCE, ber.enc_oid(oid) + ber.END_OF_MIB_VIEW_TLV))
                else:
                    row.append(nxt[1])
                    cursors[k] = nxt[0]
            row_size = sum(len(x) for x in row)
            if out and (size + row_size > budget or len(out) + len(row) > MAX_VARBINDS):
                break
            out.extend(row)
            size += row_size
    else:  # SET (and anything else): read-only agent
        err, idx = (NO_SUCH_NAME if v1 else NOT_WRITABLE), 1
    if err:
        out = [raw for _, raw in reqs]
    stats.varbinds += len(out)
    body = reqid + ber.enc_int(err) + ber.enc_int(idx) + ber.tlv(ber.SEQUENCE, b"".join(out))
    resp = ber.tlv(ber.RESPONSE, body)
    if len(resp) > max_size and tag != ber.GETBULK:
        body = reqid + ber.enc_int(TOO_BIG) + ber.enc_int(0) + ber.tlv(
            ber.SEQUENCE, b"".join(raw for _, raw in reqs))
        resp = ber.tlv(ber.RESPONSE, body)
    return resp


def _is_counter64(vb: bytes) -> bool:
    _, s, e = ber.read_tlv(vb, 0)
    _, _, oe = ber.read_tlv(vb, s)
    return vb[oe] == ber.COUNTER64


def handle_community(view: DeviceView, communities: set[bytes], data: bytes, stats: Stats,
                     now: float | None = None) -> bytes | None:
    """Answer a v1/v2c message; None (no reply) for a wrong community or garbage."""
    tag, ms, me = ber.read_tlv(data, 0)
    if tag != ber.SEQUENCE:
        return None
    _, vs, ve = ber.read_tlv(data, ms)
    version = ber.dec_int(data, vs, ve)
    ctag, cs, ce = ber.read_tlv(data, ve)
    if ctag != ber.OCTET_STRING or data[cs:ce] not in communities:
        stats.dropped += 1
        return None
    pdu = data[ce:me]
    resp = handle_pdu(view, version, pdu, stats, now=now)
    return ber.tlv(ber.SEQUENCE, data[ms:ce] + resp)
