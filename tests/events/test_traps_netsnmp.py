"""net-snmp's snmptrap and snmpinform against the receiver: each notification arrives once,
mapped to its device with the profile's meaning; informs are acknowledged; bad ones counted."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from probes.common.inventory_model import CredentialRef
from probes.events.service import credentials, parse_listen
from tests.events.conftest import UNKNOWN, V3_ARGS, V3_MORE, Running, inventory

pytestmark = pytest.mark.skipif(not shutil.which("snmptrap") or not shutil.which("snmpinform"),
                                reason="net-snmp's snmptrap/snmpinform not installed (Debian: snmp)")

IF_INDEX_5 = ["1.3.6.1.2.1.2.2.1.1.5", "i", "5"]
IF_NAME_5 = ["1.3.6.1.2.1.31.1.1.1.1.5", "s", "GigabitEthernet0/0/5"]
LINK_DOWN, LINK_UP = "1.3.6.1.6.3.1.1.5.3", "1.3.6.1.6.3.1.1.5.4"


def run(tool: str, args: list[str], port: int, src: str = "127.0.0.1", timeout_s: int = 2
        ) -> subprocess.CompletedProcess:
    """``tool`` with ``args`` (options, "--", then the trap's arguments) sent from ``src``."""
    head, tail = args[: args.index("--")], args[args.index("--") + 1:]
    cmd = [tool, f"--clientaddr={src}", "-t", str(timeout_s), "-r", "0", *head, f"127.0.0.1:{port}", *tail]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30)


def test_v1_v2c_trap_v2c_inform_and_v3_inform_arrive_once_with_meaning(service: Running) -> None:
    p = service.trap_port
    # v1 linkDown (generic 2) from the Huawei router: translated to IF-MIB linkDown
    r = run("snmptrap", ["-v1", "-c", "s3cret-trap", "--", "1.3.6.1.4.1.2011", "127.0.0.1", "2", "0", "",
                         *IF_INDEX_5], p, src="127.0.0.1")
    assert r.returncode == 0, r.stderr
    # v2c linkDown from the H3C switch, with ifName
    r = run("snmptrap", ["-v2c", "-c", "s3cret-trap", "--", "", LINK_DOWN, *IF_INDEX_5, *IF_NAME_5], p,
            src="127.0.0.2")
    assert r.returncode == 0, r.stderr
    # v2c inform linkUp from the Cisco (profile auto): acknowledged, so snmpinform exits 0
    r = run("snmpinform", ["-v2c", "-c", "s3cret-trap", "--", "", LINK_UP, *IF_INDEX_5, *IF_NAME_5], p,
            src="127.0.0.4")
    assert r.returncode == 0, r.stderr
    # v3 authPriv SHA-256/AES inform: engine-ID discovery, then the acknowledged inform
    r = run("snmpinform", [*V3_ARGS, "--", "", "1.3.6.1.4.1.99934.3.0.1",
                           "1.3.6.1.4.1.99934.2.2.1.3.2", "s", "hf-cipher9"], p, src="127.0.0.3")
    assert r.returncode == 0, r.stderr
    # v3 authPriv trap: the sender is authoritative (its own engine ID)
    r = run("snmptrap", [*V3_ARGS, "-e", "0x80001f8804746573742d6a6e70", "--", "", "1.3.6.1.4.1.2636.4.1.2",
                         "1.3.6.1.4.1.2636.3.1.8.1.6.4.1.1.0", "s", "Fan Tray 1"], p, src="127.0.0.5")
    assert r.returncode == 0, r.stderr

    evs = service.wait(lambda e: len(e) >= 5)
    service.settle()
    got = sorted((e.device, e.kind, e.subject, e.origin) for e in service.events)
    assert got == sorted([
        ("hf-rtr1", "link-down", "ifIndex 5", "trap"),
        ("hf-sw1", "link-down", "GigabitEthernet0/0/5", "trap"),
        ("hf-cisco1", "link-up", "GigabitEthernet0/0/5", "trap"),
        ("hf-cipher1", "tunnel-down", "hf-cipher9", "trap"),
        ("hf-jnp1", "fan-fault", "Fan Tray 1", "trap"),
    ]), evs
    by_kind = {e.kind: e for e in service.events}
    assert by_kind["link-up"].clears == "link-down"
    assert by_kind["tunnel-down"].severity == "critical"
    assert all(e.raw for e in service.events)
    stats = service.svc.traps.stats
    assert stats["notifications"] == 5 and stats["discovery"] >= 1


