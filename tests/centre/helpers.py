"""A tiny province in code, and poll results, for the centre's tests."""

from __future__ import annotations

from typing import Any

from probes.common.inventory_model import AgentDef, Device, Inventory, Link, LinkEnd, Site

T0 = 1_764_000_000  # a fixed, minute-aligned clock for tests (2025-11-24)


def small_inventory() -> Inventory:
    """Province centre -> Hefei (SDH) -> Feidong county (MSTP), plus a department."""
    inv = Inventory()
    for s in (
        Site("anhui", "安徽", "Anhui", "340000", "province", None, 31.8, 117.2),
        Site("hefei", "合肥", "Hefei", "340100", "city", "anhui", 31.8, 117.2),
        Site("hefei-feidong", "肥东", "Feidong", "340122", "county", "hefei", 31.9, 117.5),
    ):
        inv.sites[s.id] = s
    for name, site in (
        ("prov-rtr1", "anhui"),
        ("hefei-rtr1", "hefei"),
        ("hefei-fw1", "hefei"),
        ("feidong-rtr1", "hefei-feidong"),
    ):
        inv.devices[name] = Device(name, site, "router", "huawei", "NE40E", "auto", "10.0.0.1", "v2")
    inv.links["prov-hefei"] = Link(
        "prov-hefei",
        LinkEnd("prov-rtr1", "POS1/0/0"),
        LinkEnd("hefei-rtr1", "POS1/0/0"),
        "sdh-stm1",
        155_520_000,
        "AH-SDH-001",
        "internal",
    )
    inv.links["hefei-feidong"] = Link(
        "hefei-feidong",
        LinkEnd("hefei-rtr1", "GE0/0/2"),
        LinkEnd("feidong-rtr1", "GE0/0/1"),
        "mstp",
        10_000_000,
        "AH-MSTP-101",
        "internal",
    )
    inv.agents["prov"] = AgentDef("prov", ("anhui",), "NMS_AGENT_TOKEN_PROV")
    inv.agents["hefei"] = AgentDef("hefei", ("hefei", "hefei-feidong"), "NMS_AGENT_TOKEN_HEFEI")
    return inv


PORTS = {
    "prov-rtr1": [(1, "POS1/0/0")],
    "hefei-rtr1": [(1, "POS1/0/0"), (2, "GE0/0/2")],
    "hefei-fw1": [(1, "GE0/0/0")],
    "feidong-rtr1": [(1, "GE0/0/1")],
}


def poll(
    device: str,
    ts: float,
    ok: bool = True,
    *,
    oper: dict[str, str] | None = None,
    icmp: dict | None = None,
    octets: int = 1000,
    los: tuple[str, ...] = (),
    uas: list[tuple[int, int]] | None = None,
) -> dict[str, Any]:
    """A poll result as the agent sends it; ``oper`` overrides ifOperStatus by interface name."""
    if not ok:
        return {
            "device": device,
            "ts": ts,
            "ok": False,
            "error": "timeout",
            "duration_s": 2.0,
            "profile": "huawei-vrp",
            "identity": {},
            "interfaces": [],
            "health": {},
            "sessions": None,
            "tunnels": [],
            "sdh": [],
            "icmp": icmp,
        }
    interfaces = []
    sdh = []
    for index, name in PORTS.get(device, [(1, "GE0/0/0")]):
        interfaces.append(
            {
                "index": index,
                "name": name,
                "descr": name,
                "alias": "",
                "type": 6,
                "speed_bps": 1_000_000_000,
                "admin": "up",
                "oper": (oper or {}).get(name, "up"),
                "in_octets": octets,
                "out_octets": 2 * octets,
                "in_ucast_pkts": 1,
                "out_ucast_pkts": 2,
                "in_errors": 0,
                "out_errors": 0,
                "in_discards": 0,
                "out_discards": 0,
                "hc": True,
                "discontinuity": 0,
                "in_bps": 1234.5,
                "out_bps": 99.0,
            }
        )
        if name.startswith("POS"):
            sdh.append(
                {
                    "ifIndex": index,
                    "section_status": list(los),
                    "line_status": [],
                    "path_status": [],
                    "buckets": [
                        {"interval_end": e, "es": 0, "ses": 0, "uas": u, "valid": True}
                        for e, u in (uas or [])
                    ],
                }
            )
    return {
        "device": device,
        "ts": ts,
        "ok": True,
        "error": None,
        "duration_s": 0.05,
        "profile": "huawei-vrp",
        "identity": {
            "sysName": device,
            "sysDescr": "VRP",
            "sysObjectID": "1.3.6.1.4.1.2011",
            "uptime_s": 1000.0,
        },
        "interfaces": interfaces,
        "health": {"cpu_pct": 12.0, "mem_pct": 40.0, "temperature_c": 41.0},
        "sessions": 12,
        "tunnels": [],
        "sdh": sdh,
        "icmp": icmp,
    }


def batch(agent: str, seq: int, samples: list[dict]) -> dict[str, Any]:
    return {"agent": agent, "seq": seq, "samples": samples}
