"""Fuzzed and truncated PDUs, garbage streams and floods: counted, nothing raises, and the
other devices' events still arrive."""

from __future__ import annotations

import socket
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from probes.events.flood import FloodGate
from probes.events.model import Event
from probes.events.notification import INFORM, TRAP_V1, TRAP_V2
from probes.events.pipeline import EventPipeline
from probes.events.rules import load_rules
from probes.events.service import EventService
from probes.events.sources import SourceMap
from probes.events.syslog import Framer, SyslogReceiver, parse
from probes.events.traps import TrapReceiver, next_boots
from probes.snmp import ber
from probes.snmp.usm import FLAG_AUTH, FLAG_PRIV, UsmEngine, UsmUser
from tests.events.conftest import V3, Running, inventory

S = ber.SEQUENCE


def _vb(oid: str, value: bytes) -> bytes:
    return ber.tlv(S, ber.enc_oid(ber.parse_oid_text(oid)) + value)


def _v2_pdu(tag: int = TRAP_V2, reqid: int = 7) -> bytes:
    vbs = (_vb("1.3.6.1.2.1.1.3.0", ber.enc_int(123, ber.TIMETICKS))
           + _vb("1.3.6.1.6.3.1.1.4.1.0", ber.enc_oid(ber.parse_oid_text("1.3.6.1.6.3.1.1.5.3")))
           + _vb("1.3.6.1.2.1.2.2.1.1.5", ber.enc_int(5))
           + _vb("1.3.6.1.2.1.31.1.1.1.1.5", ber.tlv(ber.OCTET_STRING, b"Gi0/5")))
    return ber.tlv(tag, ber.enc_int(reqid) + ber.enc_int(0) + ber.enc_int(0) + ber.tlv(S, vbs))


def v2c(community: bytes = b"s3cret-trap", tag: int = TRAP_V2) -> bytes:
    return ber.tlv(S, ber.enc_int(1) + ber.tlv(ber.OCTET_STRING, community) + _v2_pdu(tag))


def v1() -> bytes:
    pdu = ber.tlv(TRAP_V1, ber.enc_oid((1, 3, 6, 1, 4, 1, 2011))
                  + ber.tlv(ber.IP_ADDRESS, bytes([127, 0, 0, 1])) + ber.enc_int(2)
                  + ber.enc_int(0) + ber.enc_int(55, ber.TIMETICKS)
                  + ber.tlv(S, _vb("1.3.6.1.2.1.2.2.1.1.5", ber.enc_int(5))))
    return ber.tlv(S, ber.enc_int(0) + ber.tlv(ber.OCTET_STRING, b"s3cret-trap") + pdu)


def v3(receiver: TrapReceiver, tag: int = INFORM) -> bytes:
    """An authPriv message to the receiver's own engine, as a sender that discovered it would."""
    eng = UsmEngine(receiver.engine_id, lambda: receiver.boots, receiver._uptime,
                    [UsmUser.create(V3, receiver.engine_id)])
    user = eng.users[b"trapper"]
    return eng._wrap(99, user, FLAG_AUTH | FLAG_PRIV | 4, b"trapper", (receiver.engine_id, b""), _v2_pdu(tag))


def _receiver(got: list) -> TrapReceiver:
    return TrapReceiver(lambda n, s, r: got.append(n), communities=["s3cret-trap"], users=[V3])


def test_valid_packets_decode_and_informs_are_answered() -> None:
    got: list = []
    r = _receiver(got)
    assert r.receive(v2c(), "127.0.0.1") is None
    assert r.receive(v1(), "127.0.0.1") is None
    reply = r.receive(v2c(tag=INFORM), "127.0.0.1")
    assert reply is not None and reply == v2c(tag=ber.RESPONSE)
    reply3 = r.receive(v3(r), "127.0.0.1")
    assert reply3 is not None
    assert [n.trap_oid for n in got] == ["1.3.6.1.6.3.1.1.5.3"] * 4
    assert [n.version for n in got] == ["v2c", "v1", "v2c", "v3"] and got[3].inform


def test_a_retransmitted_inform_is_answered_again_but_delivered_once() -> None:
    got: list = []
    r = _receiver(got)
    for _ in range(3):  # the sender did not get our Response and sends the same inform again
        assert r.receive(v2c(tag=INFORM), "127.0.0.1") == v2c(tag=ber.RESPONSE)
    msg = v3(r)
    assert r.receive(msg, "127.0.0.1") is not None and r.receive(msg, "127.0.0.1") is not None
    assert len(got) == 2 and r.stats["inform_repeat"] == 3
    assert r.receive(v2c(tag=INFORM), "127.0.0.2") is not None  # another sender: its own inform
    assert len(got) == 3


def test_engine_boots_grow_across_starts(tmp_path) -> None:  # noqa: ANN001
    svc = [EventService(inventory(), lambda e: None, [V3], state_dir=tmp_path) for _ in range(3)]
    assert [s.traps.boots for s in svc] == [1, 2, 3]
    assert (tmp_path / "engine-boots").read_text() == "3\n"
    got: list = []
    r = TrapReceiver(lambda n, s, raw: got.append(n), users=[V3], boots=7)
    assert r.receive(v3(r), "127.0.0.1") is not None and len(got) == 1
    (tmp_path / "engine-boots").write_text("garbage")
    with pytest.raises(ValueError, match="engine-boots: not an engine boots counter"):
        next_boots(tmp_path / "engine-boots")


