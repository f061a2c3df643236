"""The trap fast path's memories: varbinds decoded once per encoding and meanings memoised
per profile must give exactly what a fresh decode would, whatever repeats or changes."""

from __future__ import annotations

from probes.events import notification
from probes.events.notification import decode_pdu, split_message
from probes.events.rules import MEMO_MAX, load_rules
from probes.sim.notify import IF_INDEX, IF_NAME, IF_OPER, LINK_DOWN, trap_pdu, v2c_message, varbind
from probes.snmp import ber

GENERIC = load_rules()["generic"]
OSPF_CHANGE = (1, 3, 6, 1, 2, 1, 14, 16, 2, 2)
OSPF_STATE = (1, 3, 6, 1, 2, 1, 14, 10, 1, 6, 10, 0, 0, 2, 0)
OSPF_RTR = (1, 3, 6, 1, 2, 1, 14, 10, 1, 3, 10, 0, 0, 2, 0)


def _note(uptime: int, trap_oid: tuple[int, ...], vbs: list[bytes]):  # noqa: ANN202
    msg = v2c_message("c", trap_pdu(uptime, uptime, trap_oid, vbs))
    return decode_pdu(split_message(msg).pdu, "v2c")


def _link(uptime: int, index: int, oper: int, name: bytes):  # noqa: ANN202
    return _note(uptime, LINK_DOWN, [varbind(IF_INDEX + (index,), ber.enc_int(index)),
                                     varbind(IF_OPER + (index,), ber.enc_int(oper)),
                                     varbind(IF_NAME + (index,), ber.tlv(ber.OCTET_STRING, name))])


def test_repeated_varbinds_decode_as_fresh() -> None:
    a, b = _link(100, 3, 2, b"Gi0/0/3"), _link(200, 3, 2, b"Gi0/0/3")
    assert a.varbinds == b.varbinds and (a.uptime, b.uptime) == (100, 200)  # sysUpTime is never kept
    c = _link(300, 3, 1, b"Gi0/0/3")  # same names, another value: another encoding
    assert c.varbinds[1] == ("1.3.6.1.2.1.2.2.1.8.3", 1)
    notification._VARBINDS.clear()
    assert _link(400, 3, 2, b"Gi0/0/3").varbinds == a.varbinds


def test_varbind_memory_is_bounded() -> None:
    for i in range(notification._VARBINDS_MAX + 10):
        _link(i, i % 1000, 2, b"x%d" % i)
    assert len(notification._VARBINDS) <= notification._VARBINDS_MAX


def test_memoised_meaning_follows_the_varbinds() -> None:
    def ospf(state: int):  # noqa: ANN202
        return _note(1, OSPF_CHANGE, [varbind(OSPF_RTR, ber.tlv(ber.IP_ADDRESS, bytes((2, 2, 2, 2)))),
                                      varbind(OSPF_STATE, ber.enc_int(state))])

    for _ in range(3):  # alternating: each answer comes from the memo after the first round
        assert GENERIC.trap(ospf(8)).kind == "ospf-up"
        assert (GENERIC.trap(ospf(1)).kind, GENERIC.trap(ospf(1)).subject) == ("ospf-down", "2.2.2.2")
    m1, m2 = GENERIC.trap(_link(5, 7, 2, b"Gi0/0/7")), GENERIC.trap(_link(6, 8, 2, b"Gi0/0/8"))
    assert (m1.subject, m2.subject) == ("Gi0/0/7", "Gi0/0/8")
    for i in range(MEMO_MAX + 10):
        GENERIC.trap(_link(i, i, 2, b"p%d" % i))
    assert len(GENERIC._memo) <= MEMO_MAX


def test_new_rows_of_known_columns_decode_as_fresh() -> None:
    """oid_of decodes a new row from its cached column: every arc size, the first arc's forms."""
    for arcs in ((1, 3, 6, 1, 2, 1, 2, 2, 1, 8, 5), (1, 3, 6, 1, 2, 1, 2, 2, 1, 8, 300),
                 (1, 3, 6, 1, 2, 1, 2, 2, 1, 8, 2**32 - 1), (2, 999, 3), (0, 0), (1, 3)):
        body = ber.enc_oid_body(arcs)
        notification._OIDS.clear()
        notification.oid_of(ber.enc_oid_body(arcs[:-1] + (7,)))  # the column is now known
        assert notification.oid_of(body) == ".".join(map(str, arcs))
