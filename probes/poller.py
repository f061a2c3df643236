"""Poll one device once and return the poll result (see docs/profiles.md).

:class:`Poller` owns the shared limits (requests in flight, time budget) so the
agent can poll thousands of devices concurrently without overrunning itself.
"""

from __future__ import annotations

from probes.snmp import Target


class Poller:
    """Polls devices; one instance per agent process.

    ``max_in_flight`` bounds concurrently polled devices; it halves when devices
    time out and grows back as they answer.
    """

    def __init__(self, max_in_flight: int = 256, impl: str = "auto") -> None:
        raise NotImplementedError

    async def poll(self, target: Target, profile: str = "auto", expected_peers=()) -> dict:
        """Poll ``target`` once. Never raises for device problems: ``ok`` False + ``error``."""
        raise NotImplementedError

    async def close(self) -> None:
        """Release sockets."""
