"""What the portal pages show, as plain data (the views only route and check scope)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from nms.db import Database
from nms.portals import store as portals
from nms.portals.judge import baseline_of
from probes.common.inventory_model import Inventory, Portal
from probes.portals.baseline import compare

WALL_STATES = ("up", "degraded", "tampered", "down", "unknown")
HISTORY_S = 86400


def listing(db: Database, inv: Inventory, sites: set[str] | None) -> dict[str, Any]:
    """Every portal of the scope with its current state; portals never checked are unknown."""
    seen = {r["portal"]: r for r in portals.current(db, sites)}
    rows = []
    for p in sorted(inv.portals.values(), key=lambda p: p.id):
        if sites is not None and p.site not in sites:
            continue
        cur = seen.get(p.id) or {"state": "unknown", "findings": []}
        site = inv.sites.get(p.site)
        rows.append(
            {
                "id": p.id,
                "name": p.name,
                "url": p.url,
                "site": p.site,
                "site_name": site.name_zh if site else p.site,
                "state": cur["state"],
                "since": cur.get("since"),
                "checked": cur.get("ts"),
                "status": cur.get("status"),
                "total_ms": cur.get("total_ms"),
                "tls_days_left": cur.get("tls_days_left"),
                "findings": sorted({f["kind"] for f in cur["findings"]}),
            }
        )
    counts = Counter(r["state"] for r in rows)
    return {"portals": rows, "counts": {s: counts.get(s, 0) for s in WALL_STATES}}


def detail(db: Database, inv: Inventory, p: Portal, now: float) -> dict[str, Any]:
    """One portal: current findings with evidence, a day of checks, and the content diff
    between the approved baseline and the latest page."""
    cur = next((r for r in portals.current(db) if r["portal"] == p.id), None)
    base = portals.baseline(db, p.id)
    snap = portals.latest_snapshot(db, p.id)
    diff: list[str] = []
    if base and snap and base["fingerprint"] != snap["fingerprint"]:
        diff = compare(baseline_of(base["body"]), baseline_of(snap)).diff  # type: ignore[arg-type]
    checks = portals.checks(db, p.id, now - HISTORY_S, now + 1)
    return {
        "id": p.id,
        "name": p.name,
        "url": p.url,
        "site": p.site,
        "state": cur["state"] if cur else "unknown",
        "since": cur["since"] if cur else None,
        "findings": cur["findings"] if cur else [],
        "baseline": {k: base[k] for k in ("fingerprint", "approved_by", "approved_ts")} if base else None,
        "latest_fingerprint": snap["fingerprint"] if snap else None,
        "diff": diff,
        "timings": [
            {k: c[k] for k in ("ts", "total_ms", "dns_ms", "connect_ms", "tls_ms", "first_byte_ms", "status")}
            for c in checks
        ],
        "history": [
            {"ts": c["ts"], "kinds": sorted({f["kind"] for f in c["findings"]})} for c in checks[-50:]
        ],  # noqa: E501
    }
