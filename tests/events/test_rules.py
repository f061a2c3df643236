"""The profiles' traps:/syslog: blocks: every file loads, vendor lines get their meaning,
and a wrong block is refused with file:line: field: problem."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from probes.events.notification import Notification
from probes.events.rules import PROFILE_DIR, RulesError, load_rules, merged, validate_file
from probes.profile import load_profiles

RULES = load_rules()
ALL = merged(RULES)

# (profile, line as the device sends it after the syslog header, kind, subject)
LINES = [
    ("huawei-vrp", "%%01IFNET/4/IF_STATE(l)[7]:Interface GigabitEthernet0/0/1 has turned into DOWN state.",
     "link-down", "GigabitEthernet0/0/1"),
    ("huawei-vrp", "%%01IFNET/2/linkDown_clear(l):CID=0x80fa0001;The interface status changes. "
     "(ifName=GigabitEthernet0/0/3, AdminStatus=UP, OperStatus=UP)", "link-up", "GigabitEthernet0/0/3"),
    ("huawei-vrp", "%%01PHY/1/PHY(l)[0]:    GigabitEthernet0/0/2: change status to down", "link-down",
     "GigabitEthernet0/0/2"),
    ("huawei-usg", "%%01BGP/3/STATE_CHG_UPDOWN(l):The status of the peer 10.1.1.2 changed from ESTABLISHED "
     "to IDLE. (InstanceName=Public)", "bgp-down", "10.1.1.2"),
    ("huawei-usg", "%%01OSPF/3/NBR_CHG_DOWN(l): Neighbor event:neighbor state changed to Down. (ProcessId=1, "
     "NeighborAddress=10.0.0.2, NeighborEvent=KillNbr)", "ospf-down", "10.0.0.2"),
    ("h3c-comware", "%%10IFNET/3/PHY_UPDOWN: Physical state on the interface GigabitEthernet1/0/1 changed to "
     "down.", "link-down", "GigabitEthernet1/0/1"),
    ("h3c-comware", "%%10OSPF/5/OSPF_NBR_CHG: OSPF 1 Neighbor 192.168.1.2(Vlan-interface100) changed from "
     "FULL to DOWN.", "ospf-down", "192.168.1.2"),
    ("h3c-comware", "%%10DEV/2/POWER_FAILED: Power 2 failed.", "power-fault", "2"),
    ("cisco-ios", "%LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to down", "link-down",
     "GigabitEthernet0/1"),
    ("cisco-ios", "%LINK-5-UPDOWN: Interface Serial0/0, changed state to administratively down", "link-down",
     "Serial0/0"),
    ("cisco-ios", "%BGP-5-ADJCHANGE: neighbor 10.2.2.2 Up", "bgp-up", "10.2.2.2"),
    ("cisco-ios", "%SYS-5-CONFIG_I: Configured from console by admin on vty0 (10.0.0.1)",
     "config-changed", ""),
    ("juniper", "mib2d[1234]: SNMP_TRAP_LINK_DOWN: ifIndex 526, ifAdminStatus up(1), ifOperStatus down(2), "
     "ifName ge-0/0/1", "link-down", "ge-0/0/1"),
    ("juniper", "rpd[99]: RPD_BGP_NEIGHBOR_STATE_CHANGED: BGP peer 10.3.3.3 (External AS 65001) "
     "changed state from Established to Idle (event RecvNotify)", "bgp-down", "10.3.3.3"),
    ("hillstone", '2026-12-06 01:51:21, WARNING@LOGIN: Admin user "hillstone" login failed through SSH',
     "login-failed", "hillstone"),
]


@pytest.mark.parametrize(("profile", "line", "kind", "subject"), LINES)
def test_vendor_syslog_lines(profile: str, line: str, kind: str, subject: str) -> None:
    for rules in (RULES[profile], ALL):  # the device's own profile, and profile "auto"
        m = rules.syslog_line(line)
        assert m is not None and (m.kind, m.subject) == (kind, subject), line


def test_other_vendors_patterns_do_not_claim_a_line() -> None:
    assert RULES["cisco-ios"].syslog_line(LINES[0][1]) is None
    assert ALL.syslog_line("%%01SHELL/5/CMDRECORD(s)[9]:Recorded command information.") is None


def _note(oid: str, *vbs: tuple[str, object]) -> Notification:
    return Notification("v2c", oid, list(vbs))


def test_standard_and_vendor_traps() -> None:
    g = RULES["generic"]
    m = g.trap(_note("1.3.6.1.6.3.1.1.5.3", ("1.3.6.1.2.1.2.2.1.1.7", 7), ("1.3.6.1.2.1.2.2.1.2.7", b"eth7")))
    assert (m.kind, m.subject, m.severity) == ("link-down", "eth7", "major")
    gbk = g.trap(_note("1.3.6.1.6.3.1.1.5.3", ("1.3.6.1.2.1.2.2.1.2.8", "上联口".encode("gbk")),
                       ("1.3.6.1.2.1.2.2.1.6.8", bytes.fromhex("00e0fc123456"))))
    assert gbk.subject == "上联口" and "00:e0:fc:12:34:56" in gbk.text  # GBK decoded, a MAC in hex
    full = _note("1.3.6.1.2.1.14.16.2.2", ("1.3.6.1.2.1.14.10.1.3.10.0.0.2.0", "2.2.2.2"),
                 ("1.3.6.1.2.1.14.10.1.6.10.0.0.2.0", 8))
    down = _note("1.3.6.1.2.1.14.16.2.2", ("1.3.6.1.2.1.14.10.1.3.10.0.0.2.0", "2.2.2.2"),
                 ("1.3.6.1.2.1.14.10.1.6.10.0.0.2.0", 1))
    assert (g.trap(full).kind, g.trap(full).clears) == ("ospf-up", "ospf-down")
    assert (g.trap(down).kind, g.trap(down).subject) == ("ospf-down", "2.2.2.2")
    bgp = _note("1.3.6.1.2.1.15.0.2", ("1.3.6.1.2.1.15.3.1.14.10.9.9.9", b"\x06\x02"),
                ("1.3.6.1.2.1.15.3.1.2.10.9.9.9", 1))
    assert (g.trap(bgp).kind, g.trap(bgp).subject) == ("bgp-down", "10.9.9.9")
    assert g.trap(_note("1.3.6.1.6.3.1.1.5.5")).kind == "auth-failure"
    ent = _note("1.3.6.1.2.1.131.0.1", ("1.3.6.1.2.1.131.1.1.1.2.17", 4))
    assert (g.trap(ent).kind, g.trap(ent).subject) == ("entity-fault", "entity 17")
    # vendors inherit generic's and add theirs; generic does not know theirs
    hw = _note("1.3.6.1.4.1.2011.5.25.219.2.5.5", ("1.3.6.1.2.1.47.1.1.1.1.7.9", b"PWR2"))
    assert RULES["huawei-usg"].trap(hw).kind == "power-fault" and g.trap(hw) is None
    assert RULES["huawei-usg"].trap(_note("1.3.6.1.6.3.1.1.5.1")).kind == "cold-start"
    # HUAWEI-ENTITY-TRAP-MIB fan group: .3 hwFanFail, .4 hwFanFailResume, .5 hwFanInvalid
    fan = [_note(f"1.3.6.1.4.1.2011.5.25.219.2.6.{n}", ("1.3.6.1.2.1.47.1.1.1.1.7.31", b"FAN1"))
           for n in (3, 4, 5)]
    assert [(RULES["huawei-vrp"].trap(x).kind, RULES["huawei-vrp"].trap(x).subject) for x in fan] == [
        ("fan-fault", "FAN1"), ("fan-ok", "FAN1"), ("fan-fault", "FAN1")]
    assert RULES["huawei-vrp"].trap(fan[1]).clears == "fan-fault"
    tun = _note("1.3.6.1.4.1.99934.3.0.2", ("1.3.6.1.4.1.99934.2.2.1.2.3", "10.8.0.3"))
    assert (RULES["cipher-gateway"].trap(tun).kind, RULES["cipher-gateway"].trap(tun).subject) == (
        "tunnel-up", "10.8.0.3")


def test_blocks_do_not_disturb_the_poller_profiles() -> None:
    assert "traps" in load_profiles()["huawei-vrp"].data  # extra blocks are carried, not refused


def _copy(tmp_path: Path, extra: str) -> Path:
    """generic and huawei-vrp copied to ``tmp_path``, ``extra`` appended to huawei-vrp."""
    for name in ("generic.yaml", "huawei-vrp.yaml"):
        shutil.copy(PROFILE_DIR / name, tmp_path / name)
    path = tmp_path / "huawei-vrp.yaml"
    path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return path


def test_errors_name_file_line_field(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("name: x\ntraps:\n  1.3.6.1.4.1.9.0.1:\n    kind: Bad Kind\n    severity: fatal\n"
                    "syslog:\n  r1:\n    match: '(unclosed'\n    kind: k\n", encoding="utf-8")
    with pytest.raises(RulesError) as exc:
        validate_file(path)
    msg = str(exc.value)
    assert "x.yaml:4: traps.1.3.6.1.4.1.9.0.1.kind:" in msg
    assert "x.yaml:5: traps.1.3.6.1.4.1.9.0.1.severity:" in msg
    assert "x.yaml:8: syslog.r1.match: Value error, not a regular expression" in msg


def test_load_rules_reports_bad_files_and_null_deletes_inherited(tmp_path: Path) -> None:
    path = _copy(tmp_path, "")
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("syslog:\n", "syslog:\n  bogus: {kind: x}\n", 1), encoding="utf-8")
    with pytest.raises(RulesError, match=r"huawei-vrp.yaml:\d+: syslog.bogus.match: Field required"):
        load_rules(tmp_path)
    path.write_text(text, encoding="utf-8")
    (tmp_path / "quiet.yaml").write_text(
        "name: quiet\nextends: generic\ntraps:\n  1.3.6.1.6.3.1.1.5.5: null\n", encoding="utf-8")
    rules = load_rules(tmp_path)
    auth = _note("1.3.6.1.6.3.1.1.5.5")
    assert rules["quiet"].trap(auth) is None and rules["generic"].trap(auth).kind == "auth-failure"


def test_hostile_long_lines_are_matched_in_bounded_time() -> None:
    """A 1 MiB line repeating any pattern's own text (near-misses) must not make it backtrack."""
    import time

    pieces = {lit for _, _, lit in ALL.syslog if lit} | {"x@a: interface y ", "peer 10.0.0.1 "}
    for piece in sorted(pieces):
        line = (piece + " ") * (2**20 // (len(piece) + 1))
        t0 = time.process_time()
        ALL.syslog_line(line)
        assert time.process_time() - t0 < 0.5, piece
