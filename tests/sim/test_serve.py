"""Polling the simulated province over real UDP with net-snmp and gufo-snmp."""

from __future__ import annotations

import asyncio
import time

import gufo.snmp as g
import pytest
from gufo.snmp.aio.client import SnmpSession

from tests.sim.conftest import COMMUNITY, V3, get_values, snmp, walk

SYSNAME, UPTIME = "1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.3.0"
IF_DESCR, IF_OPER, IF_IN, IF_NAME, IF_HCIN = (
    "1.3.6.1.2.1.2.2.1.2", "1.3.6.1.2.1.2.2.1.8", "1.3.6.1.2.1.2.2.1.10", "1.3.6.1.2.1.31.1.1.1.1",
    "1.3.6.1.2.1.31.1.1.1.6")


def if_index(sim, device: str, name: str) -> int:
    return sim.device(device).interface(name).index


def test_v2c_get_and_bulkwalk_show_inventory_names(sim):
    assert get_values(sim, "anhui-rtr1", SYSNAME) == ["anhui-rtr1"]
    names = walk(sim, "anhui-rtr1", IF_NAME)
    idx = if_index(sim, "anhui-rtr1", "Pos1/0/0")
    assert names[f".{IF_NAME}.{idx}"] == "Pos1/0/0"
    assert "GigabitEthernet0/0/1" in names.values()
    descr = walk(sim, "hefei-rtr1", IF_DESCR)
    assert "Pos2/0/0" in descr.values() and len(descr) > 10  # the rest of the real H3C walk is there
    # the real walk's identity stays: Huawei VRP sysObjectID
    assert get_values(sim, "anhui-rtr1", "1.3.6.1.2.1.1.2.0")[0].startswith(".1.3.6.1.4.1.2011.")


def test_getnext_and_end_of_view(sim):
    res = snmp("snmpgetnext", sim, "anhui-rtr1", "1.3.6.1.2.1.1.4", extra=("-Oq",))
    assert res.returncode == 0 and res.stdout.startswith(".1.3.6.1.2.1.1.4.0 ")
    res = snmp("snmpgetnext", sim, "anhui-rtr1", "1.3.6.1.9", extra=("-Oq",))
    assert "No more variables" in res.stdout + res.stderr or "endOfMibView" in res.stdout


def test_wrong_community_gets_no_answer(sim):
    host, port = sim.address("anhui-rtr1")
    import subprocess
    res = subprocess.run(["snmpget", "-On", "-t", "0.5", "-r", "0", "-v2c", "-c", "wrong",
                          f"{host}:{port}", SYSNAME], capture_output=True, text=True)
    assert res.returncode != 0 and "Timeout" in res.stderr


def test_set_is_refused(sim):
    res = snmp("snmpset", sim, "anhui-rtr1", SYSNAME, "s", "x")
    assert res.returncode != 0 and "notWritable" in res.stderr + res.stdout


def test_counters_grow_and_counter32_wraps_with_hc(sim):
    idx = if_index(sim, "anhui-rtr1", "GigabitEthernet0/0/1")
    first = get_values(sim, "anhui-rtr1", f"{IF_HCIN}.{idx}", f"{IF_IN}.{idx}")
    time.sleep(1.2)
    second = get_values(sim, "anhui-rtr1", f"{IF_HCIN}.{idx}", f"{IF_IN}.{idx}")
    hc1, hc2 = int(first[0]), int(second[0])
    assert hc2 > hc1
    assert hc1 > 2**32  # days of traffic: the 32-bit counter has wrapped many times
    assert int(first[1]) == hc1 % 2**32 and int(second[1]) == hc2 % 2**32


def test_rate_is_plausible_for_the_link(sim):
    """Octets/uptime from the same response: between 0 and the 1 Gbit/s link's capacity."""
    idx = if_index(sim, "anhui-rtr1", "GigabitEthernet0/0/1")
    res1 = snmp("snmpget", sim, "anhui-rtr1", UPTIME, f"{IF_HCIN}.{idx}", extra=("-Oqvt",))
    time.sleep(1.5)
    res2 = snmp("snmpget", sim, "anhui-rtr1", UPTIME, f"{IF_HCIN}.{idx}", extra=("-Oqvt",))
    (t1, o1), (t2, o2) = ([int(x) for x in r.stdout.split()] for r in (res1, res2))
    bps = (o2 - o1) * 8 / ((t2 - t1) / 100)
    assert 0 < bps <= 1_000_000_000 * 0.61


