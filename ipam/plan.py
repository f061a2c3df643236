"""Carving a plan from a template: prefix length per site kind, checked before cutting.

A template says e.g. ``{"city": 40, "county": 44, "department": 44}``: every site gets
a pool of that length inside its parent site's pool.  :func:`check` first does the
arithmetic per parent (children's sizes against the parent's free addresses, longer
prefix than the parent), then a dry run of the real carving in a transaction that
is rolled back, so a plan that passes the check carves exactly as checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ipam import store
from ipam.addresses import BITS, parse_plen
from ipam.allocate import allocate
from ipam.errors import BadInput, Conflict, IpamError
from ipam.store import Prefix
from nms import audit
from nms.db import Database, transaction, trial
from probes.common.inventory_model import Inventory


@dataclass
class PlanResult:
    ok: bool
    problems: list[str] = field(default_factory=list)
    carved: list[dict[str, Any]] = field(default_factory=list)
    existing: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": self.problems, "carved": self.carved, "existing": self.existing}


def parse_template(template: object, family: int) -> dict[str, int]:
    if not isinstance(template, dict) or not template:
        raise BadInput("template", "expected {site kind: prefix length}, e.g. {\"city\": 40, \"county\": 44}")
    out = {}
    for kind, plen in template.items():
        if kind not in ("city", "county", "department"):
            raise BadInput(f"template.{kind}", "site kind must be city, county or department")
        out[kind] = parse_plen(plen, family, f"template.{kind}")
    return out


def _arithmetic(root: Prefix, tree: Inventory, template: dict[str, int]) -> list[str]:
    """Per parent: do the children's blocks fit in its block at all (ignoring what is already used)?"""
    problems = []
    bits = BITS[root.family]
    plen_of = {root.site: root.plen}
    order = [root.site]
    while order:
        parent = order.pop(0)
        kids = [s for s in tree.children(parent) if s.kind in template]
        p = plen_of[parent]
        need = 0
        for kid in kids:
            q = template[kid.kind]
            if q <= p:
                problems.append(f"{kid.id}: /{q} for a {kid.kind} is not inside its parent {parent}'s /{p}")
                continue
            need += 1 << (bits - q)
            plen_of[kid.id] = q
            order.append(kid.id)
        if need > 1 << (bits - p):
            problems.append(f"{parent}: its {len(kids)} child sites need {need} addresses, "
                            f"more than its /{p} holds ({1 << (bits - p)})")
    return problems


def _carve(db: Database, root: Prefix, tree: Inventory, template: dict[str, int], actor: str,
           result: PlanResult) -> None:
    queue = [root]
    while queue:
        pool = queue.pop(0)
        kids = [s for s in tree.children(pool.site or "") if s.kind in template]
        kids.sort(key=lambda s: (template[s.kind], s.code, s.id))  # largest first: powers of two pack
        for kid in kids:
            mine = store.pools_of_site(db.conn, kid.id, pool.space_id, pool.family)
            if mine:
                result.existing += 1
                queue.append(mine[0])
                continue
            try:
                child, _ = allocate(db, pool.id, actor=actor, plen=template[kid.kind], status="container",
                                    site=kid.id, purpose=f"{kid.name_zh} {kid.kind} pool",
                                    reason="plan carve", is_pool=True)
            except IpamError as exc:
                result.problems.append(f"{kid.id}: {exc.message}")
                continue
            result.carved.append({"site": kid.id, "prefix": child.cidr})
            queue.append(child)


def check(db: Database, root: Prefix, tree: Inventory, template: dict[str, int]) -> PlanResult:
    """Feasibility without changing anything: arithmetic, then a rolled-back dry run."""
    if not root.is_pool or not root.site:
        raise BadInput("root", f"{root.cidr} is not a site's pool")
    problems = _arithmetic(root, tree, template)
    if problems:
        return PlanResult(False, problems)
    result = PlanResult(True)
    if db.conn.in_transaction:
        raise Conflict("plan check must run outside another transaction")
    with trial(db):
        _carve(db, root, tree, template, "plan-check", result)
    result.ok = not result.problems
    return result


def carve(db: Database, root: Prefix, tree: Inventory, template: dict[str, int], *,
          actor: str, source_ip: str | None = None) -> PlanResult:
    """Check, then carve every site's pool in one transaction (nothing if the check fails)."""
    checked = check(db, root, tree, template)
    if not checked.ok:
        return checked
    result = PlanResult(True)
    conn = db.conn
    with transaction(db):
        _carve(db, root, tree, template, actor, result)
        if result.problems:  # the plan changed between check and carve: keep nothing
            raise Conflict("; ".join(result.problems), "template")
        if result.carved:
            audit.record(conn, actor, "ipam.plan.carve", f"ipam:prefix:{root.space_id}:{root.cidr}",
                         after={"template": template, "carved": len(result.carved)}, source_ip=source_ip,
                         site=root.site)
    return result
