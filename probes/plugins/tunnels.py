"""Tunnels: IPsec/VPN peers from a profile's ``tunnels`` block, against the expected peers."""

from __future__ import annotations

from probes.plugins.base import Plugin, PollContext
from probes.snmp.values import address, index_address, number, text


class Tunnels(Plugin):
    """``tunnels[]``: every expected peer (up, down, or gone with its SA), then unexpected rows."""

    name = "tunnels"
    section = "tunnels"

    async def handle(self, ctx: PollContext) -> None:
        live = await live_tunnels(ctx, ctx.profile.get("tunnels"))
        ctx.result.tunnels = against_expected(live, ctx.expected_peers)


async def live_tunnels(ctx: PollContext, spec: dict) -> dict[str, dict]:
    """Peer address -> ``{peer, name, state}`` of the device's tunnel table."""
    cols = [str(spec[k]) for k in ("peer_column", "state_column", "name_column") if k in spec]
    data = await ctx.walk(cols) if cols else {}
    up_values = {str(v) for v in spec.get("up", [1])}
    live: dict[str, dict] = {}
    index_arcs = int(spec.get("peer_index_arcs", 0))
    keys = data[cols[0]].keys() if cols else []
    for idx in keys:
        peer = (
            index_address(idx, index_arcs) if index_arcs else address(data[str(spec["peer_column"])].get(idx))
        )
        if not peer:
            continue
        state = "up"
        if "state_column" in spec:
            raw = data[str(spec["state_column"])].get(idx)
            said = str(number(raw) if number(raw) is not None else text(raw))
            state = "up" if said in up_values else "down"
        name = text(data[str(spec["name_column"])].get(idx)) if "name_column" in spec else None
        if live.get(peer, {}).get("state") != "up":  # any live SA to the peer makes it up
            live[peer] = {"peer": peer, "name": name, "state": state}
    return live


def against_expected(live: dict[str, dict], peers: list[str]) -> list[dict]:
    """Every expected peer, its SA row gone or not ("down", no SA), then rows nobody expected."""
    if not peers:
        return sorted(live.values(), key=lambda t: t["peer"])
    out = []
    for p in peers:
        key = address(p) or p
        t = live.pop(key, None)
        if t is None:
            out.append({"peer": key, "name": None, "state": "down", "expected": True, "sa": False})
        else:
            out.append(t | {"expected": True, "sa": True})
    out += [t | {"expected": False, "sa": True} for t in sorted(live.values(), key=lambda t: t["peer"])]
    return out
