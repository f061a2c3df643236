"""When each device is polled: its own interval, jittered, never waiting for another device.

One asyncio task per device.  The first poll starts at a random offset within the
interval so a hundred devices do not poll in the same second; afterwards the next poll
starts ``interval - runtime`` after the last one started.  A device that fails backs off
(interval x 1, 2, 4, 8, capped) so an unreachable box is reported, not hammered.  The
device set can be replaced while running (SIGHUP) without touching the state of
devices that stay, and :meth:`Scheduler.stop` lets in-flight polls finish.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from probes.agent.config import DeviceJob
from probes.agent.logs import log
from probes.result import PollResult

PollFn = Callable[[DeviceJob], Awaitable[dict[str, Any]]]
ResultFn = Callable[[DeviceJob, dict[str, Any]], None]


def failed_result(job: DeviceJob, error: str, started: float, duration: float) -> dict[str, Any]:
    """A poll result for a poll that could not run or did not finish (contract shape)."""
    result = PollResult(device=job.name, ts=started, profile=job.profile, ok=False, error=error)
    result.duration_s = round(duration, 4)
    return result.to_dict()


def backoff_delay(interval: float, failures: int, cap_factor: int = 8, cap_s: float = 900.0) -> float:
    """Seconds between polls of a device after ``failures`` consecutive failures."""
    if failures <= 1:
        return interval
    return max(interval, min(interval * min(2 ** (failures - 1), cap_factor), cap_s))


@dataclass
class DeviceState:
    job: DeviceJob
    failures: int = 0
    polls: int = 0
    next_due: float = 0.0  # monotonic time the next poll should start
    polling_since: float | None = None
    last_ok: bool | None = None
    last_error: str | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class Scheduler:
    def __init__(
        self,
        poll: PollFn,
        on_result: ResultFn,
        *,
        jitter: bool = True,
        max_concurrent: int = 64,
        deadline_s: Callable[[DeviceJob], float] | None = None,
        rng: random.Random | None = None,
        backoff: bool = True,
    ) -> None:
        self._poll = poll
        self._on_result = on_result
        self._jitter = jitter
        self._sem = asyncio.Semaphore(max_concurrent)
        self._deadline = deadline_s or (lambda job: max(30.0, job.interval_s))
        self._rng = rng or random.Random()
        self._backoff = backoff  # False: every job keeps its interval (portals: a finding is no failure)
        self.devices: dict[str, DeviceState] = {}
        self._stopping = asyncio.Event()

    # -- device set ---------------------------------------------------------------
    def apply(self, jobs: list[DeviceJob]) -> dict[str, list[str]]:
        """Make the polled set equal ``jobs``; devices that stay keep their state."""
        wanted = {j.name: j for j in jobs if j.problem is None}
        added, removed, changed = [], [], []
        for name, state in list(self.devices.items()):
            if name not in wanted:
                state.stop.set()
                del self.devices[name]
                removed.append(name)
            elif state.job != wanted[name]:
                state.job = wanted[name]  # read at the next poll
                changed.append(name)
        for name, job in wanted.items():
            if name not in self.devices:
                state = DeviceState(job)
                offset = self._rng.uniform(0, job.interval_s) if self._jitter else 0.0
                state.next_due = time.monotonic() + offset
                state.task = asyncio.get_running_loop().create_task(
                    self._run(state, offset), name=f"poll:{name}"
                )
                self.devices[name] = state
                added.append(name)
        return {"added": sorted(added), "removed": sorted(removed), "changed": sorted(changed)}

    def tasks(self) -> list[asyncio.Task[None]]:
        return [s.task for s in self.devices.values() if s.task is not None]

    # -- one device ---------------------------------------------------------------
    async def _sleep(self, state: DeviceState, seconds: float) -> bool:
        """Sleep unless told to stop; returns False when the device must stop."""
        if state.stop.is_set() or self._stopping.is_set():
            return False
        stop_any = asyncio.ensure_future(state.stop.wait())
        stop_all = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait(
                {stop_any, stop_all}, timeout=max(0.0, seconds), return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            stop_any.cancel()
            stop_all.cancel()
        return not (state.stop.is_set() or self._stopping.is_set())

    async def _run(self, state: DeviceState, offset: float) -> None:
        if not await self._sleep(state, offset):
            return
        while True:
            job = state.job
            start_wall, start = time.time(), time.monotonic()
            state.polling_since = start
            result = await self._poll_once(job, start_wall)
            runtime = time.monotonic() - start
            state.polling_since = None
            state.polls += 1
            state.last_ok = bool(result.get("ok"))
            state.last_error = result.get("error")
            if state.last_ok:
                if state.failures:
                    log("info", "device reachable again", device=job.name, after_failures=state.failures)
                state.failures = 0
            else:
                state.failures += 1
                if self._backoff and (state.failures == 1 or state.failures % 10 == 0):
                    log(
                        "warning",
                        "device unreachable",
                        device=job.name,
                        site=job.site,
                        error=state.last_error,
                        failures=state.failures,
                    )
            try:
                self._on_result(job, result)
            except Exception as exc:  # a bug downstream must not stop this device's polling
                log("error", "handling poll result failed", device=job.name, error=repr(exc))
            failures = state.failures if self._backoff else 0
            delay = backoff_delay(job.interval_s, failures) - runtime
            state.next_due = time.monotonic() + max(0.0, delay)
            if not await self._sleep(state, delay):
                return

    async def _poll_once(self, job: DeviceJob, started: float) -> dict[str, Any]:
        t0 = time.monotonic()
        async with self._sem:
            try:
                result = await asyncio.wait_for(self._poll(job), timeout=self._deadline(job))
            except TimeoutError:
                return failed_result(job, "timeout", started, time.monotonic() - t0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the poller must not raise; if it does, report, don't die
                log("error", "poller raised", device=job.name, error=repr(exc))
                return failed_result(
                    job, f"agent: {type(exc).__name__}: {exc}", started, time.monotonic() - t0
                )
        result["device"] = job.name
        return result

    # -- whole agent --------------------------------------------------------------
    def overdue(self, now: float | None = None) -> int:
        """Devices whose poll should have started (or finished) a while ago."""
        now = time.monotonic() if now is None else now
        count = 0
        for state in self.devices.values():
            grace = max(5.0, state.job.interval_s * 0.5)
            if state.polling_since is not None:
                count += now - state.polling_since > self._deadline(state.job) + grace
            else:
                count += now > state.next_due + grace
        return count

    async def stop(self, grace_s: float = 30.0) -> None:
        """No new polls; wait up to ``grace_s`` for polls in flight, then cancel what is left."""
        self._stopping.set()
        tasks = self.tasks()
        if not tasks:
            return
        done, pending = await asyncio.wait(tasks, timeout=grace_s)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
