"""One place that decides which addresses this software may send packets to.

Tests, demos and benchmarks must only ever talk to loopback.  Every SNMP, SSH or
ICMP target passes through :func:`check_target`; a real deployment opts in to
other addresses by setting ``NMS_ALLOW_NETWORK=1``.
"""

from __future__ import annotations

import ipaddress
import os
import socket


class TargetNotAllowed(ValueError):
    """Raised for a target outside loopback when the network is not allowed."""


def network_allowed() -> bool:
    return os.environ.get("NMS_ALLOW_NETWORK") == "1"


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def check_target(host: str) -> str:
    """Return ``host`` if it may be contacted, else raise :class:`TargetNotAllowed`.

    Names are resolved first so that a name pointing outside loopback is caught too.
    """
    if network_allowed():
        return host
    candidates = [host]
    try:
        ipaddress.ip_address(host)
    except ValueError:
        try:
            candidates = [ai[4][0] for ai in socket.getaddrinfo(host, None)]
        except OSError as exc:
            raise TargetNotAllowed(f"{host}: cannot resolve ({exc})") from None
    for addr in candidates:
        if not is_loopback(addr):
            raise TargetNotAllowed(
                f"{host}: refusing to contact {addr}, outside 127.0.0.0/8 and ::1 "
                "(set NMS_ALLOW_NETWORK=1 on a real deployment)"
            )
    return host
