"""Generate the shipped address plan (ipam/data/address_plan.csv) from the inventory.

    python -m ipam.plan_gen [--inventory inventory.yaml] [--out ipam/data/address_plan.csv]

For each space (专网, 外网) and family it makes the province's pool, records every
site's management /24 from inventory.yaml under a management container, and carves
one pool per city, county and department with the templates below, using the same
allocator and feasibility check as production; then exports the result as CSV.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path

from ipam import csvio, plan, store
from ipam.addresses import parse_prefix
from nms.config import ROOT
from nms.db import Database, memory
from nms.schema import create_schema
from probes.common.inventory import load_inventory
from probes.common.inventory_model import Inventory

DEFAULT_OUT = Path(__file__).resolve().parent / "data" / "address_plan.csv"
NETWORK_SPACE = {"internal": "专网", "external": "外网"}

# (space, province block, management container or None, template per site kind)
PLANS = (
    ("专网", "10.0.0.0/8", "10.34.0.0/16", {"city": 16, "county": 20, "department": 18}),
    ("外网", "172.16.0.0/12", "172.20.0.0/16", {"city": 18, "county": 22, "department": 22}),
    ("专网", "fd34::/32", None, {"city": 40, "county": 44, "department": 44}),
    ("外网", "2001:db8::/32", None, {"city": 40, "county": 44, "department": 44}),
)


def build(db: Database, inv: Inventory, actor: str = "plan-gen") -> list[str]:
    """Fill ``db`` with the plan; returns problems (empty when every site got its pools)."""
    province = next(s for s in inv.sites.values() if s.parent is None)
    problems: list[str] = []
    for space_name, root_cidr, mgmt_cidr, template in PLANS:
        space = store.space_id(db, space_name)
        root = store.add(db, space, parse_prefix(root_cidr), status="container", actor=actor, is_pool=True,
                         site=province.id, purpose=f"{province.name_zh} {space_name} province block")
        if mgmt_cidr:
            mgmt = parse_prefix(mgmt_cidr)
            store.add(db, space, mgmt, status="container", actor=actor, site=province.id,
                      purpose="device management addresses (inventory.yaml)")
            for site in sorted(inv.sites.values(), key=lambda s: s.code):
                for network, cidr in getattr(site, "prefixes", ()):
                    block = parse_prefix(str(ipaddress.ip_network(cidr)))
                    if NETWORK_SPACE.get(network) == space_name and mgmt.contains(block):
                        store.add(db, space, block, status="allocated", actor=actor, site=site.id,
                                  purpose="management")
        result = plan.carve(db, store.get(db, root.id), inv, template, actor=actor)
        problems += [f"{space_name} {root_cidr}: {p}" for p in result.problems]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", type=Path, default=ROOT / "inventory.yaml")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    inv = load_inventory(args.inventory)
    db = memory()
    create_schema(db)
    problems = build(db, inv)
    if problems:
        for p in problems:
            print(p, file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = csvio.export_csv(db, None)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({text.count(chr(10)) - 1} prefixes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
