"""Synthetic poll results for a whole inventory: fills state and store as the agents would.

Used by the dashboard tests and by bench/wall.py; real state machine, real store, only the
SNMP side is skipped.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

from nms.config import Settings
from nms.pipeline import store_batch
from nms.schema import open_migrated
from nms.state import StateConfig, apply_batch
from probes.common.inventory_model import Inventory

STATE_CONFIG = StateConfig(down_after=1, up_after=1)


def interfaces(inv: Inventory, device: str) -> list[str]:
    names = list(inv.devices[device].interfaces)
    for link in inv.links.values():
        for end in (link.a, link.b):
            if end.device == device and end.interface not in names:
                names.append(end.interface)
    return names


def polls(
    inv: Inventory,
    ts: float,
    *,
    down_links: Iterable[str] = (),
    down_devices: Iterable[str] = (),
    load: float = 0.3,
    seed: int = 1,
) -> list[dict[str, Any]]:
    """One poll result per device; ends of ``down_links`` are oper down, rates ~``load`` of capacity."""
    rnd = random.Random(seed)
    dead_ends = {(e.device, e.interface) for lid in down_links for e in (inv.links[lid].a, inv.links[lid].b)}
    capacity = {}
    for link in inv.links.values():
        for end in (link.a, link.b):
            capacity[(end.device, end.interface)] = link.capacity_bps
    dead = set(down_devices)
    out = []
    for name in sorted(inv.devices):
        if name in dead:
            out.append(
                {
                    "device": name,
                    "ts": ts,
                    "ok": False,
                    "error": "timeout",
                    "duration_s": 2.0,
                    "identity": {},
                    "interfaces": [],
                    "health": {},
                    "tunnels": [],
                    "sdh": [],
                }
            )
            continue
        itfs = []
        for i, itf in enumerate(interfaces(inv, name), start=1):
            cap = capacity.get((name, itf), 1_000_000_000)
            down = (name, itf) in dead_ends
            itfs.append(
                {
                    "index": i,
                    "name": itf,
                    "descr": itf,
                    "alias": "",
                    "type": 6,
                    "speed_bps": cap,
                    "admin": "up",
                    "oper": "down" if down else "up",
                    "in_octets": 1000,
                    "out_octets": 2000,
                    "in_ucast_pkts": 1,
                    "out_ucast_pkts": 1,
                    "in_errors": 0,
                    "out_errors": 0,
                    "in_discards": 0,
                    "out_discards": 0,
                    "hc": True,
                    "discontinuity": 0,
                    "in_bps": 0.0 if down else cap * load * rnd.uniform(0.2, 1.0),
                    "out_bps": 0.0 if down else cap * load * rnd.uniform(0.2, 1.0),
                }
            )
        out.append(
            {
                "device": name,
                "ts": ts,
                "ok": True,
                "error": None,
                "duration_s": 0.05,
                "identity": {"sysName": name, "uptime_s": 1000.0},
                "interfaces": itfs,
                "health": {"cpu_pct": 10.0, "mem_pct": 40.0, "temperature_c": 40.0},
                "icmp": {"alive": True, "rtt_ms": 4.0, "loss_pct": 0.0, "sent": 1},
                "sessions": None,
                "tunnels": [],
                "sdh": [],
            }
        )
    return out


def ingest(
    settings: Settings, inv: Inventory, samples: list[dict[str, Any]], seq: int, agent: str = "synth"
) -> None:
    """Store the samples and feed the state machine, as one agent batch."""
    metrics = open_migrated(settings, "metrics")
    centre = open_migrated(settings, "centre")
    try:
        store_batch(metrics, agent, seq, samples)
        apply_batch(centre, agent, seq, samples, inv, STATE_CONFIG)
    finally:
        metrics.conn.close()
        centre.conn.close()
