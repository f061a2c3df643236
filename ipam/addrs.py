"""Individual addresses inside an allocated range (gateways, servers), where needed."""

from __future__ import annotations

import time
from typing import Any

from ipam import store
from ipam.addresses import BITS, Block, decode, encode, parse_address, to_text
from ipam.errors import BadInput, Conflict, NotFound
from nms import audit
from nms.db import Database, is_integrity_error, transaction


def add(db: Database, sites: frozenset[str] | None, space: int, address: object, *, actor: str,
        device: str | None = None, dns_name: str | None = None, description: str = "",
        source_ip: str | None = None) -> dict[str, Any]:
    family, value = parse_address(address)
    conn = db.conn
    with transaction(db):
        prefix = store.deepest_containing(conn, space, Block(family, value, BITS[family]))
        if prefix is None or prefix.status == "container":
            raise BadInput("address", f"{address} lies in no allocated range; allocate one first")
        if sites is not None and prefix.site not in sites:
            raise NotFound(f"no allocated range of yours holds {address}", "address")
        try:
            new_id = conn.execute(
                "INSERT INTO ipam_addresses (space_id, family, address, prefix_id, device, dns_name,"
                " description, created_at, created_by) VALUES (?,?,?,?,?,?,?,?,?) RETURNING id",
                (space, family, encode(value), prefix.id, device, dns_name, description, time.time(),
                 actor)).fetchone()[0]
        except Exception as exc:
            if not is_integrity_error(exc):  # the UNIQUE (space, family, address)
                raise
            raise Conflict(f"{address} is already recorded", "address") from exc
        row = {"id": int(new_id), "address": to_text(value, family), "prefix": prefix.cidr,
               "site": prefix.site, "device": device, "dns_name": dns_name, "description": description}
        audit.record(conn, actor, "ipam.address.create", f"ipam:address:{space}:{row['address']}", after=row,
                     source_ip=source_ip, site=prefix.site)
        return row


def of_prefix(db: Database, prefix: store.Prefix) -> list[dict[str, Any]]:
    rows = db.execute("SELECT id, address, device, dns_name, description FROM ipam_addresses"
                      " WHERE prefix_id=? ORDER BY address", (prefix.id,)).fetchall()
    return [{"id": i, "address": to_text(decode(a), prefix.family), "device": dv, "dns_name": dn,
             "description": ds} for i, a, dv, dn, ds in rows]


def planned_devices(db: Database) -> dict[tuple[int, int, int], str]:
    """(space, family, address) -> the device the plan records it for (rows that name one)."""
    return {(s, f, decode(a)): dv for s, f, a, dv in db.execute(
        "SELECT space_id, family, address, device FROM ipam_addresses WHERE coalesce(device, '') != ''")}
