"""ICMP echo for reachability: the agent calls :func:`probe` and puts the result in the poll.

The poll result's ``"icmp"`` field is ``{"alive": bool, "rtt_ms": float | None}`` or
null when not probed.  Unprivileged ICMP sockets are used where the kernel allows them
(``net.ipv4.ping_group_range`` covers our group); otherwise raw sockets if we have the
privilege; otherwise :class:`IcmpUnavailable` says exactly why, once, instead of every
device silently looking dead.  Every target passes :func:`nms.netguard.check_target`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import icmplib

from nms.netguard import check_target

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


def _result(host: icmplib.Host) -> dict[str, Any]:
    return {"alive": bool(host.is_alive), "rtt_ms": round(host.avg_rtt, 3) if host.is_alive else None}


def probe(address: str, timeout: float = 1.0, count: int = 1) -> dict[str, Any]:
    """One device: ``{"alive": ..., "rtt_ms": ...}``; raises IcmpUnavailable / TargetNotAllowed."""
    check_target(address)
    try:
        host = icmplib.ping(
            address, count=count, interval=0.05, timeout=timeout, privileged=socket_mode()
        )
    except icmplib.SocketPermissionError as exc:
        raise IcmpUnavailable(f"ICMP unavailable: {exc}") from None
    return _result(host)


async def probe_many(
    addresses: Iterable[str], timeout: float = 1.0, concurrency: int = 200
) -> dict[str, dict]:
    """Many devices at once (the agent's poll cycle); {address: result}."""
    addrs = list(dict.fromkeys(addresses))
    for a in addrs:
        check_target(a)
    privileged = socket_mode()
    sem = asyncio.Semaphore(concurrency)

    async def one(a: str) -> tuple[str, dict]:
        async with sem:
            try:
                host = await icmplib.async_ping(a, count=1, timeout=timeout, privileged=privileged)
            except icmplib.SocketPermissionError as exc:
                raise IcmpUnavailable(f"ICMP unavailable: {exc}") from None
            return a, _result(host)

    return dict(await asyncio.gather(*(one(a) for a in addrs)))
