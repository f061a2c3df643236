"""Utilisation of a pool: the cheap counters, and the subnet map (heat map) of its space.

The counters (``store.utilisation``) answer "how full" in one row read.  The map
cuts the pool into equal cells and streams its allocated descendants once in
address order (the range index), adding each one's addresses to the cells it covers.
"""

from __future__ import annotations

from typing import Any

from ipam import store
from ipam.addresses import BITS, Block, encode
from ipam.store import Prefix


def heatmap(conn: Any, pool: Prefix, cells: int = 256,
            sites: frozenset[str] | None = None) -> dict[str, Any]:
    """Cells of equal size with the share of addresses allocated; labels only for ``sites``."""
    depth = min(cells.bit_length() - 1, BITS[pool.family] - pool.plen)
    n = 1 << depth
    cell_size = pool.size >> depth
    used = [0] * n
    rows = conn.execute(
        "SELECT network, last FROM ipam_prefixes WHERE space_id=? AND family=? AND network>=? AND network<=?"
        " AND status<>'container' ORDER BY network",
        (pool.space_id, pool.family, encode(pool.network), encode(pool.last)),
    )
    for network_b, last_b in rows:
        low, high = int.from_bytes(network_b, "big"), int.from_bytes(last_b, "big")
        first, last = (low - pool.network) // cell_size, (high - pool.network) // cell_size
        for c in range(first, last + 1):
            c_low = pool.network + c * cell_size
            used[c] += min(high, c_low + cell_size - 1) - max(low, c_low) + 1
    owners = {}
    for child in store.children(conn, pool):
        if sites is not None and child.site not in sites:
            continue
        c = (child.network - pool.network) // cell_size
        owners.setdefault(c, f"{child.cidr} {child.status} {child.site or ''} {child.purpose}".strip())
    out = []
    for c in range(n):
        block = Block(pool.family, pool.network + c * cell_size, pool.plen + depth)
        out.append({"block": block.cidr, "pct": round(100.0 * used[c] / cell_size, 1),
                    "child": owners.get(c)})
    return {"pool": pool.cidr, "cell_prefix_length": pool.plen + depth, "columns": 16 if n >= 16 else n,
            "cells": out}
