"""The receivers of one agent, built from its inventory: what ``agent.py run`` starts with
``--trap-listen`` / ``--syslog-listen`` (its events go to :mod:`probes.agent.events`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from probes.common.inventory_model import Inventory
from probes.common.secrets import resolve
from probes.events.model import Event
from probes.events.pipeline import Emit, EventPipeline
from probes.events.rules import PROFILE_DIR, load_rules
from probes.events.sources import SourceMap
from probes.events.syslog import SyslogReceiver, serve_syslog
from probes.events.traps import DEFAULT_ENGINE_ID, TrapReceiver, next_boots, serve_traps
from probes.snmp.credential import Credential

log = logging.getLogger(__name__)
#: counters that are not refusals (syslog decoded as GB18030 is fine, not an error)
_NOT_REFUSALS = {"packets", "notifications", "messages", "gb18030", "discovery"}


def parse_listen(text: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:port`` for IPv6) -> (host, port); ValueError says what is wrong."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"listen address {text!r}: expected host:port")
    return host.strip("[]") or "0.0.0.0", int(port)


def credentials(inventory: Inventory, devices: Iterable[str] | None = None,
                secrets_file: Path | str | None = None) -> list[Credential]:
    """The resolved credentials the given devices (default: all) name, each once."""
    names = {inventory.devices[d].credential for d in (devices or inventory.devices)}
    return [resolve(inventory.credentials[n], secrets_file) for n in sorted(names)]


@dataclass
class EventService:
    """Trap and syslog receivers feeding one pipeline."""

    inventory: Inventory
    emit: Emit
    creds: list[Credential]
    sim: bool = False
    profile_dir: Path = PROFILE_DIR
    engine_id: bytes = DEFAULT_ENGINE_ID
    state_dir: Path | None = None  # keeps the engine boots counter; None: boots stays 1
    _closers: list = field(default_factory=list)
    _logged: dict[str, dict[str, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._rules = load_rules(self.profile_dir)
        sources = SourceMap(self.inventory, self._rules, self.sim)
        self.pipeline = EventPipeline(sources, self.emit)
        self.traps = TrapReceiver(self.pipeline.on_trap,
                                  communities=_communities(self.creds),
                                  users=[c for c in self.creds if c.version == "v3"],
                                  engine_id=self.engine_id, admit=self.pipeline.admit,
                                  boots=next_boots(self.state_dir / "engine-boots") if self.state_dir else 1)
        self.syslog = SyslogReceiver(self.pipeline.on_syslog, admit=self.pipeline.admit)

    def update(self, inventory: Inventory, creds: list[Credential]) -> None:
        """The agent's devices changed (SIGHUP, a new assignment): senders and credentials follow;
        the listening sockets, counters and flood control stay."""
        self.inventory, self.creds = inventory, creds
        self.pipeline.sources = SourceMap(inventory, self._rules, self.sim)
        self.traps.set_credentials(_communities(creds), [c for c in creds if c.version == "v3"])

    async def start(self, trap_listen: str | None, syslog_listen: str | None,
                    flush_s: float = 5.0) -> None:
        if trap_listen:
            self._closers.append(await serve_traps(self.traps, *parse_listen(trap_listen)))
        if syslog_listen:
            udp, tcp = await serve_syslog(self.syslog, *parse_listen(syslog_listen))
            self._closers += [udp, tcp]
        self._flusher = asyncio.create_task(self._flush_every(flush_s))

    async def _flush_every(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            self.pipeline.flush()
            self.log_refusals()

    def log_refusals(self) -> None:
        """One log line per receiver naming what it refused since the last call (bad BER,
        wrong community, wrong digest, unknown user, oversize, invalid, held back, ...)."""
        for name, stats in self.stats().items():
            seen = self._logged.setdefault(name, {})
            new = {k: v - seen.get(k, 0) for k, v in stats.items()
                   if k not in _NOT_REFUSALS and v != seen.get(k, 0)}
            if new:
                log.warning("%s receiver refused or held back: %s", name,
                            ", ".join(f"{k} {v}" for k, v in sorted(new.items())))
            seen.update(stats)

    async def stop(self) -> None:
        self._flusher.cancel()
        for c in self._closers:
            c.close()
        self.pipeline.flush()
        self.log_refusals()

    def stats(self) -> dict[str, dict[str, int]]:
        return {"traps": dict(self.traps.stats), "syslog": dict(self.syslog.stats)}


def _communities(creds: Iterable[Credential]) -> list[str]:
    return sorted({c.community for c in creds if c.version != "v3" and c.community})


__all__ = ["Event", "EventService", "credentials", "parse_listen"]
