"""The snmprec reader against the format quirks real walks have."""

from __future__ import annotations

import pytest

from probes.sim.snmprec import SnmprecError, parse_text
from probes.snmp import ber


def value(walk, oid: str) -> bytes:
    v = walk.get(ber.parse_oid_text(oid))
    assert v is not None, oid
    return v


def test_plain_tags_encode_to_ber():
    w = parse_text(
        "1.3.6.1.2.1.1.1.0|4|Huawei VRP\n"
        "1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.2011.2.23.276\n"
        "1.3.6.1.2.1.1.3.0|67|12345\n"
        "1.3.6.1.2.1.2.2.1.5.1|66|4294967295\n"
        "1.3.6.1.2.1.2.2.1.10.1|65|300\n"
        "1.3.6.1.2.1.31.1.1.1.6.1|70|18446744073709551615\n"
        "1.3.6.1.2.1.4.20.1.1.10.0.0.1|64|10.0.0.1\n"
        "1.3.6.1.2.1.2.2.1.1.1|2|-5\n"
        "1.3.6.1.2.1.99.0|5|\n"
    )
    assert value(w, "1.3.6.1.2.1.1.1.0") == b"\x04\x0aHuawei VRP"
    assert value(w, "1.3.6.1.2.1.1.2.0") == ber.enc_oid((1, 3, 6, 1, 4, 1, 2011, 2, 23, 276))
    assert value(w, "1.3.6.1.2.1.1.3.0") == b"\x43\x02\x30\x39"
    assert value(w, "1.3.6.1.2.1.2.2.1.5.1") == b"\x42\x05\x00\xff\xff\xff\xff"
    assert value(w, "1.3.6.1.2.1.2.2.1.10.1") == b"\x41\x02\x01\x2c"
    assert value(w, "1.3.6.1.2.1.31.1.1.1.6.1") == b"\x46\x09\x00" + b"\xff" * 8
    assert value(w, "1.3.6.1.2.1.4.20.1.1.10.0.0.1") == b"\x40\x04\x0a\x00\x00\x01"
    assert value(w, "1.3.6.1.2.1.2.2.1.1.1") == b"\x02\x01\xfb"
    assert value(w, "1.3.6.1.2.1.99.0") == b"\x05\x00"


def test_hex_and_escaped_values():
    w = parse_text(
        "1.3.6.1.2.1.1.1.0|4x|48334320436f6d77617265\n"
        "1.3.6.1.2.1.1.4.0|4e|a\\x00b\\nc\\\\\n"
        "1.3.6.1.2.1.4.20.1.1.1|64x|0a220001\n"
        "1.3.6.1.2.1.4.20.1.2.1|64e|\\n\\x22\\x00\\x02\n"
    )
    assert value(w, "1.3.6.1.2.1.1.1.0") == b"\x04\x0bH3C Comware"
    assert value(w, "1.3.6.1.2.1.1.4.0") == b"\x04\x06a\x00b\nc\\"
    assert value(w, "1.3.6.1.2.1.4.20.1.1.1") == b"\x40\x04\x0a\x22\x00\x01"
    assert value(w, "1.3.6.1.2.1.4.20.1.2.1") == b"\x40\x04\x0a\x22\x00\x02"


def test_variation_entries_take_the_base_value():
    w = parse_text(
        "1.3.6.1.2.1.1.3.0|67:numeric|rate=100\n"
        "1.3.6.1.4.1.25506.2.6.1.1.1.1.6.30|2:numeric|max=100,wrap=1,scale=0,offset=50,deviation=50\n"
        "1.3.6.1.2.1.2.2.1.10.1|65:numeric|rate=1000,initial=777\n"
        "1.3.6.1.2.1.1.5.0|4:writecache|value=core-sw\n"
    )
    assert value(w, "1.3.6.1.2.1.1.3.0") == b"\x43\x01\x00"
    assert value(w, "1.3.6.1.4.1.25506.2.6.1.1.1.1.6.30") == b"\x02\x01\x32"
    assert value(w, "1.3.6.1.2.1.2.2.1.10.1") == b"\x41\x02\x03\x09"
    assert value(w, "1.3.6.1.2.1.1.5.0") == b"\x04\x07core-sw"


def test_comments_pipes_crlf_duplicates_and_order():
    text = (
        "# a comment line\r\n"
        "1.3.6.1.2.1.1.5.0|4|second\r\n"
        "1.3.6.1.2.1.1.1.0|4|a|b|c\r\n"
        "\r\n"
        "   # indented comment\r\n"
        "1.3.6.1.2.1.1.5.0|4|duplicate ignored\r\n"
        "1.3.6.1.2.1.1.10.0|2|1\r\n"
        "1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.1\r\n"
    )
    w = parse_text(text)
    assert value(w, "1.3.6.1.2.1.1.1.0") == b"\x04\x05a|b|c"
    assert value(w, "1.3.6.1.2.1.1.5.0") == b"\x04\x06second"
    # sorted numerically, not as text: .2.0 < .5.0 < .10.0
    assert [o[-2] for o in w.oids] == [1, 2, 5, 10]


def test_bad_records_are_named_or_skipped():
    bad = "1.3.6.1.2.1.1.1.0|4|ok\n1.3.6.1.2.1.1.2.0|99|what\nnot a record\n"
    with pytest.raises(SnmprecError, match=r"sample:2: 1.3.6.1.2.1.1.2.0: unknown tag '99'"):
        parse_text(bad, source="sample")
    lenient = parse_text(bad, source="sample", strict=False)
    assert len(lenient.oids) == 1
    assert len(lenient.skipped) == 2 and "sample:3" in lenient.skipped[1]


def test_oid_codec_round_trip():
    for oid in ((1, 3, 6, 1, 2, 1, 1, 3, 0), (1, 3, 6, 1, 4, 1, 99934, 2, 2, 1, 4, 4294967295), (2, 999, 1)):
        tag, s, e = ber.read_tlv(ber.enc_oid(oid), 0)
        assert tag == ber.OID and ber.dec_oid_body(ber.enc_oid(oid)[s:e]) == oid
