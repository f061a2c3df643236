"""The poller against real agents on loopback: net-snmp snmpd (v2c, every v3 mode, wrong keys,
SONET and cipher-tunnel rows via pass_persist), a junk-answering UDP server, nothing at all."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
import subprocess
import sys

import pytest

from probes.poller import Poller
from probes.snmp import Credential, Target
from tests.probes.helpers import AUTH_KEY, PRIV_KEY, REPO, V3_USERS, Snmpd, free_udp_port, start_junk_server

pytestmark = pytest.mark.skipif(not shutil.which("/usr/sbin/snmpd"), reason="net-snmp snmpd not installed")

SONET = "1.3.6.1.2.1.10.39"
CIPHER = "1.3.6.1.4.1.99934"
HUAWEI = "1.3.6.1.4.1.2011"


@pytest.fixture(scope="module")
def snmpd(tmp_path_factory):
    agent = Snmpd(tmp_path_factory.mktemp("snmpd"), [SONET, CIPHER, HUAWEI])
    yield agent
    agent.close()


IMPL = {"name": "gufo"}


@pytest.fixture(autouse=True, params=["gufo", "pysnmp"])
def impl(request):
    """Both SNMP implementations pass the same tests."""
    IMPL["name"] = request.param
    yield request.param
    IMPL["name"] = "gufo"


def poll(target, profile="auto", peers=(), poller=None):
    return asyncio.run((poller or Poller(impl=IMPL["name"])).poll(target, profile, peers))


def v3(user, auth_key=AUTH_KEY, priv_key=PRIV_KEY):
    auth, priv, ext = V3_USERS[user]
    return Credential(
        version="3",
        user=user,
        auth_proto=auth,
        auth_key=auth_key if auth else None,
        priv_proto=priv,
        priv_key=priv_key if priv else None,
        key_extension=ext,
    )


def test_v2c_poll_of_net_snmp(snmpd):
    r = poll(Target("127.0.0.1", snmpd.port, Credential(community="public"), timeout=1))
    assert r["ok"], r["error"]
    assert r["profile"] == "netsnmp-linux"
    lo = [i for i in r["interfaces"] if i["name"] == "lo"]
    assert lo and lo[0]["oper"] == "up" and lo[0]["hc"] is True
    assert r["identity"]["sysObjectID"].startswith("1.3.6.1.4.1.8072")
    assert r["identity"]["uptime_s"] > 0


@pytest.mark.parametrize("user", sorted(V3_USERS))
def test_v3_every_security_level_and_protocol(snmpd, user):
    r = poll(Target("127.0.0.1", snmpd.port, v3(user), timeout=1, retries=0))
    assert r["ok"], f"{user}: {r['error']}"
    assert any(i["name"] == "lo" for i in r["interfaces"])


def test_v3_wrong_auth_key_says_authentication_failed(snmpd):
    r = poll(Target("127.0.0.1", snmpd.port, v3("usha256aes", auth_key="not-the-key"), timeout=1, retries=0))
    assert not r["ok"]
    assert r["error"].startswith("auth") and "authentication failed" in r["error"]
    assert r["interfaces"] == [] and r["identity"] == {}


def test_v3_wrong_priv_key_says_authentication_failed(snmpd):
    r = poll(Target("127.0.0.1", snmpd.port, v3("usha256aes", priv_key="not-the-key"), timeout=1, retries=0))
    assert not r["ok"] and "authentication failed" in r["error"]


def test_v3_wrong_key_extension_fails_cleanly(snmpd):
    cred = dataclasses.replace(v3("usha1aes256c"), key_extension="blumenthal")  # the agent uses Reeder
    r = poll(Target("127.0.0.1", snmpd.port, cred, timeout=1, retries=0))
    assert not r["ok"] and "authentication failed" in r["error"]


def test_v3_unknown_user(snmpd):
    cred = Credential(version="3", user="nobody-here", auth_proto="SHA", auth_key=AUTH_KEY)
    r = poll(Target("127.0.0.1", snmpd.port, cred, timeout=1, retries=0))
    assert not r["ok"] and "authentication failed" in r["error"]


def test_garbage_answers_give_garbage_error():
    sock, port, stop = start_junk_server()
    try:
        r = poll(Target("127.0.0.1", port, Credential(community="public"), timeout=0.5, retries=0))
    finally:
        stop.set()
        sock.close()
    assert not r["ok"]
    assert r["error"].startswith(("garbage", "timeout")), r["error"]


def test_silent_port_is_a_timeout():
    r = poll(Target("127.0.0.1", free_udp_port(), Credential(community="public"), timeout=0.3, retries=1))
    assert not r["ok"] and r["error"] == "timeout"


def test_target_outside_loopback_is_refused_before_any_packet():
    r = poll(Target("192.0.2.1", 161, Credential(community="public"), timeout=0.3))
    assert not r["ok"] and r["error"].startswith("not allowed")


def test_missing_objects_and_partial_tables(snmpd):
    # cipher profile on a device without most of its OIDs: noSuchObject everywhere except
    # one tunnel row that lacks its state column and one complete row
    snmpd.serve(
        {
            f"{CIPHER}.2.2.1.2.1": ("ipaddress", "10.9.0.1"),
            f"{CIPHER}.2.2.1.2.2": ("ipaddress", "10.9.0.2"),
            f"{CIPHER}.2.2.1.4.2": ("integer", "1"),
        }
    )
    r = poll(
        Target("127.0.0.1", snmpd.port, Credential(community="public"), timeout=1),
        "cipher-gateway",
        ["10.9.0.1", "10.9.0.2"],
    )
    assert r["ok"], r["error"]
    assert "cpu_pct" not in r["health"]  # cipherCpuUsage: noSuchObject
    assert {t["peer"]: t["state"] for t in r["tunnels"]} == {"10.9.0.1": "down", "10.9.0.2": "up"}


def test_cipher_tunnels_expected_peers_up_and_down(snmpd):
    snmpd.serve(
        {
            f"{CIPHER}.2.1.5.0": ("gauge", "17"),
            f"{CIPHER}.2.1.6.0": ("gauge", "41"),
            **{
                f"{CIPHER}.2.2.1.2.{i}": ("ipaddress", ip)
                for i, ip in ((1, "10.0.0.1"), (2, "10.0.0.2"), (3, "10.0.0.9"))
            },
            **{
                f"{CIPHER}.2.2.1.3.{i}": ("string", n)
                for i, n in ((1, "to-hefei"), (2, "to-chaohu"), (3, "to-lab"))
            },
            **{f"{CIPHER}.2.2.1.4.{i}": ("integer", s) for i, s in ((1, "1"), (2, "2"), (3, "1"))},
        }
    )
    r = poll(
        Target("127.0.0.1", snmpd.port, Credential(community="public"), timeout=1),
        "cipher-gateway",
        ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
    )
    assert r["ok"], r["error"]
    assert r["health"] == {"cpu_pct": 17.0, "mem_pct": 41.0}
    # every expected peer, with or without an SA row; then a row nobody expected
    assert r["tunnels"] == [
        {"peer": "10.0.0.1", "name": "to-hefei", "state": "up", "expected": True, "sa": True},
        {"peer": "10.0.0.2", "name": "to-chaohu", "state": "down", "expected": True, "sa": True},
        {"peer": "10.0.0.3", "name": None, "state": "down", "expected": True, "sa": False},
        {"peer": "10.0.0.9", "name": "to-lab", "state": "up", "expected": False, "sa": True},
    ]


def _sonet(section=1, line=1, path=1, elapsed=100, es=3, ses=2, uas=0, valid=1, if_index=2, held=1):
    """One STM-1 port: medium, the three status bitmaps, interval 1 of the line and path tables."""
    s = f"{SONET}.1"
    return {
        f"{s}.1.1.1.1.{if_index}": ("integer", "2"),  # sonetMediumType: sdh
        f"{s}.1.1.1.2.{if_index}": ("integer", str(elapsed)),
        f"{s}.1.1.1.3.{if_index}": ("integer", str(held)),
        f"{s}.2.1.1.1.{if_index}": ("integer", str(section)),
        f"{s}.3.1.1.1.{if_index}": ("integer", str(line)),
        f"{s}.3.2.1.2.{if_index}.1": ("gauge", str(es)),
        f"{s}.3.2.1.3.{if_index}.1": ("gauge", str(ses)),
        f"{s}.3.2.1.4.{if_index}.1": ("gauge", str(es * 10)),
        f"{s}.3.2.1.5.{if_index}.1": ("gauge", str(uas)),
        f"{s}.3.2.1.6.{if_index}.1": ("integer", str(valid)),
        f"{SONET}.2.1.1.1.2.{if_index}": ("integer", str(path)),
        f"{SONET}.2.1.2.1.2.{if_index}.1": ("gauge", str(es)),
        f"{SONET}.2.1.2.1.3.{if_index}.1": ("gauge", str(ses)),
        f"{SONET}.2.1.2.1.4.{if_index}.1": ("gauge", str(es * 7)),
        f"{SONET}.2.1.2.1.5.{if_index}.1": ("gauge", str(uas)),
        f"{SONET}.2.1.2.1.6.{if_index}.1": ("integer", str(valid)),
    }


T0 = 1_700_000_000.0  # the poller's clock in these tests (the fake agent's timeElapsed moves with it)


def test_sdh_los_raised_and_cleared_and_bucket_stored_once(snmpd):
    poller = Poller(impl=IMPL["name"])
    now = [T0]
    poller.sdh.clock = lambda: now[0]
    target = Target("127.0.0.1", snmpd.port, Credential(community="public"), timeout=1)
    snmpd.serve(_sonet(elapsed=100, ses=2))
    r1 = poll(target, "generic", poller=poller)  # any profile: the device answers sonetMediumType
    assert r1["ok"], r1["error"]
    (e1,) = r1["sdh"]
    assert e1["ifIndex"] == 2 and e1["section_status"] == [] and e1["line_status"] == []
    (b1,) = e1["buckets"]
    assert (b1["es"], b1["ses"], b1["uas"], b1["valid"]) == (3, 2, 0, True)
    assert b1["interval_end"] == T0 - 100 and b1["line"]["cv"] == 30 and b1["path"] == {
        "es": 3, "ses": 2, "cv": 21, "uas": 0}

    now[0] = T0 + 60
    snmpd.serve(_sonet(section=2, line=4, path=8, elapsed=160, ses=2))  # LOS, far end RDI; same interval
    (e2,) = poll(target, "generic", poller=poller)["sdh"]
    assert e2["section_status"] == ["LOS"] and e2["line_status"] == ["RDI"] and e2["path_status"] == ["RDI"]
    assert e2["buckets"] == []  # the completed bucket was already reported

    now[0] = T0 + 820
    snmpd.serve(_sonet(section=1, elapsed=20, es=60, ses=60, uas=10))  # cleared; a new quarter hour
    (e3,) = poll(target, "generic", poller=poller)["sdh"]
    assert e3["section_status"] == [] and e3["path_status"] == []
    got = [(b["interval_end"], b["es"], b["ses"], b["uas"]) for b in e3["buckets"]]
    assert got == [(T0 + 800, 60, 60, 10)]


def test_sdh_invalid_interval_is_marked(snmpd):
    snmpd.serve(_sonet(valid=2))
    (e,) = poll(Target("127.0.0.1", snmpd.port, Credential(community="public"), timeout=1), "sdh")["sdh"]
    assert e["buckets"][0]["valid"] is False


def test_a_device_without_sonet_mib_has_no_sdh_rows(snmpd):
    snmpd.serve({f"{CIPHER}.2.1.5.0": ("integer", "17")})  # nothing under SONET-MIB
    r = poll(Target("127.0.0.1", snmpd.port, Credential(community="public"), timeout=1), "huawei-vrp")
    assert r["ok"], r["error"]
    assert r["sdh"] == []


def _cli(*args, env=None):
    return subprocess.run(
        [sys.executable, str(REPO / "agent.py"), "poll", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_cli_poll_json_v2c_and_v3(snmpd, monkeypatch):
    p = _cli("--target", f"127.0.0.1:{snmpd.port}", "--community", "public", "--json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["ok"] and doc["profile"] == "netsnmp-linux" and doc["interfaces"]
    import os

    env = dict(os.environ, PE_AUTH=AUTH_KEY, PE_PRIV=PRIV_KEY)
    p = _cli(
        "--target",
        f"127.0.0.1:{snmpd.port}",
        "--v3-user",
        "usha256aes",
        "--auth-proto",
        "SHA-256",
        "--auth-key-env",
        "PE_AUTH",
        "--priv-proto",
        "AES",
        "--priv-key-env",
        "PE_PRIV",
        "--json",
        env=env,
    )
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["ok"]
    p = _cli(
        "--target",
        f"127.0.0.1:{snmpd.port}",
        "--v3-user",
        "usha256aes",
        "--auth-proto",
        "SHA-256",
        "--auth-key-env",
        "PE_PRIV",
        "--priv-proto",
        "AES",
        "--priv-key-env",
        "PE_PRIV",
        "--json",
        env=env,
    )
    assert p.returncode == 1 and "authentication failed" in p.stderr and "Traceback" not in p.stderr


def test_cli_errors_are_clear():
    sock, port, stop = start_junk_server()
    try:
        p = _cli("--target", f"127.0.0.1:{port}", "--community", "x", "--timeout", "0.3", "--retries", "0")
    finally:
        stop.set()
        sock.close()
    assert p.returncode == 1 and "Traceback" not in p.stderr and "127.0.0.1" in p.stderr
    p = _cli("--target", "127.0.0.1:99999", "--community", "x")
    assert p.returncode == 2 and "port" in p.stderr
    p = _cli(
        "--target", "127.0.0.1:161", "--v3-user", "u", "--auth-proto", "SHA", "--auth-key-env", "PE_UNSET_VAR"
    )
    assert p.returncode == 2 and "PE_UNSET_VAR" in p.stderr
    p = _cli("--target", "127.0.0.1:161", "--v3-user", "u", "--auth-proto", "ROT13", "--auth-key-env", "HOME")
    assert p.returncode == 2 and "ROT13" in p.stderr


def test_v1_walks_with_getnext(snmpd):
    r = poll(Target("127.0.0.1", snmpd.port, Credential(version="1", community="public"), timeout=1))
    assert r["ok"], r["error"]
    assert any(i["name"] == "lo" for i in r["interfaces"])


def test_time_budget_caps_a_slow_device():
    poller = Poller(impl=IMPL["name"], budget_s=0.5)
    target = Target("127.0.0.1", free_udp_port(), Credential(community="public"), timeout=2, retries=5)
    r = asyncio.run(poller.poll(target))
    assert not r["ok"] and r["error"] == "timeout"
    assert poller.limiter.limit < poller.limiter.maximum  # the in-flight bound shrank


def test_huawei_usg_sessions_and_board_health(snmpd):
    snmpd.serve(
        {
            "1.3.6.1.4.1.2011.5.25.11.1.2.1.4.0": ("counter", "123456"),
            # hwEntityCpuUsage per board: a board without CPU answers 0 and is skipped; busiest wins
            "1.3.6.1.4.1.2011.5.25.31.1.1.1.1.5.16777216": ("integer", "0"),
            "1.3.6.1.4.1.2011.5.25.31.1.1.1.1.5.16842753": ("integer", "37"),
            "1.3.6.1.4.1.2011.5.25.31.1.1.1.1.5.16842754": ("integer", "12"),
            "1.3.6.1.4.1.2011.5.25.31.1.1.1.1.7.16842753": ("integer", "55"),
        }
    )
    r = poll(Target("127.0.0.1", snmpd.port, Credential(community="public"), timeout=1), "huawei-usg")
    assert r["ok"], r["error"]
    assert r["sessions"] == 123456
    assert r["health"]["cpu_pct"] == 37.0 and r["health"]["mem_pct"] == 55.0


def test_rates_from_two_real_polls(snmpd):
    import time

    from probes.counters import RateTracker

    tracker = RateTracker()
    target = Target("127.0.0.1", snmpd.port, Credential(community="public"), timeout=1, name="snmpd")
    first = tracker.apply(poll(target))
    time.sleep(1.2)
    second = tracker.apply(poll(target))
    assert all(i["in_bps"] is None for i in first["interfaces"])
    lo1 = next(i for i in first["interfaces"] if i["name"] == "lo")
    lo2 = next(i for i in second["interfaces"] if i["name"] == "lo")
    assert lo2["in_octets"] >= lo1["in_octets"]
    # lo is shared with everything on this machine: net-snmp says 10 Mbit/s, so a busy lo
    # must give None (never a rate above the speed), a quiet one the exact rate
    expected = (lo2["in_octets"] - lo1["in_octets"]) * 8 / (second["ts"] - first["ts"])
    if expected <= lo2["speed_bps"]:
        assert lo2["in_bps"] == round(expected, 3)
    else:
        assert lo2["in_bps"] is None
