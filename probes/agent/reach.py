"""Fast reachability: WAN link ends checked every few seconds, so a cut without a trap is seen.

A full poll every few seconds would cost a core router dearly; instead one SNMP GET asks
for sysUpTime.0 and the ifOperStatus of the device's WAN-link interfaces (ifIndex from its
last poll).  Nothing is sent while the answer agrees with the last poll; a change (no
answer, a WAN interface's status, sysUpTime gone back: a reboot) asks the
:class:`~probes.agent.events.Confirmer` for a poll at once, and that poll's result travels
the normal path.  The probe is a change detector, never evidence on its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from probes.agent.config import DeviceJob
from probes.agent.events import Confirmer
from probes.agent.logs import log
from probes.snmp import SnmpError, Target, open_client

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
IF_OPER = "1.3.6.1.2.1.2.2.1.8"
OPER = {1: "up", 2: "down", 3: "testing", 4: "unknown", 5: "dormant", 6: "notPresent", 7: "lowerLayerDown"}


def what_changed(last: dict[str, Any] | None, answer: dict[str, Any] | None,
                 wan: set[str]) -> str | None:
    """Why the probe's ``answer`` (None: no answer) disagrees with the ``last`` poll, or None."""
    if last is None:
        return None
    if answer is None:
        return "reachability: no SNMP answer" if last.get("ok") else None
    if not last.get("ok"):
        return "reachability: answers again"
    uptime = answer.get(SYS_UPTIME)
    before = (last.get("identity") or {}).get("uptime_s")
    if isinstance(uptime, int) and isinstance(before, int | float) and uptime / 100 + 5 < before:
        return "reachability: sysUpTime went back (restart)"
    for itf in last.get("interfaces") or []:
        if itf.get("name") in wan and itf.get("index") is not None:
            raw = answer.get(f"{IF_OPER}.{int(itf['index'])}")
            now = OPER.get(raw) if isinstance(raw, int) else None
            if now is not None and now != itf.get("oper"):
                return f"reachability: {itf['name']} {now}"
    return None


class Reach:
    """One probe loop per WAN-end device of this agent."""

    def __init__(self, every_s: float, target_of: Callable[[DeviceJob], Target],
                 last_of: Callable[[str], dict[str, Any] | None], confirmer: Confirmer) -> None:
        self.every_s = every_s
        self.target_of = target_of
        self.last_of = last_of
        self.confirmer = confirmer
        self._loops: dict[str, tuple[DeviceJob, frozenset[str], asyncio.Task[None]]] = {}
        self.probes = 0
        self.changes = 0

    def apply(self, jobs: list[DeviceJob]) -> None:
        """Probe loops for the jobs at a WAN link end; loops of removed or changed jobs stop."""
        wanted = {j.name: (j, frozenset(j.wan_interfaces))
                  for j in jobs if j.problem is None and j.wan_interfaces}
        for name, (job, itfs, task) in list(self._loops.items()):
            if wanted.get(name) != (job, itfs):
                task.cancel()
                del self._loops[name]
        for name, (job, itfs) in wanted.items():
            if name not in self._loops:
                task = asyncio.get_running_loop().create_task(self._loop(job, itfs), name=f"reach:{name}")
                self._loops[name] = (job, itfs, task)

    async def probe(self, job: DeviceJob, itfs: frozenset[str]) -> dict[str, Any] | None:
        """One GET; None when the device does not answer."""
        last = self.last_of(job.name) or {}
        oids = [SYS_UPTIME] + [f"{IF_OPER}.{int(i['index'])}" for i in last.get("interfaces") or []
                               if i.get("name") in itfs and i.get("index") is not None]
        try:
            client = await open_client(self.target_of(job))
        except (SnmpError, OSError) as exc:
            log("warning", "reachability probe cannot start", device=job.name, error=str(exc))
            return None
        try:
            return dict(await client.get(oids))
        except SnmpError:
            return None
        finally:
            await client.close()

    async def _loop(self, job: DeviceJob, itfs: frozenset[str]) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            answer = await self.probe(job, itfs)
            self.probes += 1
            why = what_changed(self.last_of(job.name), answer, set(itfs))
            if why is not None:
                self.changes += 1
                self.confirmer.request(job.name, why)

    async def stop(self) -> None:
        tasks = [t for _, _, t in self._loops.values()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loops.clear()