_GOT: list = []
_FUZZ = _receiver(_GOT)
_SEEDS = [v2c(), v1(), v2c(tag=INFORM), v3(_FUZZ), v3(_FUZZ, TRAP_V2)]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(_SEEDS), cut=st.integers(0, 400), flips=st.lists(
    st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=4))
def test_truncated_and_mutated_pdus_never_raise(seed: bytes, cut: int, flips: list) -> None:
    data = bytearray(seed[:cut] if cut < len(seed) else seed)
    for pos, val in flips:
        if data:
            data[pos % len(data)] = val
    before = sum(_FUZZ.stats.values())
    _FUZZ.receive(bytes(data), "127.0.0.1")  # must not raise
    assert sum(_FUZZ.stats.values()) > before  # and is counted somewhere


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_raise(data: bytes) -> None:
    r = _receiver([])
    r.receive(data, "127.0.0.1")
    assert r.stats["packets"] == 1
    try:
        parse(data)
    except ValueError:
        pass
    rx = SyslogReceiver(lambda m, s: None)
    f = Framer(rx, "127.0.0.1")
    f.feed(data)
    f.feed(data[::-1])
    f.close()


def test_truncated_packets_are_counted_as_undecodable() -> None:
    got: list = []
    r = _receiver(got)
    for seed in (v2c(), v1()):
        for cut in range(len(seed)):
            r.receive(seed[:cut], "127.0.0.1")
    assert got == [] and r.stats["bad_ber"] >= len(v2c()) + len(v1()) - 4


def test_flood_from_one_device_is_counted_and_starves_no_other() -> None:
    now = [1000.0]
    events: list[Event] = []
    pipe = EventPipeline(SourceMap(inventory(), load_rules()), events.append, clock=lambda: now[0],
                         known=FloodGate(rate=200, burst=1000, clock=lambda: now[0]))
    rx = SyslogReceiver(pipe.on_syslog, admit=pipe.admit)
    line = b"<13>Dec  6 10:00:00 r %%01IFNET/4/IF_STATE(l)[7]:Interface Gi0/0/1 has turned into DOWN state."
    started = time.process_time()
    for i in range(10_000):  # one second of a 10,000 lines/s flood
        now[0] += 0.0001
        rx.receive(line, "127.0.0.1")
        if i % 1000 == 0:
            rx.receive(b"<13>%LINK-3-UPDOWN: Interface Gi0/1, changed state to down", "127.0.0.4")
    cpu = time.process_time() - started
    flood = [e for e in events if e.device == "hf-rtr1"]
    assert 1000 <= len(flood) <= 1000 + 200 + 1  # the burst plus one second's allowance
    assert [e.kind for e in events if e.device == "hf-cisco1"] == ["link-down"] * 10
    assert pipe.flush() == 1
    summary = events[-1]
    assert (summary.kind, summary.device, summary.count) == ("flood", "hf-rtr1", 10_000 - len(flood))
    assert rx.stats["held"] == summary.count
    assert cpu < 5.0  # generous: held lines cost a lookup, not a parse


def test_udp_flood_through_sockets_leaves_other_devices_intact(service: Running) -> None:
    line = b"<13>Dec  6 10:00:00 r %%01IFNET/4/IF_STATE(l)[7]:Interface Gi0/0/1 has turned into DOWN state."
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        for _ in range(10_000):
            s.sendto(line, ("127.0.0.1", service.syslog_port))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.2", 0))
        s.sendto(b"<13>%%10IFNET/3/PHY_UPDOWN: Physical state on the interface Gi1/0/9 changed to down.",
                 ("127.0.0.1", service.syslog_port))
    service.wait(lambda e: any(x.device == "hf-sw1" for x in e) and any(x.kind == "flood" for x in e))
    evs = service.settle(1.2)  # the last datagrams processed and flushed
    assert [e.subject for e in evs if e.device == "hf-sw1"] == ["Gi1/0/9"]
    delivered = sum(1 for e in evs if e.device == "hf-rtr1" and e.kind == "link-down")
    held = sum(e.count for e in evs if e.kind == "flood")
    stats = service.svc.syslog.stats
    assert delivered <= 1000 + 200 * 10 and held == stats["held"] > 0
    assert delivered + held + 1 == stats["messages"]  # every datagram that arrived is accounted for



_MSG = st.binary(min_size=1, max_size=200).map(lambda b: b"<13>" + b.replace(b"\n", b" ").strip(b"\r\x00 ")
                                                + b"x")


@settings(max_examples=200, deadline=None)
@given(msgs=st.lists(st.tuples(_MSG, st.booleans()), min_size=1, max_size=20),
       cuts=st.lists(st.integers(1, 50), max_size=30))
def test_tcp_framing_is_independent_of_segment_boundaries(msgs: list, cuts: list) -> None:
    """Octet-counted and newline-framed messages, mixed, split anywhere: each comes out once."""
    stream = b"".join(b"%d %s" % (len(m), m) if counted else m + b"\n" for m, counted in msgs)
    got: list[bytes] = []
    rx = SyslogReceiver(lambda m, s: got.append(m.raw))
    f = Framer(rx, "127.0.0.1")
    pos = 0
    for c in cuts:
        f.feed(stream[pos:pos + c])
        pos += c
    f.feed(stream[pos:])
    f.close()
    assert got == [m for m, _ in msgs]
    assert rx.stats["bad_frame"] == 0
