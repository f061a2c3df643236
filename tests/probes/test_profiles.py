"""Profiles are data: loading, extends, validation errors, and `auto` choosing the most specific."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from probes import profile as P
from probes.snmp.limiter import AdaptiveLimiter


def test_all_shipped_profiles_load_and_extend_generic():
    profs = P.load_profiles()
    assert {
        "generic",
        "huawei-vrp",
        "huawei-usg",
        "h3c-comware",
        "cisco-ios",
        "juniper",
        "ruijie",
        "zte",
        "hillstone",
        "fortinet",
        "netsnmp-linux",
        "cipher-gateway",
        "sdh",
    } <= set(profs)
    for name, prof in profs.items():
        assert prof.get("interfaces", {}).get("columns"), name  # everything inherits IF-MIB
    usg = profs["huawei-usg"]
    assert (
        usg.get("sessions") and usg.get("health")["cpu_pct"] == profs["huawei-vrp"].get("health")["cpu_pct"]
    )


@pytest.mark.parametrize(
    "oid,descr,expected",
    [
        ("1.3.6.1.4.1.2011.2.23.291", "Huawei Versatile Routing Platform", "huawei-vrp"),
        ("1.3.6.1.4.1.2011.2.239.1", "Huawei Versatile Routing Platform Software USG6550", "huawei-usg"),
        ("1.3.6.1.4.1.25506.1.921", "H3C Comware Platform Software", "h3c-comware"),
        ("1.3.6.1.4.1.9.1.516", "Cisco IOS Software, C3750", "cisco-ios"),
        ("1.3.6.1.4.1.2636.1.1.1.2.21", "Juniper Networks", "juniper"),
        ("1.3.6.1.4.1.8072.3.2.10", "Linux host 5.10", "netsnmp-linux"),
        ("1.3.6.1.4.1.35047", "Linux vAD1", "sangfor"),
        ("1.3.6.1.4.1.99934.1.1", "SJW-IPSEC Network Encryption Gateway", "cipher-gateway"),
        ("1.3.6.1.4.1.2011.2.25", "OptiX OSN 3500 SDH", "sdh"),
        ("1.3.6.1.4.1.424242", "", "generic"),
        ("", "", "generic"),
    ],
)
def test_auto_picks_the_most_specific(oid, descr, expected):
    assert P.choose(oid, descr).name == expected


def _copy_generic(tmp_path):
    shutil.copy(P.PROFILE_DIR / "generic.yaml", tmp_path / "generic.yaml")


def test_adding_a_vendor_is_one_yaml_file(tmp_path):
    _copy_generic(tmp_path)
    (tmp_path / "acme.yaml").write_text(
        "name: acme\nextends: generic\ndetect:\n  sysObjectID: ['1.3.6.1.4.1.99999']\n"
        "health:\n  cpu_pct:\n    - {scalar: 1.3.6.1.4.1.99999.1.0}\n"
        "interfaces:\n  skip: {type: [24]}\n"
    )
    profs = P.load_profiles(tmp_path)
    acme = P.choose("1.3.6.1.4.1.99999.7", "", profs)
    assert acme.name == "acme"
    assert acme.get("interfaces")["skip"] == {"type": [24]}
    assert acme.get("interfaces")["columns"]["oper"]["oid"] == "1.3.6.1.2.1.2.2.1.8"  # merged, not replaced


@pytest.mark.parametrize(
    "body,needle",
    [
        ("name: bad\nextends: nosuch\n", "extends: unknown profile 'nosuch'"),
        ("name: other\n", "must equal the file name"),
        ("name: bad\nhealth:\n  cpu_pct:\n    - {scalar: 'ifInOctets.1'}\n", "health.cpu_pct[0].scalar"),
        (
            "name: bad\ninterfaces:\n  columns:\n    x: {oid: 1.3.6.1.2, type: float}\n",
            "interfaces.columns.x.type",
        ),
        ("name: bad\nhealth:\n  cpu_pct: {scalar: 1.3.6.1.2.1.1.3.0}\n", "must be a list"),
        ("name: bad\n  - : [\n", "not valid YAML"),
    ],
)
def test_bad_profiles_are_named(tmp_path, body, needle):
    _copy_generic(tmp_path)
    (tmp_path / "bad.yaml").write_text(body)
    with pytest.raises(P.ProfileError) as exc:
        P.load_profiles(tmp_path)
    assert "bad.yaml" in str(exc.value) and needle in str(exc.value)


def test_profile_problems_name_file_and_line_and_unknown_blocks_pass(tmp_path):
    _copy_generic(tmp_path)
    (tmp_path / "bad.yaml").write_text(
        "name: bad\nextends: generic\ntraps:\n  anything: [1, 2]\nsyslog: {facility: local7}\n"
        "health:\n  cpu_pct:\n    - {scalar: 1.3.6.1.4.1.1.0, agg: median}\n"
    )
    with pytest.raises(P.ProfileError) as exc:
        P.load_profiles(tmp_path)
    wrong = "health.cpu_pct[0].agg: expected one of avg, max, min, sum, got 'median'"
    assert str(exc.value) == f"bad.yaml:8: {wrong}"
    (tmp_path / "bad.yaml").write_text("name: bad\nextends: generic\ntraps:\n  anything: [1, 2]\n")
    assert P.load_profiles(tmp_path)["bad"].get("traps")["anything"] == [1, 2]  # merged with generic's


def test_extends_cycle_is_refused(tmp_path):
    _copy_generic(tmp_path)
    (tmp_path / "a.yaml").write_text("name: a\nextends: b\n")
    (tmp_path / "b.yaml").write_text("name: b\nextends: a\n")
    with pytest.raises(P.ProfileError, match="cycle"):
        P.load_profiles(tmp_path)


def test_unknown_profile_name():
    with pytest.raises(P.ProfileError, match="unknown profile 'nope'"):
        P.get("nope")


def test_in_flight_bound_shrinks_on_timeouts_and_grows_back():
    lim = AdaptiveLimiter(100, minimum=10)
    for _ in range(20):
        lim.timed_out()
    assert lim.limit == 10
    for _ in range(5):
        lim.answered()
    assert lim.limit == 15

    async def run():
        lim2 = AdaptiveLimiter(3, minimum=1)
        peak = 0

        async def job():
            nonlocal peak
            async with lim2:
                peak = max(peak, lim2.active)
                await asyncio.sleep(0.01)

        await asyncio.gather(*(job() for _ in range(20)))
        return peak

    assert asyncio.run(run()) == 3
