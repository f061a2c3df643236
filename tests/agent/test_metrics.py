"""The exposition: names, labels, no stale series, and ``promtool check metrics`` passes."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from probes.agent.config import DeviceJob
from probes.agent.metrics import LatestResults, build_registry, failure_reason
from probes.agent.push import Forwarder, Sender
from probes.agent.spool import Spool


def job(name: str, site: str = "hefei") -> DeviceJob:
    return DeviceJob(
        name=name, site=site, host="127.34.0.1", port=161, interval_s=60, profile="auto", credential="c"
    )


def good(name: str) -> dict:
    iface = {
        "index": 1,
        "name": "GE0/0/1",
        "descr": "GigabitEthernet0/0/1",
        "alias": "to city",
        "type": 6,
        "speed_bps": 1_000_000_000,
        "admin": "up",
        "oper": "up",
        "in_octets": 123,
        "out_octets": 456,
        "in_ucast_pkts": 1,
        "out_ucast_pkts": 2,
        "in_errors": 0,
        "out_errors": 0,
        "in_discards": 0,
        "out_discards": 0,
        "hc": True,
        "discontinuity": 0,
        "in_bps": 1.5,
        "out_bps": None,
    }
    twin = dict(iface, index=2, oper="down", in_octets=9)  # same ifName twice: must not collide
    return {
        "device": name,
        "ts": 1764097000.0,
        "ok": True,
        "error": None,
        "duration_s": 0.05,
        "profile": "huawei-vrp",
        "identity": {"sysName": name, "uptime_s": 12345.6},
        "interfaces": [iface, twin],
        "health": {"cpu_pct": 12.0, "mem_pct": 40.0, "temperature_c": None},
        "sessions": 1234,
        "tunnels": [{"peer": "10.0.0.1", "name": "t", "state": "up"}],
        "sdh": [
            {"ifIndex": 1, "section_status": ["LOS"], "line_status": [], "path_status": [], "buckets": []}
        ],
    }


@pytest.fixture
def exposition(tmp_path):
    spool = Spool(tmp_path / "s.db", "hefei")
    results = LatestResults()
    registry = build_registry(
        "hefei", results, spool, Forwarder(spool, Sender("http://127.0.0.1:9", "t")), None
    )
    jobs = [
        job("hefei-rtr1"),
        job("hefei-rtr2"),
        job("gone"),
        DeviceJob(
            name="far",
            site="hefei",
            host="10.34.1.9",
            port=161,
            interval_s=60,
            profile="auto",
            credential="c",
            problem="not allowed: 10.34.1.9",
        ),
    ]
    results.set_jobs(jobs)
    results.record(jobs[0], good("hefei-rtr1"))
    results.record(
        jobs[1],
        {
            "device": "hefei-rtr2",
            "ts": 1.0,
            "ok": False,
            "error": "timeout",
            "duration_s": 2.0,
            "interfaces": [],
            "icmp": {"alive": True, "rtt_ms": 25.0, "loss_pct": 50.0, "sent": 2},
        },
    )
    results.record(jobs[2], good("gone"))
    results.set_jobs(jobs[:2] + jobs[3:])  # a reload removed "gone"
    return generate_latest(registry).decode()


def samples(text: str) -> dict[tuple, float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_device_and_interface_series(exposition):
    s = samples(exposition)
    lab = (("device", "hefei-rtr1"), ("site", "hefei"))
    ge = (("device", "hefei-rtr1"), ("interface", "GE0/0/1"), ("site", "hefei"))
    twin = (("device", "hefei-rtr1"), ("interface", "GE0/0/1#2"), ("site", "hefei"))
    assert s[("nms_device_up", lab)] == 1.0
    assert s[("nms_device_up", (("device", "hefei-rtr2"), ("site", "hefei")))] == 0.0
    assert s[("nms_device_uptime_seconds", lab)] == 12345.6
    assert s[("nms_device_cpu_ratio", lab)] == pytest.approx(0.12)
    assert s[("nms_interface_received_bytes_total", ge)] == 123
    assert s[("nms_interface_transmitted_bytes_total", ge)] == 456
    assert s[("nms_interface_received_bytes_total", twin)] == 9
    assert s[("nms_interface_oper_up", twin)] == 0.0
    assert s[("nms_interface_speed_bytes", ge)] == 1e9 / 8
    assert s[("nms_tunnel_up", (("device", "hefei-rtr1"), ("peer", "10.0.0.1"), ("site", "hefei")))] == 1.0
    assert ("nms_device_temperature_celsius", lab) not in s  # absent value, absent series
    # SNMP timed out but the device answers ping: its echo series are there all the same
    rtr2 = (("device", "hefei-rtr2"), ("site", "hefei"))
    assert s[("nms_device_ping_up", rtr2)] == 1.0
    assert s[("nms_device_ping_rtt_seconds", rtr2)] == pytest.approx(0.025)
    assert s[("nms_device_ping_loss_ratio", rtr2)] == pytest.approx(0.5)
    assert ("nms_device_ping_up", lab) not in s  # not pinged: no series
    assert (
        s[
            (
                "nms_agent_poll_failures_total",
                (("device", "hefei-rtr2"), ("reason", "timeout"), ("site", "hefei")),
            )
        ]
        == 1
    )
    assert s[("nms_agent_device_not_polled", (("device", "far"), ("site", "hefei")))] == 1
    assert s[("nms_agent_poll_duration_seconds_count", (("site", "hefei"),))] == 3
    assert not any(dict(k[1]).get("device") == "gone" for k in s)  # removed device: no stale series
    assert s[("nms_agent_spool_batches", ())] == 0


def test_promtool_accepts_the_exposition(exposition, tmp_path):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus)")
    proc = subprocess.run(
        [promtool, "check", "metrics"], input=exposition, capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_failure_reason_is_a_small_fixed_set():
    assert [
        failure_reason(e)
        for e in ("timeout", "auth: wrong key", "garbage: x", "not allowed: 10.0.0.1", "weird", None)
    ] == ["timeout", "auth", "garbage", "not_allowed", "other", "other"]
