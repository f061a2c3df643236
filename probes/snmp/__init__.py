"""SNMP client behind a small interface: ``get``, ``walk`` of several columns, ``close``.

Two implementations share it: gufo-snmp (fast, Rust) and pysnmp 7 (fallback for
anything gufo cannot express).  Callers only see :class:`Target`, :class:`SnmpClient`,
:class:`~probes.snmp.credential.Credential` and the errors below, so the poller never
depends on either library.
"""

from __future__ import annotations

from probes.common.netguard import check_target
from probes.snmp.base import (
    SnmpAuthError,
    SnmpClient,
    SnmpError,
    SnmpGarbage,
    SnmpTimeout,
    Target,
    Value,
)
from probes.snmp.credential import Credential

__all__ = [
    "Credential",
    "SnmpAuthError",
    "SnmpClient",
    "SnmpError",
    "SnmpGarbage",
    "SnmpTimeout",
    "Target",
    "Value",
    "open_client",
]


async def open_client(target: Target, impl: str = "auto", recv_buffer: int = 4 << 20) -> SnmpClient:
    """Open a client for ``target`` after :func:`probes.common.netguard.check_target`."""
    check_target(target.host)
    if impl == "auto":
        impl = "gufo" if _gufo_can(target.credential) else "pysnmp"
    if impl == "gufo":
        from probes.snmp.gufo_client import GufoClient

        return await GufoClient.open(target, recv_buffer=recv_buffer)
    from probes.snmp.pysnmp_client import PysnmpClient

    return await PysnmpClient.open(target)


def _gufo_can(cred: Credential) -> bool:
    """gufo 0.13 covers v1/v2c/v3 with MD5/SHA*/DES/AES* and both key extensions; not contexts."""
    return not cred.context
