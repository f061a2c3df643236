"""The one normalised event record every receiver produces."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["critical", "major", "minor", "warning", "info"]
SEVERITIES: tuple[str, ...] = ("critical", "major", "minor", "warning", "info")
Origin = Literal["trap", "syslog", "receiver"]

#: kinds the receivers emit themselves, whatever the profiles say
UNKNOWN_SOURCE = "unknown-source"
UNKNOWN_TRAP = "unknown-trap"
SYSLOG_OTHER = "syslog"
FLOOD = "flood"


@dataclass(slots=True)
class Event:
    """What a device said, with its meaning: ``kind`` from the profile, ``raw`` as received.

    ``device`` is None for a source the inventory does not know. ``clears`` names the kind
    this event ends for the same device and subject (linkUp clears link-down).
    """

    time: float  # epoch seconds, when received
    source: str  # sender's IP address
    device: str | None
    kind: str
    subject: str  # interface, peer, entity, ... ("" for the whole device)
    severity: Severity
    text: str
    raw: bytes = field(repr=False)
    origin: Origin = "trap"
    clears: str | None = None
    count: int = 1  # >1 for an aggregated flood summary

    def as_dict(self) -> dict:
        """The JSON form an agent sends and the centre's event log takes (``raw`` as hex)."""
        return {"time": self.time, "source": self.source, "device": self.device, "kind": self.kind,
                "subject": self.subject, "severity": self.severity, "text": self.text,
                "origin": self.origin, "clears": self.clears, "count": self.count, "raw": self.raw.hex()}
