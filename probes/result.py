"""The poll result as one typed record: the only place the agent side writes its shape.

The poller fills a :class:`PollResult` plugin by plugin; the scheduler builds one for a
poll that could not run.  What travels (spool, batch, centre) is :meth:`PollResult.to_dict`,
the JSON object of docs/profiles.md, key for key as it always was; the centre checks it
with ``nms.pipeline.validate_poll``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class PollResult:
    """One device, one poll.  ``failed_plugin`` says which plugin was running when the poll
    failed; it is for logs and tests and does not travel (the wire carries ``error``)."""

    device: str
    ts: float
    profile: str | None = None
    ok: bool = False
    error: str | None = None
    duration_s: float = 0.0
    identity: dict[str, Any] = field(default_factory=dict)
    interfaces: list[dict[str, Any]] = field(default_factory=list)
    health: dict[str, float] = field(default_factory=dict)
    sessions: int | float | None = None
    tunnels: list[dict[str, Any]] = field(default_factory=list)
    sdh: list[dict[str, Any]] = field(default_factory=list)
    failed_plugin: str | None = None

    def fail(self, error: str, plugin: str | None = None) -> None:
        """A failed poll reports no data at all: half a device's tables would read as a change."""
        self.ok, self.error, self.failed_plugin = False, error, plugin
        self.identity, self.interfaces, self.health = {}, [], {}
        self.sessions, self.tunnels, self.sdh = None, [], []

    def to_dict(self) -> dict[str, Any]:
        """The JSON object on the wire (docs/profiles.md, "The poll result")."""
        return {
            "device": self.device,
            "ts": self.ts,
            "ok": self.ok,
            "error": self.error,
            "duration_s": self.duration_s,
            "profile": self.profile,
            "identity": self.identity,
            "interfaces": self.interfaces,
            "health": self.health,
            "sessions": self.sessions,
            "tunnels": self.tunnels,
            "sdh": self.sdh,
        }
