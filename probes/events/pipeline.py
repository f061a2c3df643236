"""From a received notification or syslog message to an :class:`~.model.Event`.

Admission (flood control) runs before any decoding; then the sender is mapped to its
device and the device's profile rules give the meaning.  Whatever is not understood is
still kept: an unknown notification OID as ``unknown-trap``, an unmatched line as
``syslog``, an unknown sender as ``unknown-source`` (rate-limited far more strictly).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from probes.events.flood import FloodGate
from probes.events.model import FLOOD, SYSLOG_OTHER, UNKNOWN_SOURCE, UNKNOWN_TRAP, Event, Origin, Severity
from probes.events.notification import Notification
from probes.events.sources import SourceMap
from probes.events.syslog import SyslogMessage

_SYSLOG_SEVERITY: tuple[Severity, ...] = ("critical", "critical", "critical", "major", "warning",
                                          "info", "info", "info")
Emit = Callable[[Event], None]


@dataclass
class EventPipeline:
    """Turns what the receivers hand over into events for ``emit``; ``flush()`` (every few
    seconds) reports what flood control held back."""

    sources: SourceMap
    emit: Emit
    clock: Callable[[], float] = time.time
    known: FloodGate = field(default_factory=FloodGate)
    # one unknown sender: 5 events at once, then one a minute, the rest counted
    unknown: FloodGate = field(default_factory=lambda: FloodGate(rate=1 / 60, burst=5))

    def admit(self, source: str) -> bool:
        gate = self.known if self.sources.lookup(source) is not None else self.unknown
        return gate.admit(source)

    def _unknown(self, source: str, text: str, raw: bytes, origin: Origin) -> None:
        self.emit(Event(self.clock(), source, None, UNKNOWN_SOURCE, "", "warning",
                        f"from a source not in the inventory: {text}", raw, origin))

    def on_trap(self, note: Notification, source: str, raw: bytes) -> None:
        src = self.sources.lookup(source)
        if src is None:
            self._unknown(source, f"notification {note.trap_oid}", raw, "trap")
            return
        meaning = src.rules.trap(note) or self.sources.all_rules.trap(note)
        if meaning is None:
            vbs = ", ".join(f"{oid}={v!r}" for oid, v in note.varbinds[:8])
            self.emit(Event(self.clock(), source, src.device, UNKNOWN_TRAP, "", "info",
                            f"{note.trap_oid}: {vbs}", raw, "trap"))
            return
        self.emit(Event(self.clock(), source, src.device, meaning.kind, meaning.subject,
                        meaning.severity, meaning.text, raw, "trap", meaning.clears))

    def on_syslog(self, msg: SyslogMessage, source: str) -> None:
        line = f"{msg.app}: {msg.text}" if msg.app else msg.text
        src = self.sources.lookup(source)
        if src is None:
            self._unknown(source, line[:200], msg.raw, "syslog")
            return
        meaning = src.rules.syslog_line(line)
        if meaning is None:
            self.emit(Event(self.clock(), source, src.device, SYSLOG_OTHER, "",
                            _SYSLOG_SEVERITY[msg.severity], line, msg.raw, "syslog"))
            return
        self.emit(Event(self.clock(), source, src.device, meaning.kind, meaning.subject,
                        meaning.severity, line, msg.raw, "syslog", meaning.clears))

    def flush(self) -> int:
        """Emit one summary per source that was held back; the number of events emitted."""
        now, n = self.clock(), 0
        for gate, kind in ((self.known, FLOOD), (self.unknown, UNKNOWN_SOURCE)):
            for source, (count, _since) in gate.held().items():
                src = self.sources.lookup(source)
                self.emit(Event(now, source, src.device if src else None, kind, "", "warning",
                                f"{count} messages held back by flood control", b"", "receiver",
                                count=count))
                n += 1
        return n
