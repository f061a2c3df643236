"""The scheduler with an in-process poll function: independence, back-off, reload, stop."""

from __future__ import annotations

import asyncio

from probes.agent.config import DeviceJob
from probes.agent.scheduler import Scheduler, backoff_delay


def job(name: str, interval: float = 0.1, **kw) -> DeviceJob:
    return DeviceJob(
        name=name,
        site="hefei",
        host="127.34.0.1",
        port=161,
        interval_s=interval,
        profile="auto",
        credential="c",
        **kw,
    )


class Devices:
    """Fake device behaviour keyed by name: 'ok', 'slow' (hangs until released) or 'down'."""

    def __init__(self, behaviour: dict[str, str]) -> None:
        self.behaviour = behaviour
        self.release = asyncio.Event()
        self.results: list[tuple[str, bool]] = []
        self.started: list[str] = []

    async def poll(self, j: DeviceJob) -> dict:
        self.started.append(j.name)
        kind = self.behaviour[j.name]
        if kind == "slow":
            await self.release.wait()
        return {
            "device": j.name,
            "ts": 0.0,
            "ok": kind != "down",
            "error": "timeout" if kind == "down" else None,
        }

    def on_result(self, j: DeviceJob, res: dict) -> None:
        self.results.append((j.name, res["ok"]))

    def count(self, name: str) -> int:
        return sum(1 for n, _ in self.results if n == name)


def test_backoff_grows_and_is_capped():
    assert [backoff_delay(60, f) for f in (0, 1, 2, 3, 4, 5, 9)] == [60, 60, 120, 240, 480, 480, 480]
    assert backoff_delay(300, 5) == 900


def test_slow_device_does_not_delay_others_and_stop_waits_for_it():
    async def scenario():
        d = Devices({"fast": "ok", "slow": "slow"})
        s = Scheduler(d.poll, d.on_result, jitter=False)
        s.apply([job("fast", 0.05), job("slow", 0.05)])
        while d.count("fast") < 5:
            await asyncio.sleep(0.02)
        assert d.count("slow") == 0 and "slow" in d.started
        assert s.devices["slow"].polling_since is not None
        stopper = asyncio.create_task(s.stop(grace_s=30))
        await asyncio.sleep(0.2)
        assert not stopper.done()  # waits for the slow poll in flight
        d.release.set()
        await stopper
        return d

    d = asyncio.run(scenario())
    assert d.count("slow") == 1  # the in-flight poll finished and was delivered


def test_failing_device_backs_off_instead_of_being_hammered():
    async def scenario():
        d = Devices({"ok": "ok", "down": "down"})
        s = Scheduler(d.poll, d.on_result, jitter=False)
        s.apply([job("ok", 0.05), job("down", 0.05)])
        while d.count("ok") < 30:
            await asyncio.sleep(0.02)
        fails = s.devices["down"].failures
        await s.stop()
        return d, fails

    d, fails = asyncio.run(scenario())
    assert fails == d.count("down") >= 2
    assert d.count("down") <= 30 // 3  # 1x, 2x, 4x, 8x the interval: far fewer polls than the healthy one


def test_reload_keeps_state_of_devices_that_stay():
    async def scenario():
        d = Devices({"a": "ok", "b": "ok", "c": "ok"})
        s = Scheduler(d.poll, d.on_result, jitter=True)
        s.apply([job("a", 0.05), job("b", 0.05)])
        while min(d.count("a"), d.count("b")) < 2:
            await asyncio.sleep(0.02)
        state_a = s.devices["a"]
        changes = s.apply([job("a", 0.07), job("c", 0.05), job("x", 0.05, problem="not allowed: 10.0.0.1")])
        assert changes == {"added": ["c"], "removed": ["b"], "changed": ["a"]}
        assert s.devices["a"] is state_a and state_a.job.interval_s == 0.07 and state_a.polls >= 2
        assert "x" not in s.devices  # a device with a problem is reported, not polled
        b_count = d.count("b")
        while d.count("c") < 2:
            await asyncio.sleep(0.02)
        await s.stop()
        return d, b_count

    d, b_count = asyncio.run(scenario())
    assert d.count("b") <= b_count + 1  # at most the poll that was in flight when b was removed
    assert "x" not in d.started


def test_poller_that_raises_or_hangs_gives_a_failed_result():
    async def scenario():
        seen = []

        async def poll(j):
            if j.name == "boom":
                raise RuntimeError("bug")
            await asyncio.sleep(10)

        s = Scheduler(poll, lambda j, r: seen.append(r), jitter=False, deadline_s=lambda j: 0.1)
        s.apply([job("boom", 5), job("hang", 5)])
        while len(seen) < 2:
            await asyncio.sleep(0.02)
        await s.stop()
        return {r["device"]: r for r in seen}

    res = asyncio.run(scenario())
    assert res["boom"]["ok"] is False and res["boom"]["error"].startswith("agent: RuntimeError")
    assert res["hang"]["ok"] is False and res["hang"]["error"] == "timeout"
    assert res["hang"]["interfaces"] == [] and res["hang"]["profile"] == "auto"


def test_overdue_counts_late_and_stuck_devices():
    async def scenario():
        d = Devices({"a": "slow", "b": "slow", "c": "ok"})
        s = Scheduler(d.poll, d.on_result, jitter=False, deadline_s=lambda j: 100)
        s.apply([job("a", 10), job("b", 10), job("c", 10)])
        await asyncio.sleep(0.05)
        now = s.devices["a"].polling_since
        s.devices["c"].next_due = now - 1  # c: due a second ago, within grace
        assert s.overdue(now) == 0
        assert s.overdue(now + 106) == 3  # a, b stuck past deadline + grace; c long overdue
        d.release.set()
        await s.stop()

    asyncio.run(scenario())
