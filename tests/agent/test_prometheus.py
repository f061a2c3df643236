"""A real Prometheus scrapes a real agent polling the simulated province."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.agent.conftest import AGENT, INTERVAL
from tests.support.processes import Agent, Prometheus, wait_for

PROMETHEUS = "/usr/bin/prometheus"


@pytest.fixture
def agent(tmp_path, province):
    a = Agent(
        tmp_path,
        province["path"],
        AGENT,
        province["centre"].url,
        province["token"],
        province["sim"].port,
        ["--interval-override", INTERVAL],
    )
    a.start()
    yield a
    if a.proc and a.proc.poll() is None:
        a.stop()


def test_prometheus_scrapes_interface_counters_and_poll_histogram(tmp_path, province, agent):
    if not shutil.which(PROMETHEUS):
        pytest.skip(f"{PROMETHEUS} not installed (Debian package prometheus)")
    device = "chaohu-int-fw1"
    wait_for(lambda: [p for p in agent.polls(ok=True) if p["device"] == device], 30, "a good poll")
    (tmp_path / "prom").mkdir()
    prom = Prometheus(tmp_path / "prom", [f"127.0.0.1:{agent.metrics_port}"], PROMETHEUS)
    prom.start()
    try:
        series = wait_for(
            lambda: prom.query(f'nms_interface_received_bytes_total{{device="{device}"}}'),
            30,
            "interface counters in Prometheus",
        )
        hist = wait_for(
            lambda: prom.query('sum(nms_agent_poll_duration_seconds_count{site="chaohu"}) > 2'),
            30,
            "poll-duration histogram in Prometheus",
        )
        buckets = prom.query('nms_agent_poll_duration_seconds_bucket{site="chaohu"}')
        q = wait_for(
            lambda: prom.query(
                "histogram_quantile(0.9, sum by (le) (rate(nms_agent_poll_duration_seconds_bucket[10s])))"
            ),
            20,
            "a quantile",
        )
        up = prom.query(f'nms_device_up{{device="{device}"}}')
        targets = prom.targets()
    finally:
        prom.stop()
    assert {s["metric"]["site"] for s in series} == {"chaohu"}
    assert all(s["metric"]["interface"] for s in series)
    assert any(float(s["value"][1]) > 0 for s in series)
    assert float(hist[0]["value"][1]) > 2
    assert {b["metric"]["le"] for b in buckets} >= {"0.01", "0.1", "1.0", "+Inf"}
    assert float(q[0]["value"][1]) > 0
    assert float(up[0]["value"][1]) == 1
    assert [t["health"] for t in targets] == ["up"]


def test_promtool_checks_the_live_exposition(agent):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus)")
    wait_for(lambda: len(agent.polls(ok=True)) >= 5, 30, "good polls")
    text = agent.scrape()
    assert "nms_interface_received_bytes_total{" in text and "nms_agent_poll_duration_seconds_bucket{" in text
    proc = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