def test_sysuptime_ticks(sim):
    res1 = snmp("snmpget", sim, "anhui-rtr1", UPTIME, extra=("-Oqvt",))
    time.sleep(1.1)
    res2 = snmp("snmpget", sim, "anhui-rtr1", UPTIME, extra=("-Oqvt",))
    assert int(res2.stdout) - int(res1.stdout) >= 100


def test_v3_authpriv_and_wrong_key(sim):
    assert get_values(sim, "anhui-fw1", SYSNAME, v3={}) == ["anhui-fw1"]
    sessions = get_values(sim, "anhui-fw1", "1.3.6.1.4.1.2011.5.25.11.1.2.1.4.0", v3={})
    assert int(sessions[0]) > 0
    bad = snmp("snmpget", sim, "anhui-fw1", SYSNAME, v3={"auth": "not-the-key-1"})
    assert bad.returncode != 0 and "Authentication failure" in bad.stderr
    badpriv = snmp("snmpget", sim, "anhui-fw1", SYSNAME, v3={"priv": "not-the-key-2"}, timeout=1, retries=0)
    assert badpriv.returncode != 0
    # a v2c request to a v3-only device is ignored
    assert snmp("snmpget", sim, "anhui-fw1", SYSNAME, timeout=0.5, retries=0).returncode != 0


def _gufo(sim, device: str, v3: bool = False, **kw) -> SnmpSession:
    host, port = sim.address(device)
    if v3:
        user = g.User(V3["user"], auth_key=g.Sha256Key(kw.pop("auth", V3["auth"]).encode()),
                      priv_key=g.Aes128Key(V3["priv"].encode()))
        return SnmpSession(addr=host, port=port, user=user, timeout=2, **kw)
    return SnmpSession(addr=host, port=port, community=COMMUNITY, timeout=2, **kw)


@pytest.mark.parametrize("v3", [False, True])
def test_gufo_bulk_walk(sim, v3):
    device = "anhui-cipher1" if v3 else "hefei-rtr1"

    async def run() -> tuple[bytes, dict[str, object]]:
        async with _gufo(sim, device, v3=v3) as s:
            name = await s.get(SYSNAME)
            names = {oid: v async for oid, v in s.getbulk(IF_NAME)}
            return name, names

    name, names = asyncio.run(run())
    assert name == device.encode()
    wanted = {b"eth0", b"eth1"} if v3 else {b"Pos2/0/0", b"GigabitEthernet1/0/1"}
    assert wanted <= set(names.values())


def test_gufo_v3_wrong_key_fails(sim):
    async def run() -> None:
        async with _gufo(sim, "anhui-fw1", v3=True, auth="wrong-key-000") as s:
            await s.get(SYSNAME)

    with pytest.raises((g.SnmpAuthError, g.SnmpError, TimeoutError)):
        asyncio.run(run())


def test_sdh_interface_looks_like_stm1(sim):
    i = if_index(sim, "anhui-rtr1", "Pos1/0/0")
    itype, speed, hspeed, alias = get_values(sim, "anhui-rtr1", f"1.3.6.1.2.1.2.2.1.3.{i}",
                                             f"1.3.6.1.2.1.2.2.1.5.{i}", f"1.3.6.1.2.1.31.1.1.1.15.{i}",
                                             f"1.3.6.1.2.1.31.1.1.1.18.{i}")
    assert (itype, speed, hspeed) == ("39", "155520000", "156")
    assert "hefei-rtr1" in alias and "AH-SDH-0001" in alias
    medium = walk(sim, "anhui-rtr1", "1.3.6.1.2.1.10.39.1.1.1.1")
    assert medium[f".1.3.6.1.2.1.10.39.1.1.1.1.1.{i}"] == "2"  # sdh
    assert medium[f".1.3.6.1.2.1.10.39.1.1.1.1.6.{i}"] == "AH-SDH-0001"
    intervals = walk(sim, "anhui-rtr1", f"1.3.6.1.2.1.10.39.1.2.2.1.6.{i}")
    assert len(intervals) == 96 and set(intervals.values()) <= {"1", "2"}  # a day of quarter hours
    paths = walk(sim, "anhui-rtr1", f"1.3.6.1.2.1.10.39.2.1.2.1.5.{i}")  # path UAS per interval
    assert len(paths) == 96 and set(paths.values()) == {"0"}


