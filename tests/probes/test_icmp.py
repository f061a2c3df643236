"""ICMP probe on loopback (real sockets), and the network guard in front of it."""

from __future__ import annotations

import asyncio

import pytest

from probes import icmp
from probes.common.netguard import TargetNotAllowed


@pytest.mark.skipif(not icmp.available(), reason="no ICMP socket here (ping_group_range, not root)")
def test_loopback_answers():
    r = icmp.probe("127.0.0.1", count=3)
    assert r["alive"] is True
    assert r["rtt_ms"] is not None and r["rtt_ms"] >= 0
    assert (r["sent"], r["loss_pct"]) == (3, 0.0)
    many = asyncio.run(icmp.probe_many(["127.34.0.1", "127.34.0.2"]))
    assert set(many) == {"127.34.0.1", "127.34.0.2"}
    assert all(v["alive"] for v in many.values())


def test_real_addresses_refused(monkeypatch):
    monkeypatch.delenv("NMS_ALLOW_NETWORK", raising=False)
    with pytest.raises(TargetNotAllowed):
        icmp.probe("10.34.1.1")


def test_says_why_when_no_socket(monkeypatch, tmp_path):
    rng = tmp_path / "ping_group_range"
    rng.write_text("1\t0\n")
    monkeypatch.setattr(icmp, "PING_GROUP_RANGE", rng)
    monkeypatch.setattr(icmp.os, "geteuid", lambda: 1000)
    with pytest.raises(icmp.IcmpUnavailable, match="ping_group_range"):
        icmp.probe("127.0.0.1")
    rng.write_text("0\t2147483647\n")
    assert icmp.socket_mode() is False  # unprivileged sockets preferred when the kernel allows


@pytest.mark.skipif(not icmp.available(), reason="no ICMP socket here (ping_group_range, not root)")
def test_window_sums_the_echoes_between_polls():
    """A WAN end pinged between polls: the poll carries RTT and loss over all the echoes."""
    w = icmp.Window()
    for _ in range(3):
        w.add(asyncio.run(icmp.async_probe("127.34.0.9")))
    r = w.result()
    assert r["alive"] is True and r["sent"] == 3 and r["loss_pct"] == 0.0
    assert r["rtt_ms"] is not None and 0 <= r["rtt_ms"] < 1000
    assert icmp.Window().result() == {"alive": False, "rtt_ms": None, "loss_pct": None, "sent": 0}


def test_async_probe_refuses_real_addresses(monkeypatch):
    monkeypatch.delenv("NMS_ALLOW_NETWORK", raising=False)
    with pytest.raises(TargetNotAllowed):
        asyncio.run(icmp.async_probe("10.34.1.1", privileged=True))
