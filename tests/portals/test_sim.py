"""The simulator's portals through the real prober, store and alert engine.

The simulated portals answer on 127.35.x.y (HTTPS under the demo CA made at start); their
pages are dated by an injected clock, moved on five minutes per round over an hour of
simulated time: headlines, date, time, weather and counter change, and nothing is raised.
Then each fault of the fault CLI's set is injected (``SimulatedProvince.fault`` calls
the same :meth:`SimPortals.fault`) and appears as its finding and exactly one alert.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from nms.alerts import store as alert_store
from nms.alerts.engine import Engine
from nms.alerts.rules import load_rules
from nms.config import ROOT
from nms.portals import store
from probes.common.inventory import load_inventory
from probes.portals.fetch import Limits
from probes.portals.probe import PortalJob, Prober
from probes.sim.errors import SimError
from probes.sim.portals import SimPortals

FAULTS = {  # portal: (fault CLI action and arguments, the finding, the alert rule)
    "anhui-www": (["portal-clone"], "clone", "portal-clone"),
    "hefei-www": (["portal-defaced"], "defaced", "portal-defaced"),
    "hefei-zwfw": (["portal-cert-expiring"], "tls-expiring", "portal-tls"),
    "hefei-feidong": (["portal-dark-link"], "dark-link", "portal-dark-link"),
    "hefei-feixi": (["portal-down"], "down", "portal-down"),
    "dept-czt": (["portal-foreign-script"], "foreign-script", "portal-foreign-content"),
    "dept-fgw": (["portal-slow", "3.3"], "slow", "portal-slow"),
}


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def _round(sim: SimPortals, prober: Prober, inv, db) -> dict[str, dict]:
    jobs = [PortalJob(pid, p.site, p.interval_s, p, tuple(sim.map().items())) for pid, p in
            ((pid, inv.portals[pid]) for pid in FAULTS)]  # fmt: skip
    results = await asyncio.gather(*(prober.check(j) for j in jobs))
    for r in results:
        store.apply_results(db, inv.portals[r["portal"]].agent, [r], inv)
    return {r["portal"]: r for r in store.current(db)}


def _alerts(db) -> list[tuple[str, str]]:
    rows = alert_store.list_alerts(db, states=("pending", "firing"))
    return sorted((a["rule"], a["subject"]["id"]) for a in rows)


@pytest.mark.slow  # long end-to-end scenario: CI's slow tier (make test-slow)
def test_an_hour_of_churn_is_quiet_and_each_fault_is_one_alert(tmp_path: Path, centre_db) -> None:
    inv = load_inventory(ROOT / "inventory.yaml")
    clock = Clock()
    engine = Engine(load_rules(), inv)

    async def run() -> None:
        sim = SimPortals(inv, tmp_path / "portals", clock=clock, portals=list(FAULTS))
        await sim.start_async()
        prober = Prober(Limits(total_s=10, ca_file=str(sim.ca.pem)))
        try:
            for _ in range(13):  # an hour in five-minute rounds
                cur = await _round(sim, prober, inv, centre_db)
                engine.evaluate(centre_db, now=time.time())
                clock.now += 300
            assert {p: r["state"] for p, r in cur.items()} == dict.fromkeys(FAULTS, "up")
            assert _alerts(centre_db) == []
            assert sim.served["hefei-www"].requests == 13

            with pytest.raises(SimError, match="no look-alike"):
                sim.fault("portal-clone", ["hefei-feidong"])
            for pid, (action, _, _) in FAULTS.items():
                sim.fault(action[0], [pid, *action[1:]])
            await asyncio.sleep(0.3)  # the expiring certificate's server listens again
            for _ in range(3):  # down and slow count from the second check on
                cur = await _round(sim, prober, inv, centre_db)
                engine.evaluate(centre_db, now=time.time())
                clock.now += 300
        finally:
            await sim.stop_async()
        for pid, (_, kind, _) in FAULTS.items():
            assert [f["kind"] for f in cur[pid]["findings"]] == [kind], pid
        assert _alerts(centre_db) == sorted((rule, pid) for pid, (_, _, rule) in FAULTS.items())

    asyncio.run(run())
