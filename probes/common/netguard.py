"""One place that decides which addresses this software may send packets to.

Tests, demos and benchmarks must only ever talk to loopback.  Every SNMP, SSH or
ICMP target passes through :func:`check_target`; a real deployment opts in to
other addresses by setting ``NMS_ALLOW_NETWORK=1``.
"""

from __future__ import annotations

import ipaddress
import os


class TargetNotAllowed(ValueError):
    """Raised for a target outside loopback when the network is not allowed."""


def network_allowed() -> bool:
    return os.environ.get("NMS_ALLOW_NETWORK") == "1"


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


LOCALHOST_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


def check_target(host: str) -> str:
    """Return ``host`` if it may be contacted, else raise :class:`TargetNotAllowed`.

    Without ``NMS_ALLOW_NETWORK=1`` a name other than ``localhost`` is refused without being
    resolved: asking a resolver would itself send a DNS query off this machine.
    """
    if network_allowed():
        return host
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        if host.lower().rstrip(".") in LOCALHOST_NAMES:
            return host
        raise TargetNotAllowed(
            f"{host}: a name, not resolved: without NMS_ALLOW_NETWORK=1 only loopback addresses "
            "(127.0.0.0/8, ::1) and localhost are contacted, and resolving a name would query DNS"
        ) from None
    if not addr.is_loopback:
        raise TargetNotAllowed(
            f"{host}: refusing to contact {addr}, outside 127.0.0.0/8 and ::1 "
            "(set NMS_ALLOW_NETWORK=1 on a real deployment)"
        )
    return host
