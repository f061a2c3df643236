"""SNMP client behind a small interface: ``get``, ``walk`` of several columns, ``close``.

Two implementations share it: gufo-snmp (fast, Rust) and pysnmp 7 (fallback for
anything gufo cannot express).  Callers only see :class:`Target`, :class:`SnmpClient`,
:class:`~probes.snmp.credential.Credential` and the errors below, so the poller never
depends on either library.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from probes.snmp.credential import Credential

#: Value as returned by a client: int, bytes (OCTET STRING), str (OID), or None for
#: noSuchObject / noSuchInstance / endOfMibView.
Value = int | bytes | str | float | None


class SnmpError(Exception):
    """Any failure talking to a device; ``kind`` is the short poll-result error."""

    kind = "snmp"


class SnmpTimeout(SnmpError):
    kind = "timeout"


class SnmpAuthError(SnmpError):
    kind = "auth"


class SnmpGarbage(SnmpError):
    kind = "garbage"


@dataclass
class Target:
    """One device to poll: where, with which credential, how patiently."""

    host: str
    port: int = 161
    credential: Credential = field(default_factory=Credential)
    timeout: float = 2.0
    retries: int = 1
    name: str = ""
    max_repetitions: int | None = None


class SnmpClient(Protocol):
    """What the poller needs from an SNMP implementation."""

    async def get(self, oids: Sequence[str]) -> dict[str, Value]:
        """GET several OIDs at once; missing ones map to None."""

    async def walk(self, columns: Sequence[str], max_repetitions: int = 25) -> dict[str, dict[str, Value]]:
        """Walk several columns; returns {column: {index_suffix: value}}."""

    async def close(self) -> None: ...


async def open_client(target: Target, impl: str = "auto", recv_buffer: int = 4 << 20) -> SnmpClient:
    """Open a client for ``target`` after :func:`probes.common.netguard.check_target`."""
    from probes.common.netguard import check_target

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
