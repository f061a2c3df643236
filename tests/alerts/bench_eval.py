"""Benchmark (not a test): alert evaluation on the full shipped inventory (1,008 devices).

    python -m tests.alerts.bench_eval

Feeds the real state machine one round of synthetic polls for every device, cuts the
SDH link to Hefei (LOS at the centre, the Hefei agent silent), and times evaluations:
state rules only, and with metric rules reading 10 minutes of samples for every device
and link end from metrics.db.  Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from nms.alerts.engine import Engine
from nms.alerts.rules import load_rules
from nms.config import ROOT, Settings
from nms.pipeline import store_batch
from nms.schema import open_migrated
from nms.state import StateConfig, apply_batch
from probes.common.inventory import load_inventory


def poll(dev, ts: float, los: set[str] = frozenset()) -> dict:
    itfs, sdh = [], []
    for i, name in enumerate(dev.interfaces, 1):
        itfs.append(
            {
                "index": i,
                "name": name,
                "admin": "up",
                "oper": "down" if name in los else "up",
                "speed_bps": 1_000_000_000,
                "in_octets": 1000 * i,
                "out_octets": 2000 * i,
                "in_ucast_pkts": 10,
                "out_ucast_pkts": 10,
                "in_errors": 0,
                "out_errors": 0,
                "in_bps": 1.0e6,
                "out_bps": 2.0e6,
            }
        )
        if name.startswith("Pos"):
            sdh.append(
                {
                    "ifIndex": i,
                    "section_status": ["LOS"] if name in los else [],
                    "line_status": [],
                    "path_status": [],
                    "buckets": [],
                }
            )
    return {
        "device": dev.name,
        "ts": ts,
        "ok": True,
        "error": None,
        "identity": {"uptime_s": 100.0},
        "interfaces": itfs,
        "health": {"cpu_pct": 20.0, "mem_pct": 40.0},
        "sessions": 100,
        "tunnels": [],
        "sdh": sdh,
    }


def main() -> None:
    inv = load_inventory(ROOT / "inventory.yaml")
    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="alerts-bench-")))
    db, mdb = open_migrated(settings, "centre"), open_migrated(settings, "metrics")
    cfg = StateConfig(1, 1)
    now = time.time()
    seq = 0
    for k in range(10):  # ten minutes of polls: state + samples for the metric rules
        ts = now - 600 + 60 * k
        cut = k >= 8
        for agent in inv.agents:
            if cut and agent == "hefei":
                continue
            devs = inv.devices_of_agent(agent)
            polls = [poll(d, ts, {"Pos1/0/0"} if cut and d.name == "anhui-int-rtr1" else set()) for d in devs]
            seq += 1
            store_batch(mdb, agent, seq, polls)
            if k >= 7:
                apply_batch(db, agent, seq, polls, inv, cfg)
    with db.conn:  # the Hefei agent's last batch came in before the cut, long ago
        db.execute("UPDATE state_applied SET ts = ? WHERE agent = 'hefei'", (now - 1000,))
    rules = load_rules()
    rules = type(rules)(
        tuple(r.__class__(**{**r.__dict__, "grace_s": 0}) for r in rules.rules),
        rules.flap_window_s,
        rules.flap_threshold,
        rules.source,
        {r.name: r for r in rules.rules},
    )
    eng = Engine(rules, inv, None, metrics_every_s=0)
    t = time.perf_counter()
    s1 = eng.evaluate(db, time.time())  # first: creates the alerts
    first = time.perf_counter() - t
    eng.metrics_every_s = 10**9
    times = []
    for _ in range(5):
        t = time.perf_counter()
        eng.evaluate(db, time.time())
        times.append(time.perf_counter() - t)
    eng.metrics_every_s = 0
    t = time.perf_counter()
    eng.evaluate(db, time.time(), metrics_db=mdb)
    with_metrics = time.perf_counter() - t
    root = db.execute(
        "SELECT children_count FROM alert_alerts WHERE rule = 'link-down' AND root_id IS NULL"
        " AND state != 'resolved'"
    ).fetchall()
    print(
        f"devices {len(inv.devices)}, links {len(inv.links)}, conditions {s1.conditions}, "
        f"suppressed {s1.suppressed}, root children {root}"
    )
    print(f"first evaluation (creates the alerts, state rules): {first * 1000:.0f} ms")
    print(f"steady evaluation, state rules: median {sorted(times)[2] * 1000:.1f} ms")
    print(f"evaluation with metric rules (every device + link end): {with_metrics * 1000:.0f} ms")


if __name__ == "__main__":
    main()
