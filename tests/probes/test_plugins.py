"""The poller as plugins, against the simulated province: which plugins run for which profile,
in which order, how a plugin's failure is reported, and the one record of the result's shape."""

from __future__ import annotations

import asyncio
import time

import pytest

from nms.config import ROOT
from nms.pipeline import validate_poll
from probes import profile as profmod
from probes.agent.config import DeviceJob
from probes.agent.scheduler import failed_result
from probes.common.inventory import load_inventory
from probes.plugins import PLUGINS, Plugin, PollContext
from probes.poller import Poller
from probes.sim import SimulatedProvince
from probes.snmp import Credential, Target

COMMUNITY = "plugins-sim-community"
ROUTER, FIREWALL = "hefei-int-rtr1", "hefei-int-fw1"
WIRE_KEYS = [
    "device", "ts", "ok", "error", "duration_s", "profile",
    "identity", "interfaces", "health", "sessions", "tunnels", "sdh", "failed",
]  # fmt: skip


@pytest.fixture(scope="module")
def sim():
    inv = load_inventory(ROOT / "inventory.yaml")
    creds = {n: Credential(community=COMMUNITY) for n in inv.credentials}
    province = SimulatedProvince(inv, port=0, devices=[ROUTER, FIREWALL], credentials=creds)
    province.start()
    yield province
    province.stop()


def target(sim, name: str, timeout: float = 2.0) -> Target:
    host, port = sim.address(name)
    return Target(host, port, Credential(community=COMMUNITY), timeout=timeout, retries=0, name=name)


class Recorder(Plugin):
    """Runs on every profile; remembers the order it was called in and what identity chose."""

    name = "recorder"
    seen: list[tuple[str, str]]

    def __init__(self) -> None:
        self.seen = []

    def can_handle(self, profile: profmod.Profile) -> bool:
        return True

    async def handle(self, ctx: PollContext) -> None:
        got = await ctx.get(["1.3.6.1.2.1.1.3.0"])  # sysUpTime, through the context
        self.seen.append((ctx.profile.name, ctx.result.identity["sysName"]))
        ctx.result.health["recorded_uptime"] = float(got["1.3.6.1.2.1.1.3.0"])


class Broken(Plugin):
    """Reads fine, then chokes on what it read, like a vendor table of the wrong type."""

    name = "broken"
    section = "sessions"  # only firewalls

    async def handle(self, ctx: PollContext) -> None:
        await ctx.walk(["1.3.6.1.2.1.2.2.1.2"])
        raise ValueError("ifDescr is not a number")


class Stuck(Plugin):
    name = "stuck"

    def can_handle(self, profile: profmod.Profile) -> bool:
        return True

    async def handle(self, ctx: PollContext) -> None:
        await asyncio.sleep(30)


def test_plugins_chosen_by_profile_in_registry_order():
    profiles = profmod.profiles()
    poller = Poller()
    names = [p.name for p in poller.plugins]
    assert names == [cls.name for cls in PLUGINS] == [
        "interfaces", "health", "sessions", "tunnels", "sdh", "addresses"]

    def handled(profile: str) -> list[str]:
        return [p.name for p in poller.plugins if p.can_handle(profiles[profile])]

    assert handled("generic") == ["interfaces", "health", "sdh", "addresses"]
    assert handled("huawei-usg") == ["interfaces", "health", "sessions", "sdh", "addresses"]
    assert handled("cipher-gateway")[:1] == ["interfaces"] and "tunnels" in handled("cipher-gateway")
    sdh = next(p for p in poller.plugins if p.name == "sdh")
    assert not sdh.can_handle(profmod.Profile("no-sdh", {**profiles["generic"].data, "sdh": None}))


def test_extra_plugin_runs_after_identity_with_the_chosen_profile(sim):
    poller = Poller(plugins=(*PLUGINS, Recorder))
    rec = poller.plugins[-1]
    r = asyncio.run(poller.poll(target(sim, FIREWALL)))
    assert r["ok"], r["error"]
    assert rec.seen == [(r["profile"], r["identity"]["sysName"])] and r["profile"] == "huawei-usg"
    assert r["health"]["recorded_uptime"] >= r["identity"]["sysUpTime"] > 0
    assert r["sessions"] is not None and r["interfaces"]  # the registry's plugins ran too
    assert list(r) == [*WIRE_KEYS, "addresses"]  # the first poll of a device reads its address tables
    validate_poll(r, "poll", time.time())


