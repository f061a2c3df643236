"""Poll real device walks served by one snmpsim process and compare with LibreNMS's own parse.

The LibreNMS files are GPL: they are read from ../shared/testbed at run time, never copied.
Agreement rules (docs/profiles.md "Checked against LibreNMS"): ifName and ifOperStatus
must be equal; ifSpeed equal, or equal at ifHighSpeed's 1 Mbit/s resolution (LibreNMS
prefers ifHighSpeed, we keep the exact ifSpeed when it fits, e.g. 2488.32 Mbit/s);
ifInOctets equal, where LibreNMS's 0 for a row without any octet counter in the walk
matches our None (we do not invent a zero).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.probes.helpers import (
    LIBRENMS,
    SNMPSIM_DATA,
    librenms_expected,
    plain_copy,
    poll_all,
    start_snmpsim,
    stop,
)

try:
    import snmpsim_data

    PKG_DATA = Path(snmpsim_data.__file__).parent / "data"
except ImportError:  # pragma: no cover
    PKG_DATA = None


def _lib_ports(doc: dict) -> list[dict]:
    ports = doc.get("ports") or {}
    section = ports.get("poller")
    if section in (None, "matches discovery"):
        section = ports.get("discovery")
    return (section or {}).get("ports") or []


def _pkg_walks() -> list[str]:
    if PKG_DATA is None:
        return []
    out = []
    for p in sorted(PKG_DATA.rglob("*.snmprec*")):
        rel = p.relative_to(PKG_DATA).as_posix()
        out.append(rel.removesuffix(".bz2").removesuffix(".snmprec"))
    return out


@pytest.fixture(scope="module")
def snmpsim_package():
    """The installed snmpsim-data package (116 walks; indexing them cold takes minutes)."""
    if PKG_DATA is None:
        pytest.skip("the snmpsim-data package is not installed")
    proc, port, _log = start_snmpsim(
        [plain_copy(PKG_DATA, "snmpsim-data-pkg")], "os/linux/unknown-006", startup_s=2400
    )
    yield port
    stop(proc)


def _speed_agrees(ours, theirs) -> bool:
    if ours == theirs:
        return True
    return (
        ours is not None
        and theirs is not None
        and theirs % 1_000_000 == 0
        and round(ours / 1_000_000) * 1_000_000 == theirs
    )


def _octets_agree(ours, theirs) -> bool:
    return ours == theirs or (ours is None and theirs == 0)


def test_ports_agree_with_librenms(librenms_polled):
    expected = librenms_expected()
    with_ports = {k: _lib_ports(v) for k, v in expected.items() if _lib_ports(v)}
    results = librenms_polled
    total = agree = 0
    lines = []
    for name, ports in with_ports.items():
        r = results[name]
        assert r["ok"], f"{name}: {r['error']}"
        ours = {i["index"]: i for i in r["interfaces"]}
        ok = 0
        for lp in ports:
            o = ours.get(lp["ifIndex"])
            if (
                o
                and o.get("device_name", o["name"]) == lp["ifName"]
                and o["oper"] == lp["ifOperStatus"]
                and _speed_agrees(o["speed_bps"], lp["ifSpeed"])
                and _octets_agree(o["in_octets"], lp["ifInOctets"])
            ):
                ok += 1
            else:
                lines.append(
                    f"    mismatch {name} ifIndex {lp['ifIndex']}: librenms "
                    f"{(lp['ifName'], lp['ifOperStatus'], lp['ifSpeed'], lp['ifInOctets'])} ours "
                    f"{o and (o['name'], o['oper'], o['speed_bps'], o['in_octets'])}"
                )
        total += len(ports)
        agree += ok
        lines.append(f"{name:34} {r['profile']:16} {ok:4}/{len(ports):<4} {100.0 * ok / len(ports):6.1f}%")
    print("\n".join(sorted(lines, key=lambda s: s.strip())))
    print(f"TOTAL {agree}/{total} = {100.0 * agree / total:.2f}%")
    assert agree / total >= 0.98


def _check_all(port: int, communities: list[str], **kw) -> None:
    results = poll_all(port, communities, **kw)
    failed = {c: r["error"] for c, r in results.items() if not r["ok"]}
    generic = sorted(c for c, r in results.items() if r["ok"] and r["profile"] == "generic")
    print(f"{len(results)} recordings polled; failed: {failed}; generic profile: {generic}")
    for c, r in sorted(results.items()):
        print(f"  {c:60} {r['profile'] or '-':18} {len(r['interfaces']):4} ifs {r['error'] or ''}")
    # a walk without any sysObjectID cannot be told apart from any other vendor's
    no_oid = {c for c, r in results.items() if r["ok"] and not r["identity"].get("sysObjectID")}
    assert not failed
    assert set(generic) <= no_oid, sorted(set(generic) - no_oid)


@pytest.mark.slow  # long end-to-end scenario: CI's slow tier (make test-slow)
def test_testbed_recordings_poll_and_get_a_vendor_profile(snmpsim):
    lib = sorted(p.name.removesuffix(".snmprec") for p in LIBRENMS.glob("*.snmprec") if "@" not in p.name)
    sd = []
    if SNMPSIM_DATA.is_dir():
        sd = sorted(
            p.relative_to(SNMPSIM_DATA).as_posix().removesuffix(".bz2").removesuffix(".snmprec")
            for p in SNMPSIM_DATA.rglob("*.snmprec*")
        )
    _check_all(snmpsim, lib + sd)


@pytest.mark.slow
def test_package_recordings_poll_and_get_a_vendor_profile(snmpsim_package):
    _check_all(snmpsim_package, _pkg_walks(), in_flight=1, timeout=60, retries=0)


def test_testbed_snmpsim_data_is_the_package_copy():
    """The test bed's snmpsim-data walks are byte-identical to the installed package's, so
    polling the package copies (one snmpsim, no duplicate communities) covers both."""
    if not SNMPSIM_DATA.is_dir() or PKG_DATA is None:
        pytest.skip(f"{SNMPSIM_DATA} or the snmpsim-data package is missing")
    files = sorted(SNMPSIM_DATA.rglob("*.snmprec*"))
    assert files
    for f in files:
        assert f.read_bytes() == (PKG_DATA / f.relative_to(SNMPSIM_DATA)).read_bytes(), f


def _lib_section(doc: dict, key: str) -> list[dict]:
    section = doc.get(key) or {}
    found = section.get("poller")
    if found in (None, "matches discovery"):
        found = section.get("discovery")
    return (found or {}).get(key) or []


# Vendors of the province inventory: their CPU and memory must agree with LibreNMS's parse.
INVENTORY_PROFILES = {"huawei-vrp", "huawei-usg", "h3c-comware", "ruijie", "zte", "hillstone"}
# Differences that are the recording's, not ours.
KNOWN_HEALTH_GAPS = {
    # the ZXA10 CPU rows sit out of order in the file: snmpsim's GETNEXT never reaches them
    # (our own simulator sorts walks and serves them; LibreNMS read them with GET)
    ("zxa10_c320", "cpu_pct"),
}


def _within(ours: float | None, theirs: list[float], slack: float = 1.0) -> bool:
    """Our one figure per device (max or average over units, per profile) lies within the
    span of LibreNMS's per-unit figures, give or take rounding."""
    return ours is not None and min(theirs) - slack <= ours <= max(theirs) + slack


