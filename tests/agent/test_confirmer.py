"""Confirming polls are rate-limited per device and fold what arrives meanwhile; the fast
reachability probe asks for one only when its answer disagrees with the last poll."""

from __future__ import annotations

import asyncio
from typing import Any

from probes.agent.config import DeviceJob
from probes.agent.events import Confirmer
from probes.agent.reach import IF_OPER, SYS_UPTIME, what_changed


def _job(name: str) -> DeviceJob:
    return DeviceJob(name, "hefei", "127.0.0.1", 161, 60.0, "auto", "v2")


def test_one_poll_per_device_per_gap_and_requests_fold() -> None:
    polls: list[tuple[str, float]] = []
    results: list[dict[str, Any]] = []
    sealed = []

    async def main() -> None:
        loop = asyncio.get_running_loop()

        async def poll(job: DeviceJob) -> dict[str, Any]:
            polls.append((job.name, loop.time()))
            await asyncio.sleep(0.01)
            return {"device": job.name, "ok": True}

        c = Confirmer(poll, lambda job, r: results.append(r), lambda: sealed.append(1), min_gap_s=0.3,
                      clock=loop.time)
        c.set_jobs([_job("a"), _job("b")])
        assert c.request("a", "trap link-down Pos1/0/0")
        assert not c.request("elsewhere", "trap link-down x")  # not this agent's device
        await asyncio.sleep(0.05)
        for i in range(100):  # a flap storm: hundreds of traps
            c.request("a", f"trap link-{'up' if i % 2 else 'down'} Pos1/0/0")
        c.request("b", "syslog protocol-down Gi0/1")
        c.request("b", "reachability: restart", confirm=False)
        await asyncio.sleep(0.6)
        await c.stop()

    asyncio.run(main())
    a = [t for n, t in polls if n == "a"]
    assert len(a) == 2 and a[1] - a[0] >= 0.29  # the first at once, one trailing poll after the gap
    assert sum(n == "b" for n, _ in polls) == 1
    assert results[0]["confirm"] == "trap link-down Pos1/0/0"
    assert results[-1]["confirm"] == "trap link-down Pos1/0/0; trap link-up Pos1/0/0"  # folded, once each
    b = next(r for r in results if r["device"] == "b")
    assert b["confirm"] == "syslog protocol-down Gi0/1; reachability: restart"  # one confirming reason
    assert len(sealed) == 3


def test_refresh_only_is_not_a_confirmation() -> None:
    results: list[dict[str, Any]] = []

    async def main() -> None:
        async def poll(job: DeviceJob) -> dict[str, Any]:
            return {"device": job.name, "ok": True}

        c = Confirmer(poll, lambda job, r: results.append(r), lambda: None, min_gap_s=0)
        c.set_jobs([_job("a")])
        c.request("a", "centre reachable again", confirm=False)
        await asyncio.sleep(0.05)
        await c.stop()

    asyncio.run(main())
    assert results == [{"device": "a", "ok": True}]


def test_probe_answers_against_the_last_poll() -> None:
    last = {"ok": True, "identity": {"uptime_s": 5000}, "interfaces": [
        {"name": "Pos1/0/0", "index": 7, "oper": "up"}, {"name": "Gi0/0/1", "index": 8, "oper": "up"}]}
    wan = {"Pos1/0/0"}
    same = {SYS_UPTIME: 500_300, f"{IF_OPER}.7": 1}
    assert what_changed(last, same, wan) is None
    assert what_changed(last, {**same, f"{IF_OPER}.7": 2}, wan) == "reachability: Pos1/0/0 down"
    assert what_changed(last, {**same, f"{IF_OPER}.8": 2}, wan) is None  # not a WAN interface
    went_back = what_changed(last, {**same, SYS_UPTIME: 1200}, wan)
    assert went_back == "reachability: sysUpTime went back (restart)"
    assert what_changed(last, None, wan) == "reachability: no SNMP answer"
    assert what_changed({**last, "ok": False}, None, wan) is None  # already known to be silent
    assert what_changed({**last, "ok": False}, same, wan) == "reachability: answers again"
    assert what_changed(None, None, wan) is None  # never polled yet: nothing to compare
