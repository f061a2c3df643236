"""Running the engine: configuration from the environment, the evaluation loop, the sender.

``NMS_ALERT_RULES`` (default: the shipped ``nms/alerts/rules.yaml``) and
``NMS_ALERT_CHANNELS`` (default ``<data dir>/channels.yaml`` when present; without it
alerts are recorded but nobody is notified, and each alert's history says so).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from nms import notify
from nms.alerts.channels import ChannelConfig, ConfigError, load_channels
from nms.alerts.engine import Engine, EvalStats, notify_state_updated, wait_for_update
from nms.alerts.outbox import Sender
from nms.alerts.rules import RulesError, RuleSet, load_rules
from nms.config import Settings
from nms.db import connect
from nms.leader import FOLLOWER_RETRY_S, leader
from nms.timeseries import open_timeseries
from nms.updates import ALERTS, changed
from probes.common.inventory import load_inventory
from probes.common.inventory_model import Inventory

log = logging.getLogger(__name__)


def rules_path(settings: Settings) -> Path | None:
    p = os.environ.get("NMS_ALERT_RULES")
    return Path(p) if p else None


def channels_path(settings: Settings) -> Path | None:
    p = os.environ.get("NMS_ALERT_CHANNELS")
    if p:
        return Path(p)
    default = settings.data_dir / "channels.yaml"
    return default if default.exists() else None


def load_rules_for(settings: Settings) -> RuleSet:
    return load_rules(rules_path(settings))


def load_channels_for(settings: Settings) -> ChannelConfig | None:
    p = channels_path(settings)
    return load_channels(p) if p is not None else None


def load_inventory_for(settings: Settings) -> Inventory | None:
    try:
        return load_inventory(settings.inventory_path)
    except Exception as exc:  # evaluation still works without topology; say so loudly
        log.error(
            "alerts: cannot load inventory %s (%s): root-cause folding is off", settings.inventory_path, exc
        )
        return None


class Runner:
    """Evaluator thread (every ``interval_s``, or sooner when woken after a batch) + sender thread.

    Both work only while this process leads ``alerts`` (:mod:`nms.leader`): several centres on
    one database evaluate and notify once, and a follower takes over when the leader dies.
    """

    def __init__(
        self, settings: Settings, engine: Engine, interval_s: float = 10.0, send: bool = True
    ) -> None:
        self.settings, self.engine, self.interval_s = settings, engine, interval_s
        self.stopping = threading.Event()
        self.last: EvalStats | None = None
        self.lead = leader(settings, "alerts")
        self.sender = (
            Sender(lambda: connect(settings, "centre"), engine.channels, active=self.lead.leading)
            if send and engine.channels
            else None
        )
        self.thread = threading.Thread(target=self._loop, name="alert-eval", daemon=True)

    def start(self) -> Runner:
        if self.sender is not None:
            self.sender.start()
        self.thread.start()
        return self

    def _loop(self) -> None:
        db = connect(self.settings, "centre")
        mdb = connect(self.settings, "metrics")
        try:
            while not self.stopping.is_set():
                leading = self.lead.leading()
                if leading:
                    try:
                        self.last = self.engine.evaluate(db, metrics_db=open_timeseries(self.settings, mdb))
                        if self.last.created or self.last.fired or self.last.resolved or self.last.queued:
                            changed(ALERTS)  # the walls of every centre show it
                    except Exception:
                        log.exception("alert evaluation failed")
                wait_for_update(self.interval_s if leading else min(self.interval_s, FOLLOWER_RETRY_S))
        finally:
            db.conn.close()
            mdb.conn.close()

    def stop(self) -> None:
        self.stopping.set()

        notify_state_updated()
        self.thread.join(30)
        if self.sender is not None:
            self.sender.stop()
        self.lead.release()


def build_engine(settings: Settings) -> Engine:
    return Engine(load_rules_for(settings), load_inventory_for(settings), load_channels_for(settings))


def run_forever(settings: Settings, interval_s: float) -> int:
    """Until SIGINT/SIGTERM; then both threads finish what they are doing and stop."""
    import signal

    notify.start(settings)  # PostgreSQL: batches ingested by the centres wake the evaluator here
    runner = Runner(settings, build_engine(settings), interval_s).start()
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    while not done.wait(3600):
        pass
    runner.stop()
    notify.stop()
    return 0


def start_in_server(settings: Settings, interval_s: float = 10.0) -> Runner | None:
    """For ``nms serve``: evaluator + sender threads beside the web app; None (logged) if misconfigured."""
    try:
        engine = build_engine(settings)
    except (RulesError, ConfigError) as exc:
        log.error("alerts not started: %s", "; ".join(exc.errors))
        return None
    return Runner(settings, engine, interval_s).start()
