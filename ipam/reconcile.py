"""Compare what agents see on the wire (ARP, interface addresses) with the plan.

Input is a list of observations ``{device, site, address}``; the probe engine may
later feed it from ipAddrTable/ARP walks.  Three findings:

* ``unplanned``: in use but inside no allocated range;
* ``wrong_site``: inside a range planned for another site;
* ``unseen``: allocated to an observed site but never seen (reclaimable).
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from ipam import store
from ipam.addresses import BITS, Block, parse_address
from ipam.errors import BadInput, Forbidden


def _owner(conn: Any, prefix: store.Prefix) -> str | None:
    if prefix.site:
        return prefix.site
    for anc in store.ancestors(conn, prefix):
        if anc.site:
            return anc.site
    return None


def reconcile(db: sqlite_utils.Database, space: int, observations: object,
              sites: frozenset[str] | None) -> dict[str, Any]:
    if not isinstance(observations, list):
        raise BadInput("observations", "expected a list of {device, site, address}")
    parsed = []
    for i, obs in enumerate(observations):
        field = f"observations[{i}]"
        if not isinstance(obs, dict):
            raise BadInput(field, "expected an object {device, site, address}")
        site, device = obs.get("site"), obs.get("device")
        if not isinstance(site, str) or not site:
            raise BadInput(f"{field}.site", "required")
        if not isinstance(device, str) or not device:
            raise BadInput(f"{field}.device", "required")
        if sites is not None and site not in sites:
            raise Forbidden(f"{field}.site: {site!r} is outside your scope", f"{field}.site")
        family, addr = parse_address(obs.get("address"), f"{field}.address")
        parsed.append((device, site, family, addr, str(obs["address"]).strip()))
    conn = db.conn
    unplanned, wrong, matched = [], [], 0
    seen: set[int] = set()
    for device, site, family, addr, text in parsed:
        hit = store.deepest_containing(conn, space, Block(family, addr, BITS[family]))
        row = {"device": device, "site": site, "address": text}
        if hit is None or hit.status == "container":
            pool_site = _owner(conn, hit) if hit is not None else None
            unplanned.append({**row, "pool": hit.cidr if hit else None, "pool_site": pool_site})
            continue
        seen.add(hit.id)
        owner = _owner(conn, hit)
        if owner != site:
            wrong.append({**row, "prefix": hit.cidr, "planned_site": owner})
        else:
            matched += 1
    observed_sites = {site for _d, site, *_ in parsed}
    unseen = []
    if observed_sites:
        cond, args = store.site_filter(observed_sites)
        for pid, site in conn.execute(
            f"SELECT id, site FROM ipam_prefixes WHERE space_id=? AND status='allocated' AND {cond}"
            " ORDER BY family, network", (space, *args),
        ):
            if pid not in seen:
                p = store.get(conn, pid)
                unseen.append({"prefix": p.cidr, "site": site, "purpose": p.purpose, "id": pid})
    return {"observations": len(parsed), "matched": matched, "unplanned": unplanned, "wrong_site": wrong,
            "unseen": unseen}
