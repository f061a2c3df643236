"""The SNMP interface both clients implement: the target, the values, the errors.

Apart from :mod:`probes.snmp` (which picks a client) so that the clients import these
without importing the package that imports them.
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
