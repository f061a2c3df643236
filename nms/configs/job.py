"""One fetch run (CLI, web trigger or schedule) and the schedule that repeats it with retries.

The caller's thread does every database write; logins run in :func:`fetch.fetch_many`.
A device that fails gets ``next_retry`` with exponential back-off (see ``store``), so
the scheduler comes back to it before the next full round.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from nms import audit
from nms.auth.scope import common_site
from nms.configs import hostkeys, store
from nms.configs.fetch import DEFAULT_LIMITS, Limits, Target, fetch_many
from nms.db import Database
from probes.common.inventory_model import Inventory

log = logging.getLogger(__name__)


@dataclass
class RunReport:
    trigger: str
    started: float
    wall_s: float = 0.0
    outcomes: list[store.Outcome] = field(default_factory=list)

    def by_status(self, status: str) -> list[store.Outcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def failed(self) -> list[store.Outcome]:
        return self.by_status("failed")


def run(
    db: Database,
    targets: Iterable[Target],
    trigger: str,
    limits: Limits = DEFAULT_LIMITS,
    retry_s: float = 300.0,
    source_ip: str | None = None,
    on_outcome: Callable[[store.Outcome], None] | None = None,
    tree: Inventory | None = None,
) -> RunReport:
    """Fetch ``targets`` in parallel and store what changed; ``trigger`` is who or what asked.

    ``tree`` (the site tree) files the trigger's audit row under the sites' common ancestor.
    """
    targets = list(targets)
    by_name = {t.device: t for t in targets}
    audit.record(db, trigger, "configs.fetch.trigger", "configs:fetch",
                 after={"devices": sorted(by_name)}, source_ip=source_ip,
                 site=common_site([t.site for t in targets], tree))
    report = RunReport(trigger, time.time())
    t0 = time.monotonic()
    for result in fetch_many(by_name.values(), hostkeys.pins(db), limits):
        outcome = store.record(db, by_name[result.device], result, trigger, retry_s=retry_s)
        if outcome.status == "failed":
            log.warning("config fetch %s failed: %s", outcome.device, outcome.error)
        report.outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)
    report.wall_s = time.monotonic() - t0
    return report


def due(db: Database, targets: Iterable[Target], interval_s: float,
        now: float | None = None) -> list[Target]:
    """Targets never fetched, whose last success is older than ``interval_s``, or whose retry is due."""
    now = time.time() if now is None else now
    rows = store.fetch_times(db)
    out = []
    for t in targets:
        r = rows.get(t.device)
        if r is None or r["last_attempt"] is None:
            out.append(t)
        elif r["consecutive_failures"]:
            if r["next_retry"] is None or r["next_retry"] <= now:
                out.append(t)
        elif r["last_success"] is None or now - r["last_success"] >= interval_s:
            out.append(t)
    return out


def run_round(
    db: Database,
    targets: Iterable[Target],
    interval_s: float,
    limits: Limits = DEFAULT_LIMITS,
    retry_s: float = 300.0,
) -> RunReport | None:
    """One turn of the schedule: fetch whatever is due now (None when nothing is).

    The unit a leader election would guard: whoever holds the lock runs the rounds.
    """
    todo = due(db, targets, interval_s)
    if not todo:
        return None
    report = run(db, todo, "scheduler", limits, retry_s)
    log.info("config backup: %d devices in %.1fs, %d changed, %d failed", len(report.outcomes),
             report.wall_s, len(report.by_status("changed")), len(report.failed))
    return report


def schedule(
    db: Database,
    load_targets: Callable[[], list[Target]],
    interval_s: float,
    stop: threading.Event,
    limits: Limits = DEFAULT_LIMITS,
    retry_s: float = 300.0,
    tick_s: float = 30.0,
    leading: Callable[[], bool] | None = None,
) -> None:
    """Until ``stop`` is set: every ``tick_s`` fetch whatever is due (targets reloaded each time),
    only while ``leading()`` says so when given (:mod:`nms.leader`: one scheduler per database)."""
    while not stop.is_set():
        if leading is None or leading():
            run_round(db, load_targets(), interval_s, limits, retry_s)
        stop.wait(tick_s)
