"""ICMP next to SNMP: every poll carries the device's echo results, WAN ends are pinged more often.

Each poll pings its device once while SNMP runs, so a device whose SNMP fails (wrong
community, v3 key, ACL) but answers ping is told apart from one that is gone.  Ends of
WAN links (:func:`probes.agent.config.wan_ends`) are also pinged every ``ping_every_s``
between polls; the poll takes everything since the previous one (:class:`probes.icmp.Window`),
so RTT and loss over the interval reach the centre as one sample.  The echoes run on a
thread of their own (its own event loop): on the agent's loop, busy decoding SNMP for a
thousand devices, a reply would wait its turn and the RTT would measure the agent.
"""

from __future__ import annotations

import asyncio
import threading

from probes import icmp
from probes.agent.config import DeviceJob
from probes.agent.logs import log
from probes.common.netguard import TargetNotAllowed


class Pinger:
    def __init__(self, timeout_s: float = 1.0, concurrency: int = 200) -> None:
        self.privileged = icmp.socket_mode()  # raises IcmpUnavailable: the caller decides what that means
        self.timeout_s = timeout_s
        self._sem = asyncio.Semaphore(concurrency)
        self._windows: dict[str, icmp.Window] = {}
        self._loops: dict[str, tuple[DeviceJob, asyncio.Task[None]]] = {}
        self._warned = False
        self._icmp_loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._icmp_loop.run_forever, name="icmp", daemon=True)
        self._thread.start()

    async def echo(self, job: DeviceJob) -> None:
        """One echo to the device, added to its window; a failure to ping is logged once, not raised."""
        async with self._sem:
            try:
                echo = icmp.async_probe(job.host, self.timeout_s, self.privileged)
                host = await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(echo, self._icmp_loop))
            except (icmp.IcmpUnavailable, TargetNotAllowed, OSError) as exc:
                if not self._warned:
                    log("warning", "ping failed", device=job.name, error=str(exc))
                    self._warned = True
                return
        self._windows.setdefault(job.name, icmp.Window()).add(host)

    async def at_poll(self, job: DeviceJob) -> dict | None:
        """The poll's ``icmp`` field: one echo now plus those since the previous poll."""
        await self.echo(job)
        window = self._windows.pop(job.name, None)
        return window.result() if window is not None and window.sent else None

    # -- WAN ends: pinged between polls ----------------------------------------------
    def apply(self, jobs: list[DeviceJob]) -> None:
        """Ping loops for the jobs that ask for one; loops of removed or changed jobs stop."""
        wanted = {j.name: j for j in jobs if j.problem is None and j.ping_every_s}
        for name, (job, task) in list(self._loops.items()):
            if wanted.get(name) != job:
                task.cancel()
                del self._loops[name]
        for name, job in wanted.items():
            if name not in self._loops:
                task = asyncio.get_running_loop().create_task(self._loop(job), name=f"ping:{name}")
                self._loops[name] = (job, task)
        for name in set(self._windows) - {j.name for j in jobs}:
            del self._windows[name]

    async def _loop(self, job: DeviceJob) -> None:
        assert job.ping_every_s
        while True:
            await asyncio.sleep(job.ping_every_s)
            await self.echo(job)

    async def stop(self) -> None:
        tasks = [task for _, task in self._loops.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loops.clear()
        self._icmp_loop.call_soon_threadsafe(self._icmp_loop.stop)
        await asyncio.to_thread(self._thread.join, 5)