def test_health_agrees_with_librenms(librenms_polled):
    """CPU and memory against LibreNMS's processors / mempools (class system) of the same walk."""
    expected = librenms_expected()
    wanted = {}
    for name, doc in expected.items():
        cpu = [p["processor_usage"] for p in _lib_section(doc, "processors")]
        mem = [m["mempool_perc"] for m in _lib_section(doc, "mempools") if m["mempool_class"] == "system"]
        if cpu or mem:
            wanted[name] = (cpu, mem)
    results = librenms_polled
    lines, bad, checked = [], [], 0
    for name, (cpu, mem) in sorted(wanted.items()):
        r = results[name]
        assert r["ok"], f"{name}: {r['error']}"
        for key, theirs in (("cpu_pct", cpu), ("mem_pct", mem)):
            if not theirs:
                continue
            ours = r["health"].get(key)
            agree = _within(ours, theirs)
            verdict = "ok" if agree else "DIFFERS"
            lines.append(f"{name:28} {r['profile']:16} {key} ours {ours} librenms {theirs} {verdict}")
            if r["profile"] in INVENTORY_PROFILES and (name, key) not in KNOWN_HEALTH_GAPS:
                checked += 1
                if not agree:
                    bad.append(lines[-1])
    print("\n".join(lines))
    assert checked >= 20, checked
    assert not bad, "\n".join(bad)


# What the Chinese firewall / switch walks of the test bed hold (no LibreNMS parse exists for
# them): figures read by hand from the walk and cross-checked inside it (docs/profiles.md).
WALK_HEALTH = {
    "network/firewall/topsec-ngfw4000-uf": ("topsec", {"cpu_pct": 3.0, "mem_pct": 33.0}, None),
    # memory: 100 x (2062920 - 1090188) / 2062920; CPU: average of the 5 rows 4,3,4,4,4
    "network/firewall/venus-unknown-001": ("venustech", {"cpu_pct": 3.8, "mem_pct": 47.15}, 1431),
    # net-snmp inside: hrProcessorLoad 9 and 8; UCD memory less buffers and cache
    "network/firewall/sangfor-ad1800-fp2": ("sangfor", {"cpu_pct": 8.5, "mem_pct": 65.79}, None),
    # 211 of the temperature rows are 65535 ("no sensor"): the hottest real one is 49
    "network/switch/h3c-comware-7-1-075": (
        "h3c-comware",
        {"cpu_pct": 24.0, "mem_pct": 55.0, "temperature_c": 49.0},
        None,
    ),
    # ZXR10 9908 (ZXROS): no zxr10SystemUnitTable, no HOST-RESOURCES
    "network/switch/zte-zrx10": ("zte", {}, None),
}


def test_chinese_vendor_walks_health(snmpsim):
    if not SNMPSIM_DATA.is_dir():
        pytest.skip(f"{SNMPSIM_DATA} is missing")
    results = poll_all(snmpsim, sorted(WALK_HEALTH), in_flight=2, timeout=10)
    for name, (profile, health, sessions) in WALK_HEALTH.items():
        r = results[name]
        assert r["ok"], f"{name}: {r['error']}"
        assert r["profile"] == profile, name
        assert r["health"] == health, name
        assert r["sessions"] == sessions, name