def test_32bit_only_walk_keeps_32bit_counters(sim):
    """The Topsec walk has no ifXTable: the simulated device has no HC counters either."""
    i = if_index(sim, "feidong-fw1", "eth1")
    res = snmp("snmpget", sim, "feidong-fw1", f"{IF_HCIN}.{i}", extra=("-Oqv",))
    assert "No Such" in res.stdout
    a = int(get_values(sim, "feidong-fw1", f"{IF_IN}.{i}")[0])
    time.sleep(1.1)
    b = int(get_values(sim, "feidong-fw1", f"{IF_IN}.{i}")[0])
    assert 0 <= a < 2**32 and 0 <= b < 2**32 and a != b


def test_v1_getnext_skips_counter64(sim):
    last = "1.3.6.1.2.1.31.1.1.1.5.4294967295"  # after the last row of ifOutBroadcastPkts
    res = snmp("snmpgetnext", sim, "anhui-rtr1", last, extra=("-Oq",))
    assert ".1.3.6.1.2.1.31.1.1.1.6." in res.stdout  # v2c: the Counter64 column is next
    host, port = sim.address("anhui-rtr1")
    import subprocess
    res = subprocess.run(["snmpgetnext", "-On", "-Oq", "-t", "2", "-r", "0", "-v1", "-c", COMMUNITY,
                          f"{host}:{port}", last], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.startswith(".1.3.6.1.2.1.31.1.1.1.14.")


def test_v3_sha1_aes_with_netsnmp_and_gufo(sim):
    v3 = {"user": "legacy", "proto": "SHA", "auth": "sha1-auth-key", "priv": "sha1-priv-key"}
    assert get_values(sim, "hefei-sw1", SYSNAME, v3=v3) == ["hefei-sw1"]
    assert snmp("snmpget", sim, "hefei-sw1", SYSNAME, v3={**v3, "proto": "SHA-256"}).returncode != 0
    host, port = sim.address("hefei-sw1")

    async def run() -> bytes:
        user = g.User("legacy", auth_key=g.Sha1Key(b"sha1-auth-key"), priv_key=g.Aes128Key(b"sha1-priv-key"))
        async with SnmpSession(addr=host, port=port, user=user, timeout=2) as s:
            return await s.get(SYSNAME)

    assert asyncio.run(run()) == b"hefei-sw1"


def test_pysnmp_client_v3_get_and_v2c_bulkwalk(sim):
    from pysnmp.hlapi.v3arch import asyncio as ps

    async def run() -> tuple[str, list[str]]:
        eng = ps.SnmpEngine()
        host, port = sim.address("anhui-fw1")
        sha256, aes = ps.usmHMAC192SHA256AuthProtocol, ps.usmAesCfb128Protocol
        user = ps.UsmUserData(V3["user"], V3["auth"], V3["priv"], authProtocol=sha256, privProtocol=aes)
        err, status, _, vbs = await ps.get_cmd(
            eng, user, await ps.UdpTransportTarget.create((host, port), timeout=2, retries=1),
            ps.ContextData(), ps.ObjectType(ps.ObjectIdentity(SYSNAME)))
        assert err is None and not status
        host, port = sim.address("hefei-rtr1")
        names = []
        async for e, s, _, rows in ps.bulk_walk_cmd(
                eng, ps.CommunityData(COMMUNITY), await ps.UdpTransportTarget.create((host, port), timeout=2),
                ps.ContextData(), 0, 25, ps.ObjectType(ps.ObjectIdentity(IF_NAME)), lexicographicMode=False):
            assert e is None and not s
            names += [str(v) for _, v in rows]
        return str(vbs[0][1]), names

    name, names = asyncio.run(run())
    assert name == "anhui-fw1"
    assert "Pos2/0/0" in names and len(names) > 10