def test_wrong_community_wrong_key_unknown_user_are_counted_not_delivered(
        service: Running, caplog: pytest.LogCaptureFixture) -> None:
    p = service.trap_port
    r = run("snmptrap", ["-v2c", "-c", "wrong", "--", "", LINK_DOWN, *IF_INDEX_5], p)
    assert r.returncode == 0
    bad_key = [a if a != "trap-auth-key-1" else "not-the-key-1" for a in V3_ARGS]
    r = run("snmpinform", [*bad_key, "--", "", LINK_DOWN], p, timeout_s=1)
    assert r.returncode != 0  # never acknowledged
    bad_user = [a if a != "trapper" else "stranger" for a in V3_ARGS]
    r = run("snmpinform", [*bad_user, "--", "", LINK_DOWN], p, timeout_s=1)
    assert r.returncode != 0
    r = run("snmptrap", [*bad_key, "-e", "0x80001f8804746573742d6a6e70", "--", "", LINK_DOWN], p)
    assert r.returncode == 0
    service.settle(0.5)
    stats = service.svc.traps.stats
    assert stats["bad_community"] == 1
    assert stats["wrong_digest"] >= 2  # the inform (answered with a Report) and the trap
    assert stats["unknown_user"] >= 1
    assert stats["notifications"] == 0 and service.events == []
    service.svc.log_refusals()
    logged = " ".join(r.getMessage() for r in caplog.records if "refused" in r.getMessage())
    assert "bad_community" in logged and "wrong_digest" in logged and "unknown_user" in logged


def test_unknown_source_is_kept_and_rate_limited(service: Running) -> None:
    for _ in range(8):
        r = run("snmptrap", ["-v2c", "-c", "s3cret-trap", "--", "", LINK_DOWN, *IF_INDEX_5],
                service.trap_port,
                src=UNKNOWN)
        assert r.returncode == 0, r.stderr
    service.settle(0.2)
    evs = service.wait(lambda e: any(x.count > 1 for x in e), timeout=3)  # the flusher's summary
    singles = [e for e in evs if e.kind == "unknown-source" and e.count == 1]
    summary = [e for e in evs if e.kind == "unknown-source" and e.count > 1]
    assert len(singles) == 5  # the burst allowance, then counted
    assert all(e.device is None and e.source == UNKNOWN for e in singles)
    assert sum(e.count for e in summary) == 3


@pytest.mark.parametrize(("user", "auth", "priv"), V3_MORE)
def test_v3_inform_and_trap_with_other_protocols(service: Running, user: str, auth: str, priv: str) -> None:
    args = ["-v3", "-l", "authPriv", "-u", user, "-a", auth, "-A", f"{user}-auth-key", "-x", priv,
            "-X", f"{user}-priv-key"]
    r = run("snmpinform", [*args, "--", "", LINK_UP, *IF_NAME_5], service.trap_port, src="127.0.0.2")
    assert r.returncode == 0, r.stderr
    r = run("snmptrap", [*args, "-e", "0x80001f880401020304", "--", "", LINK_DOWN, *IF_NAME_5],
            service.trap_port, src="127.0.0.2")
    assert r.returncode == 0, r.stderr
    evs = service.wait(lambda e: len(e) >= 2)
    assert sorted((e.device, e.kind, e.subject) for e in service.settle()) == [
        ("hf-sw1", "link-down", "GigabitEthernet0/0/5"), ("hf-sw1", "link-up", "GigabitEthernet0/0/5")], evs


def test_credentials_and_listen_addresses_from_the_inventory(monkeypatch: pytest.MonkeyPatch) -> None:
    inv = inventory()
    inv.credentials["v2"] = CredentialRef(name="v2", version="v2c", community_env="EV_COMMUNITY")
    monkeypatch.setenv("EV_COMMUNITY", "from-env")
    assert [c.community for c in credentials(inv)] == ["from-env"]
    assert parse_listen("127.0.0.1:10162") == ("127.0.0.1", 10162)
    assert parse_listen("[::1]:10514") == ("::1", 10514)
    with pytest.raises(ValueError, match="expected host:port"):
        parse_listen("127.0.0.1")
