"""The configuration backup schedule inside ``nms serve``: one background thread.

Every ``tick`` it runs one round (:func:`nms.configs.job.run_round`: fetch whatever is due)
on its own connection, so a later leader election only has to wrap that call.  The
targets are read again when the inventory, the configs file or the secrets file changes;
devices that cannot be backed up (no login, bad configs file) are logged when that list
changes, not at every tick.  ``nms configs schedule`` remains for a separate process.
"""

from __future__ import annotations

import argparse
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from nms.config import Settings
from nms.configs import job
from nms.configs.fetch import Limits, Target
from nms.configs.targets import TargetsError, configs_file_path, load_targets
from nms.db import connect
from nms.leader import leader, ticks
from probes.common.inventory import InventoryError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Schedule:
    interval_s: float = 86400.0  # a full round of every device
    tick_s: float = 30.0  # how often to look for due devices (and retries)
    retry_s: float = 300.0  # first retry after a failure (doubles)
    limits: Limits = Limits()


def _mtime(path: Path | None) -> float | None:
    try:
        return path.stat().st_mtime if path is not None else None
    except OSError:
        return None


class TargetSource:
    """The current targets, reloaded only when one of the files they come from changed."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._key: tuple | None = None
        self._targets: list[Target] = []
        self._logged: object = None

    def _files(self) -> tuple:
        s = self.settings
        return tuple(_mtime(p) for p in (s.inventory_path, configs_file_path(s), s.secrets_path))

    def get(self) -> list[Target]:
        key = self._files()
        if key == self._key:
            return self._targets
        try:
            targets, problems = load_targets(self.settings)
            report: object = tuple(sorted(problems.items()))
            if problems and report != self._logged:
                log.warning("config backup: %d devices not backed up, e.g. %s", len(problems),
                            "; ".join(f"{n}: {why}" for n, why in list(problems.items())[:3]))
        except (TargetsError, InventoryError) as exc:
            targets, report = [], tuple(exc.errors)
            if report != self._logged:
                log.error("config backup: no targets: %s", "; ".join(exc.errors[:5]))
        self._key, self._targets, self._logged = key, targets, report
        return targets


def round_once(settings: Settings, source: TargetSource, plan: Schedule) -> job.RunReport | None:
    """One round on a connection of its own (what a leader runs)."""
    db = connect(settings, "centre")
    try:
        return job.run_round(db, source.get(), plan.interval_s, plan.limits, plan.retry_s)
    finally:
        db.conn.close()


def backup_loop(settings: Settings, plan: Schedule, stop: threading.Event) -> None:
    """Rounds every ``plan.tick_s`` until ``stop``, while this process leads ``config-backup``;
    a failed round is logged and the next one tries."""
    source = TargetSource(settings)
    for _ in ticks(leader(settings, "config-backup"), stop, plan.tick_s, first_wait=False):
        try:
            round_once(settings, source, plan)
        except Exception:
            log.exception("config backup round failed; will retry")


def start_in_server(
    settings: Settings, args: argparse.Namespace, stop: threading.Event
) -> threading.Thread | None:
    """For ``nms serve``: the backup thread, unless ``--configs-interval 0``."""
    if args.configs_interval <= 0:
        return None
    logging.getLogger("paramiko").setLevel(logging.WARNING)  # not a line per login in the centre's log
    plan = Schedule(args.configs_interval, args.configs_tick, args.configs_retry,
                    Limits.of(args.configs_parallel, args.configs_deadline))
    thread = threading.Thread(target=backup_loop, args=(settings, plan, stop), name="config-backup",
                              daemon=True)
    thread.start()
    return thread


def add_arguments(p: argparse.ArgumentParser) -> None:
    """``nms serve``'s options for the backup schedule."""
    p.add_argument("--configs-interval", type=float, default=86400.0, metavar="SECONDS",
                   help="back up every device's running config this often (default a day; 0 = not here)")
    p.add_argument("--configs-tick", type=float, default=30.0, metavar="SECONDS",
                   help="how often to look for devices due or to retry (default 30)")
    p.add_argument("--configs-retry", type=float, default=300.0, metavar="SECONDS",
                   help="first retry after a failed fetch, doubling (default 300)")
    p.add_argument("--configs-parallel", type=int, default=8, help="SSH logins at once (default 8)")
    p.add_argument("--configs-deadline", type=float, default=120.0, metavar="SECONDS",
                   help="whole login and fetch of one device (default 120)")