def test_failing_plugin_is_named_and_the_rest_of_the_poll_stands(sim):
    poller = Poller(plugins=(*PLUGINS, Broken))
    # the router's profile has no sessions: Broken does not run and the poll is fine
    ok = asyncio.run(poller.poll(target(sim, ROUTER)))
    assert ok["ok"] and ok["failed"] == [], ok["error"]
    res = asyncio.run(poller.poll_result(target(sim, FIREWALL)))
    assert res.ok and res.error is None and res.failed_plugin is None  # the device answered
    error = "garbage: broken: ValueError: ifDescr is not a number"
    assert res.failed == [{"plugin": "broken", "error": error}]
    assert res.profile == "huawei-usg" and res.interfaces and res.health and res.sessions is not None
    validate_poll(res.to_dict(), "poll", time.time())


def test_a_plugin_failing_on_a_real_answer_keeps_the_device_up_at_the_centre(sim, tmp_path):
    """A profile that reads ifDescr (text) as the speed column: the interfaces plugin fails on
    what the simulated router really answers; the poll stays ok, the centre keeps the device
    up and says what is missing."""
    import shutil

    import sqlite_utils

    from nms.pipeline import ingest_batch
    from nms.schema import create_schema
    from nms.state import StateConfig, load

    shutil.copytree(profmod.PROFILE_DIR, tmp_path / "profiles")
    generic = tmp_path / "profiles" / "generic.yaml"
    text = generic.read_text(encoding="utf-8")
    speed = "speed:          {oid: 1.3.6.1.2.1.2.2.1.5,  type: gauge}"
    assert speed in text
    text = text.replace(speed, "speed: {oid: 1.3.6.1.2.1.2.2.1.2, type: string}")  # ifDescr
    generic.write_text(text, encoding="utf-8")
    poller = Poller(profile_dir=str(tmp_path / "profiles"))
    r = asyncio.run(poller.poll(target(sim, ROUTER)))
    assert r["ok"] and r["error"] is None
    assert [f["plugin"] for f in r["failed"]] == ["interfaces"]
    assert r["failed"][0]["error"].startswith("garbage: interfaces: ")
    assert r["interfaces"] == [] and r["health"] and r["identity"]["sysName"]  # only that part is absent
    inv = load_inventory(ROOT / "inventory.yaml")
    agent = next(a for a in inv.agents if ROUTER in {d.name for d in inv.devices_of_agent(a)})
    metrics, centre = sqlite_utils.Database(tmp_path / "m.db"), sqlite_utils.Database(tmp_path / "c.db")
    create_schema(metrics, "metrics")
    create_schema(centre, "centre")
    for seq in (1, 2):
        poll = dict(r, ts=r["ts"] + 60 * seq)
        body = {"agent": agent, "epoch": "", "seq": seq, "samples": [poll]}
        ingest_batch(metrics, centre, agent, body, inv, now=poll["ts"] + 1)
    dev = load(centre, StateConfig(1, 1)).subjects[("device", ROUTER)]
    assert dev.state == "up"
    assert dev.reason.startswith("partly polled: interfaces failed: garbage:"), dev.reason


def test_plugin_running_out_of_the_budget_is_a_timeout_naming_it(sim):
    poller = Poller(budget_s=0.5, plugins=(Stuck,))
    t0 = time.monotonic()
    res = asyncio.run(poller.poll_result(target(sim, ROUTER)))
    assert time.monotonic() - t0 < 5
    assert not res.ok and res.error == "timeout" and res.failed_plugin == "stuck"
    assert poller.limiter.limit < poller.limiter.maximum  # a timeout shrinks the in-flight bound


def test_scheduler_failure_and_poller_result_share_one_shape():
    job = DeviceJob(
        name="d", site="s", host="127.0.0.1", port=161, interval_s=60, profile="auto", credential="c"
    )
    r = failed_result(job, "timeout", time.time(), 1.23456)
    assert list(r) == WIRE_KEYS
    assert r["ok"] is False and r["error"] == "timeout" and r["duration_s"] == 1.2346
    assert r["profile"] == "auto" and r["interfaces"] == [] and r["sessions"] is None
    validate_poll(r, "poll", time.time())
