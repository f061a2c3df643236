"""The agent's event lane: receivers -> spool (ahead of poll batches) -> confirming re-polls.

What a device says on its own (:mod:`probes.events`: traps, syslog) is committed to the
spool's ``pending_events`` in small groups and sealed into batches of its own at once, so a
trap reaches the centre in about a second while poll results wait for their batch interval.
Flood control already ran in the receivers (one chatty source is counted, not processed);
the spool bounds what is left.

Confirm, don't trust: an event about an interface or the device itself makes the agent
poll that device at once (a normal poll, marked ``confirm``), at most once per
``min_gap_s`` per device; events in between are folded into one trailing poll.  The
centre changes state from that poll, never from the event (:mod:`nms.state`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from probes.agent.config import DeviceJob
from probes.agent.logs import log
from probes.agent.push import Forwarder
from probes.agent.spool import Spool
from probes.events.model import Event

#: event kinds that say something the next poll can check (interface, protocol, tunnel, reboot)
CONFIRM_KINDS = frozenset({
    "link-down", "link-up", "protocol-down", "protocol-up", "tunnel-down", "tunnel-up",
    "cold-start", "warm-start", "bgp-down", "bgp-up", "ospf-down", "ospf-up",
})
SEAL_DELAY_S = 0.2  # events arriving together (a flap, a burst) share a batch
MAX_EVENTS_PER_BATCH = 1000

Poll = Callable[[DeviceJob], Awaitable[dict[str, Any]]]
OnResult = Callable[[DeviceJob, dict[str, Any]], None]


class Confirmer:
    """Out-of-turn polls of one device at a time, rate-limited per device."""

    def __init__(self, poll: Poll, on_result: OnResult, after: Callable[[], None],
                 min_gap_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.poll = poll
        self.on_result = on_result
        self.after = after  # seal and send at once: the centre waits for this poll
        self.min_gap_s = min_gap_s
        self.clock = clock
        self.jobs: dict[str, DeviceJob] = {}
        self._last: dict[str, float] = {}
        self._queued: dict[str, list[str]] = {}  # device -> reasons waiting for the next poll
        self._marked: set[str] = set()  # devices whose next poll is a confirmation (not a refresh)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.polls = 0
        self.folded = 0  # requests that joined a poll already planned

    def set_jobs(self, jobs: list[DeviceJob]) -> None:
        self.jobs = {j.name: j for j in jobs if j.problem is None}

    def request(self, device: str | None, why: str, confirm: bool = True) -> bool:
        """Ask for a poll of ``device`` now; False if this agent does not poll it.

        ``confirm``: the poll checks what something reported (the centre lets it decide
        at once); otherwise it only refreshes the centre's view (ordinary hysteresis)."""
        if device is None or device not in self.jobs:
            return False
        if confirm:
            self._marked.add(device)
        reasons = self._queued.setdefault(device, [])
        if reasons or device in self._tasks:
            self.folded += 1
        if why not in reasons:
            reasons.append(why)
        if device not in self._tasks:
            self._tasks[device] = asyncio.get_running_loop().create_task(
                self._run(device), name=f"confirm:{device}")
        return True

    async def _run(self, device: str) -> None:
        try:
            while self._queued.get(device):
                wait = self._last.get(device, -1e9) + self.min_gap_s - self.clock()
                if wait > 0:
                    await asyncio.sleep(wait)
                job = self.jobs.get(device)
                reasons = self._queued.pop(device, [])
                marked = device in self._marked
                self._marked.discard(device)
                if job is None or not reasons:
                    break
                self._last[device] = self.clock()
                result = await self.poll(job)
                if marked:
                    result["confirm"] = "; ".join(reasons)[:500]
                self.polls += 1
                self.on_result(job, result)
                self.after()
        finally:
            self._tasks.pop(device, None)

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class EventLane:
    """``emit`` for the receivers: buffer, commit to the spool, seal ahead, ask for confirmation."""

    def __init__(self, spool: Spool, forwarder: Forwarder, confirmer: Confirmer,
                 seal_delay_s: float = SEAL_DELAY_S) -> None:
        self.spool = spool
        self.forwarder = forwarder
        self.confirmer = confirmer
        self.seal_delay_s = seal_delay_s
        self._buffer: list[dict[str, Any]] = []
        self._wake = asyncio.Event()
        self.received = 0

    def emit(self, ev: Event) -> None:
        self.received += 1
        self._buffer.append(ev.as_dict())
        self._wake.set()
        if ev.kind in CONFIRM_KINDS:
            what = f"{ev.origin} {ev.kind} {ev.subject}".strip()
            self.confirmer.request(ev.device, what)

    def flush(self) -> int:
        """Commit the buffered events and seal every pending event into batches; batches sealed."""
        if self._buffer:
            buf, self._buffer = self._buffer, []
            kept = self.spool.put_events(buf)
            if kept < len(buf):
                log("warning", "events dropped, spool's event bound reached", dropped=len(buf) - kept)
        n = 0
        while (batch := self.spool.seal_events(MAX_EVENTS_PER_BATCH)) is not None:
            self.forwarder.submit(batch)
            n += 1
        return n

    async def sealer(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(self.seal_delay_s)
            self._wake.clear()
            self.flush()
