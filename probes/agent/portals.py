"""The run loop's portal checks: the agent's portals from the inventory, each on its own
interval (a finding does not slow the checks down), results into the spool with the polls.

Kept apart from :mod:`probes.agent.run` so the run loop only creates, applies and stops it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from probes.agent.config import Timing
from probes.agent.logs import log
from probes.agent.scheduler import Scheduler
from probes.common.inventory_model import Inventory


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--portal-map",
        type=Path,
        default=None,
        help="JSON {inventory URL: URL to fetch}: where the portals answer (the simulator writes one)",
    )
    p.add_argument("--portal-ca-file", default=None, help="extra CA certificates (PEM) for portal checks")
    p.add_argument("--portal-timeout", type=float, default=15.0, help="bound on one portal fetch (s)")
    p.add_argument("--portal-concurrent", type=int, default=16, help="portal checks at once at most")


class PortalRunner:
    """Owns the portal scheduler; ``put`` is where finished results go (the spool)."""

    def __init__(self, args: argparse.Namespace, put, jitter: bool = True) -> None:
        # httpx and selectolax load only for an agent that has portals
        from probes.portals import probe
        from probes.portals.fetch import Limits

        self.probe = probe
        self.url_map = probe.read_url_map(args.portal_map)
        self.prober = probe.Prober(Limits(total_s=args.portal_timeout, ca_file=args.portal_ca_file))
        self.put = put
        self.scheduler = Scheduler(
            self.check,
            self.on_result,
            jitter=jitter,
            max_concurrent=args.portal_concurrent,
            deadline_s=self.prober.budget_s,
            backoff=False,
        )

    async def check(self, job) -> dict[str, Any]:
        try:
            return await self.prober.check(job)
        except Exception as exc:  # a bug in one check must not stop the portal's checks
            log("error", "portal check raised", portal=job.name, error=repr(exc))
            return self.probe.failed(job, f"{type(exc).__name__}: {exc}", time.time())

    def on_result(self, job, result: dict[str, Any]) -> None:
        if "portal" not in result:  # the scheduler's own failure shape (deadline passed)
            result = self.probe.failed(job, result.get("error") or "failed", result.get("ts") or time.time())
        result.pop("device", None)
        self.put(result)
        log(
            "info",
            "portal",
            portal=job.name,
            site=job.site,
            status=result.get("status"),
            findings=[f["kind"] for f in result["findings"]] or None,
            duration_s=result.get("duration_s"),
        )

    def apply(self, inventory: Inventory, agent: str, timing: Timing) -> None:
        jobs = self.probe.jobs_for(inventory, agent, timing.interval, self.url_map)
        changes = self.scheduler.apply(jobs)
        if jobs or any(changes.values()):
            log("info", "portals applied", portals=len(jobs), **changes)

    async def stop(self, grace_s: float) -> None:
        await self.scheduler.stop(grace_s)
