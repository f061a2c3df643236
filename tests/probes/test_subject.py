"""Subject ids: one grammar, and the text of every subject parses back to the same subject."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from probes.common.subject import KINDS, Subject, device_of, interface, site_network, tunnel

# the inventory's device name rule (probes/common/inventory.py _DEVICE_NAME)
names = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,30}\Z")
# interface names and tunnel peers: anything, ":" "/" ">" included (Serial1/0:0, fe80::1)
parts = st.text(alphabet=st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40)
REAL = ["GigabitEthernet0/0/1", "Serial1/0:0", "Ethernet1/0/1:2", "a>b", "fe80::1", "10.0.0.1"]
parts |= st.sampled_from(REAL)
networks = st.sampled_from(["internal", "external"]) | st.from_regex(r"\A[a-z][a-z0-9:>-]{0,12}\Z")

subjects = st.one_of(
    st.builds(Subject, st.sampled_from(["device", "link", "site", "agent"]), names),
    st.builds(Subject, st.just("interface"), names, parts),
    st.builds(Subject, st.just("tunnel"), names, parts),
    st.builds(Subject, st.just("site_network"), names, networks),
)


@given(subjects)
def test_text_parses_back_to_the_same_subject(s: Subject):
    assert Subject.parse(s.kind, str(s)) == s
    assert Subject.parse_ref(s.ref) == s
    assert device_of(s.kind, str(s)) == s.device


def test_every_kind_is_generated():
    assert {"device", "link", "site", "agent", "interface", "tunnel", "site_network"} == set(KINDS)


@pytest.mark.parametrize(
    ("kind", "text", "name", "part"),
    [
        ("interface", "hefei-int-rtr1:GigabitEthernet0/0/1", "hefei-int-rtr1", "GigabitEthernet0/0/1"),
        # a ":" inside the interface name stays in the interface (split at the first ":")
        ("interface", "bengbu-int-rtr1:Serial1/0:0", "bengbu-int-rtr1", "Serial1/0:0"),
        ("tunnel", "anhui-int-cipher1>hefei-int-cipher1", "anhui-int-cipher1", "hefei-int-cipher1"),
        ("tunnel", "hefei-int-cipher1>fe80::1", "hefei-int-cipher1", "fe80::1"),
        ("site_network", "hefei-feidong/internal", "hefei-feidong", "internal"),
        ("link", "sdh-hefei", "sdh-hefei", None),
        ("agent", "chaohu", "chaohu", None),
    ],
)
def test_the_stored_forms(kind, text, name, part):
    s = Subject.parse(kind, text)
    assert (s.name, s.part, str(s)) == (name, part, text)


def test_builders_write_what_parse_reads():
    assert interface("r1", "Serial1/0:0") == str(Subject("interface", "r1", "Serial1/0:0"))
    assert tunnel("c1", "10.0.0.1") == str(Subject("tunnel", "c1", "10.0.0.1"))
    assert site_network("hefei", "external") == str(Subject("site_network", "hefei", "external"))


def test_device_of_each_kind():
    assert Subject.parse("interface", "r1:GE0/0/1").device == "r1"
    assert Subject.parse("tunnel", "c1>c2").device == "c1"
    assert Subject("device", "r1").device == "r1"
    assert Subject("link", "sdh-hefei").device is None
    assert Subject.parse("site_network", "hefei/internal").device is None


@pytest.mark.parametrize(
    ("kind", "text", "says"),
    [
        ("interface", "hefei-int-rtr1", "expected <device>:<interface>"),
        ("interface", "hefei-int-rtr1:", "empty interface"),
        ("tunnel", "c1", "expected <device>><peer>"),
        ("site_network", "hefei", "expected <site>/<network>"),
        ("router", "r1", "subject kind 'router'"),
        ("device", "", "empty name"),
    ],
)
def test_bad_text_is_refused_naming_what_is_wrong(kind, text, says):
    with pytest.raises(ValueError, match=says):
        Subject.parse(kind, text)


def test_a_name_holding_the_separator_is_refused():
    with pytest.raises(ValueError, match="inside the name"):
        Subject("interface", "r1:x", "GE0")
    with pytest.raises(ValueError, match="has no part"):
        Subject("device", "r1", "GE0")
    with pytest.raises(ValueError, match="expected kind:id"):
        Subject.parse_ref("hefei-int-rtr1")
