"""Compare what agents see on the wire (ARP, interface addresses) with the plan.

Input is a list of observations ``{device, site, address}``; the probe engine may
later feed it from ipAddrTable/ARP walks.  Three findings:

* ``unplanned``: in use but inside no allocated range;
* ``wrong_site``: inside a range planned for another site;
* ``unseen``: allocated to an observed site but never seen (reclaimable).
"""

from __future__ import annotations

from typing import Any

from ipam import store
from ipam.addresses import BITS, Block, parse_address
from ipam.errors import BadInput, Forbidden
from nms.db import Database


def owner(conn: Any, prefix: store.Prefix) -> str | None:
    if prefix.site:
        return prefix.site
    for anc in store.ancestors(conn, prefix):
        if anc.site:
            return anc.site
    return None


def named(prefix: store.Prefix | None, owner: str | None,
           sites: frozenset[str] | None) -> tuple[str | None, str | None]:
    """(cidr, owner) when the caller may learn them, else (None, None); unowned rows need province scope."""
    if prefix is None or not (sites is None or (owner is not None and owner in sites)):
        return None, None
    return prefix.cidr, owner


def reconcile(db: Database, space: int, observations: object,
              sites: frozenset[str] | None) -> dict[str, Any]:
    """Findings for observations at sites in ``sites`` (None = province).

    A range owned outside the caller's scope is never named: its prefix and owner
    come back as null, so an observation cannot be used to learn who owns an address.
    """
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
            pool, pool_site = named(hit, owner(conn, hit) if hit is not None else None, sites)
            unplanned.append({**row, "pool": pool, "pool_site": pool_site})
            continue
        seen.add(hit.id)
        own = owner(conn, hit)
        if own != site:
            prefix, planned_site = named(hit, own, sites)
            wrong.append({**row, "prefix": prefix, "planned_site": planned_site})
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
