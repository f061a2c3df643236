"""CSV import and export of the address plan (one row per prefix).

Columns: ``space, prefix, status, site, purpose, pool, policy``.  Import checks every
row first and reports all problems as ``line N: field: problem``; then inserts in
address order (parents before children) in one transaction, so a bad file stores
nothing.  Rows already present with the same values are skipped: re-importing the
shipped plan is harmless.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from ipam import store
from ipam.addresses import Block, parse_prefix
from ipam.allocate import reindex
from ipam.errors import BadInput, IpamError
from ipam.schema import POLICIES, STATUSES
from nms.db import Database, transaction

COLUMNS = ("space", "prefix", "status", "site", "purpose", "pool", "policy")


class ImportError_(BadInput):  # noqa: N801 - avoid shadowing the builtin ImportError
    def __init__(self, errors: list[str]):
        super().__init__("csv", f"{len(errors)} problem(s): " + "; ".join(errors[:20]))
        self.errors = errors


def export_csv(db: Database, sites: frozenset[str] | None) -> str:
    spaces = store.space_names(db)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    offset = 0
    while True:
        batch = store.query(db, sites, limit=5000, offset=offset)
        for p in batch:
            writer.writerow([spaces[p.space_id], p.cidr, p.status, p.site or "", p.purpose,
                             "yes" if p.is_pool else "", p.policy])
        if len(batch) < 5000:
            return out.getvalue()
        offset += 5000


@dataclass
class Row:
    line: int
    space_id: int
    block: Block
    status: str
    site: str | None
    purpose: str
    is_pool: bool
    policy: str


def parse_csv(db: Database, text: str, known_sites: set[str] | None = None) -> list[Row]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("space", "prefix", "status") if c not in (reader.fieldnames or [])]
    if missing:
        raise BadInput("csv", f"header must name columns {', '.join(COLUMNS)}; missing {', '.join(missing)}")
    rows, errors = [], []
    for rec in reader:
        line = reader.line_num
        try:
            space = store.space_id(db, (rec.get("space") or "").strip())
            block = parse_prefix((rec.get("prefix") or "").strip())
            status = (rec.get("status") or "").strip()
            if status not in STATUSES:
                raise BadInput("status", f"expected one of {', '.join(STATUSES)}, got {status!r}")
            policy = (rec.get("policy") or "first").strip() or "first"
            if policy not in POLICIES:
                raise BadInput("policy", f"expected one of {', '.join(POLICIES)}, got {policy!r}")
            site = (rec.get("site") or "").strip() or None
            if site and known_sites is not None and site not in known_sites:
                raise BadInput("site", f"unknown site {site!r}")
            is_pool = (rec.get("pool") or "").strip().lower() in ("yes", "true", "1", "y")
            if is_pool and status != "container":
                raise BadInput("pool", "only a container can be a pool")
            rows.append(Row(line, space, block, status, site, (rec.get("purpose") or "").strip(), is_pool,
                            policy))
        except IpamError as exc:
            errors.append(f"line {line}: {exc.message}")
    if errors:
        raise ImportError_(errors)
    return rows


def import_csv(db: Database, text: str, *, actor: str, known_sites: set[str] | None = None,
               reason: str | None = None, source_ip: str | None = None) -> dict[str, Any]:
    rows = parse_csv(db, text, known_sites)
    rows.sort(key=lambda r: (r.space_id, r.block.family, r.block.network, r.block.plen))
    created = skipped = 0
    touched: set[int] = set()  # pools that received rows: their free-space index is rebuilt at the end
    with transaction(db):
        for r in rows:
            existing = store.find(db, r.space_id, r.block)
            if existing is not None:
                have = (existing.status, existing.site, existing.purpose, existing.is_pool, existing.policy)
                same = have == (r.status, r.site, r.purpose, r.is_pool, r.policy)
                if not same:
                    raise ImportError_([f"line {r.line}: prefix: {r.block} already exists with other values"])
                skipped += 1
                continue
            try:
                prefix = store.add(db, r.space_id, r.block, status=r.status, actor=actor, site=r.site,
                          purpose=r.purpose, is_pool=r.is_pool, policy=r.policy,
                          reason=reason or "CSV import", source_ip=source_ip)
            except IpamError as exc:
                raise ImportError_([f"line {r.line}: {exc.message}"]) from None
            created += 1
            touched.add(prefix.parent_id)
        reindex(db, touched - {0})
    return {"created": created, "skipped": skipped, "rows": len(rows)}
