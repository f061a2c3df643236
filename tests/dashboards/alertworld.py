"""Real alerts for the dashboard tests: the alert engine run over a real state history.

The state comes from synthetic polls through the real state machine (``conftest.fill``);
the alerts from :class:`nms.alerts.engine.Engine` on the shipped inventory; notifications
from the real outbox sending to a webhook on a loopback port nobody listens on (so every
attempt is logged as a failure with its error, and each ends ``failed`` after ``max_attempts``).
"""

from __future__ import annotations

import socket
import time
from typing import Any

from flask import Flask

from nms.alerts.channels import parse_channels
from nms.alerts.engine import Engine
from nms.alerts.outbox import Outbox
from nms.alerts.rules import parse_rules
from nms.db import connect
from probes.common.inventory_model import Inventory

HOOK_KEY_ENV = "NMS_TEST_DASH_HOOK_KEY"
RULES = [
    {"name": "device-down", "kind": "state", "subject": "device", "severity": "critical"},
    {
        "name": "link-down",
        "kind": "state",
        "subject": "link",
        "link_kinds": ["sdh-stm1"],
        "severity": "critical",
    },
    {
        "name": "access-link-down",
        "kind": "state",
        "subject": "link",
        "link_kinds": ["mstp", "ethernet", "fibre-ge"],
        "severity": "major",
    },
    {"name": "interface-down", "kind": "state", "subject": "interface", "severity": "minor"},
]


def dead_port() -> int:
    """A loopback port with no listener (bound, read back, closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def engine(inv: Inventory, hook_url: str) -> Engine:
    rules = parse_rules({"version": 1, "defaults": {"notify": ["noc"], "grace_s": 0}, "rules": RULES})
    channels = parse_channels(
        {
            "channels": {"hook": {"type": "webhook", "url": hook_url, "secret_env": HOOK_KEY_ENV}},
            "recipients": {"noc": [{"channel": "hook"}]},
            "delivery": {"backoff_s": 1, "max_attempts": 3},
        }
    )
    return Engine(rules, inv, channels)


def raise_alerts(app: Flask, inv: Inventory) -> dict[str, Any]:
    """Evaluate the current state once, send every notification until it fails for good; alerts by key."""
    hook = f"http://127.0.0.1:{dead_port()}/hook"
    eng = engine(inv, hook)
    db = connect(app.config["NMS_SETTINGS"], "centre")
    try:
        eng.evaluate(db)
        outbox, later = Outbox(eng.channels), time.time()
        for _ in range(50):  # every notification tried until it gives up (max_attempts), as if days passed
            if not db.execute(
                "SELECT 1 FROM alert_notifications WHERE status IN ('queued', 'retry')"
            ).fetchone():
                break
            later += 86400
            outbox.run_once(db, now=later)
        cur = db.execute("SELECT * FROM alert_alerts ORDER BY id")
        cols = [d[0] for d in cur.description]
        rows = [dict(zip(cols, r, strict=True)) for r in cur]
    finally:
        db.conn.close()
    return {f"{r['rule']}:{r['subject_id']}": r for r in rows}
