"""ICMP echo for reachability: the agent pings each device and puts the result in its poll.

The poll result's ``"icmp"`` field is ``{"alive": bool, "rtt_ms": float | None,
"loss_pct": float, "sent": int}`` (echoes since the previous poll, see :class:`Window`)
or null when not probed.  Unprivileged ICMP sockets are used where the kernel allows
them (``net.ipv4.ping_group_range`` covers our group); otherwise raw sockets if we have
the privilege; otherwise :class:`IcmpUnavailable` says exactly why, once, instead of
every device silently looking dead.  Every target passes :func:`probes.common.netguard.check_target`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import icmplib

from probes.common.netguard import check_target

PING_GROUP_RANGE = Path("/proc/sys/net/ipv4/ping_group_range")


class IcmpUnavailable(RuntimeError):
    """This process can open neither an unprivileged nor a raw ICMP socket."""


def unprivileged_allowed() -> bool:
    """Does ``net.ipv4.ping_group_range`` include one of our groups?"""
    try:
        lo, hi = (int(x) for x in PING_GROUP_RANGE.read_text().split())
    except (OSError, ValueError):
        return False
    return any(lo <= g <= hi for g in {os.getgid(), *os.getgroups()})


def socket_mode() -> bool:
    """``privileged`` argument for icmplib: False (unprivileged) when possible."""
    if unprivileged_allowed():
        return False
    if os.geteuid() == 0:
        return True
    raise IcmpUnavailable(
        f"ICMP unavailable: {PING_GROUP_RANGE} does not include group {os.getgid()} and the process is not "
        'root; run `sysctl -w net.ipv4.ping_group_range="0 2147483647"` or give the agent CAP_NET_RAW'
    )


def available() -> bool:
    """Can this process ping at all (see :func:`socket_mode`)?"""
    try:
        socket_mode()
    except IcmpUnavailable:
        return False
    return True


@dataclass
class Window:
    """Echoes sent and answered since the last poll took them (WAN ends are pinged in between)."""

    sent: int = 0
    received: int = 0
    rtt_sum_ms: float = 0.0
    last_alive: bool = False

    def add(self, host: icmplib.Host) -> None:
        self.sent += host.packets_sent
        self.received += host.packets_received
        self.rtt_sum_ms += host.avg_rtt * host.packets_received
        self.last_alive = bool(host.is_alive)

    def result(self) -> dict[str, Any]:
        """The poll's ``icmp`` field: alive = the latest echo answered; RTT and loss over the window."""
        return {
            "alive": self.last_alive,
            "rtt_ms": round(self.rtt_sum_ms / self.received, 3) if self.received else None,
            "loss_pct": round(100.0 * (self.sent - self.received) / self.sent, 1) if self.sent else None,
            "sent": self.sent,
        }


def probe(address: str, timeout: float = 1.0, count: int = 1) -> dict[str, Any]:
    """One device: the ``icmp`` field; raises IcmpUnavailable / TargetNotAllowed."""
    check_target(address)
    try:
        host = icmplib.ping(address, count=count, interval=0.05, timeout=timeout, privileged=socket_mode())
    except icmplib.SocketPermissionError as exc:
        raise IcmpUnavailable(f"ICMP unavailable: {exc}") from None
    w = Window()
    w.add(host)
    return w.result()


async def async_probe(address: str, timeout: float = 1.0, privileged: bool | None = None) -> icmplib.Host:
    """One echo to one device without blocking the agent's loop; raises IcmpUnavailable / TargetNotAllowed."""
    check_target(address)
    try:
        return await icmplib.async_ping(
            address, count=1, timeout=timeout, privileged=socket_mode() if privileged is None else privileged
        )
    except icmplib.SocketPermissionError as exc:
        raise IcmpUnavailable(f"ICMP unavailable: {exc}") from None


async def probe_many(
    addresses: Iterable[str], timeout: float = 1.0, concurrency: int = 200
) -> dict[str, dict]:
    """Many devices at once; {address: icmp field}."""
    addrs = list(dict.fromkeys(addresses))
    for a in addrs:
        check_target(a)
    privileged = socket_mode()
    sem = asyncio.Semaphore(concurrency)

    async def one(a: str) -> tuple[str, dict]:
        async with sem:
            w = Window()
            w.add(await async_probe(a, timeout, privileged))
            return a, w.result()

    return dict(await asyncio.gather(*(one(a) for a in addrs)))
