"""WAN forwarders: a city's agent reaches the centre only while its uplink is up.

Each agent of the inventory that does not sit at the provincial centre gets a TCP
forwarder on ``127.0.0.1:<port>`` that relays its pushes to the centre.  The agent hangs
off its home site's internal (专网) network; while that device has no path to the
provincial centre over the simulated links (a link end down, an SDH LOS, a device down:
:func:`probes.common.topology.build`'s graph, the one the centre's state machine uses), new
connections are reset at once and open ones (keep-alive included) are closed.  So a cut
``sdh-chaohu`` really silences the Chaohu agent: it spools, and replays when the link
comes back.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from probes.common import topology
from probes.common.inventory_model import Inventory
from probes.common.netguard import TargetNotAllowed, check_target
from probes.sim.errors import SimError

if TYPE_CHECKING:  # the province starts these; they only take it as an argument
    from probes.sim.province import SimulatedProvince

CHUNK = 65536


def proxied_agents(inventory: Inventory) -> list[str]:
    """Agents that reach the centre over the WAN: every agent with no site of kind province."""
    out = []
    for name, agent in inventory.agents.items():
        kinds = {inventory.sites[s].kind for s in agent.sites if s in inventory.sites}
        if "province" not in kinds:
            out.append(name)
    return sorted(out)


def proxy_ports(inventory: Inventory, base_port: int) -> dict[str, int]:
    """``base_port + i`` for the i-th proxied agent (sorted by name); 0 for all when base is 0."""
    return {a: (base_port + i if base_port else 0) for i, a in enumerate(proxied_agents(inventory))}


def anchor_of(inventory: Inventory, agent: str) -> str:
    """The device the agent's host hangs off: nearest the centre at its sites, 专网 first."""
    topo = topology.build(inventory)
    sites = set(inventory.agents[agent].sites)
    cands = [d for d in inventory.devices.values() if d.site in sites and d.name in topo.depth]
    if not cands:
        raise SimError(f"agent {agent}: no device of its sites {sorted(sites)} has a link towards the centre")
    best = min(cands, key=lambda d: (d.network != "internal", topo.depth[d.name], d.name))
    return best.name


def parse_centre(url: str) -> tuple[str, int]:
    """(host, port) of the centre URL; loopback only unless NMS_ALLOW_NETWORK (netguard)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SimError(f"--wan-proxy: expected http://HOST:PORT, got {url!r}")
    try:
        check_target(parts.hostname)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except TargetNotAllowed as exc:
        raise SimError(f"--wan-proxy: {exc}") from None
    except ValueError as exc:
        raise SimError(f"--wan-proxy: bad port in {url!r} ({exc})") from None
    return parts.hostname, port


@dataclass
class Route:
    agent: str
    anchor: str
    port: int
    server: asyncio.base_events.Server | None = None
    conns: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter | None]] = field(default_factory=set)
    forwarded: int = 0
    refused: int = 0
    closed_by_cut: int = 0


class WanProxies:
    """One forwarder per WAN agent on the province's event loop; cut while the path is down."""

    def __init__(self, province: SimulatedProvince, centre_url: str, base_port: int = 0,
                 agents: Iterable[str] | None = None) -> None:
        inv = province.inventory
        self.province = province
        self.centre_url = centre_url.rstrip("/")
        self.scheme = urlsplit(centre_url).scheme
        self.host, self.port = parse_centre(centre_url)
        if not 0 <= base_port <= 65535:
            raise SimError(f"--wan-proxy-base-port: {base_port} is not a port")
        ports = proxy_ports(inv, base_port)
        if agents is not None:
            unknown = sorted(set(agents) - set(ports))
            if unknown:
                raise SimError(f"no WAN agent {', '.join(unknown)} (have {', '.join(ports) or 'none'})")
            ports = {a: p for a, p in ports.items() if a in set(agents)}
        self.topo = topology.build(inv)
        self.routes = {a: Route(a, anchor_of(inv, a), p) for a, p in ports.items()}

    # ----- the network's state, from the simulator ---------------------------------
    def causes(self) -> dict[str, str | None]:
        """{agent: why it is cut off (``link X`` / ``device Y``), or None while connected}."""
        down, blocked = self.province.down_and_cut()
        reached = self.topo.reachable(down, blocked)
        out: dict[str, str | None] = {}
        for agent, r in self.routes.items():
            if r.anchor in reached:
                out[agent] = None
            elif r.anchor in down:
                out[agent] = f"device {r.anchor}"
            else:
                out[agent] = self.topo.culprit(r.anchor, down, blocked)
        return out

    def refresh(self) -> None:
        """After a fault: close every open connection of an agent now cut off."""
        for agent, cause in self.causes().items():
            if cause is None:
                continue
            r = self.routes[agent]
            for client, upstream in list(r.conns):
                r.closed_by_cut += 1
                client.transport.abort()
                if upstream is not None:
                    upstream.transport.abort()
            r.conns.clear()

    # ----- serving ---------------------------------------------------------------------
    async def start_async(self) -> dict[str, str]:
        try:
            for r in self.routes.values():
                r.server = await asyncio.start_server(
                    lambda rd, wr, r=r: self._handle(r, rd, wr), "127.0.0.1", r.port)
                r.port = r.server.sockets[0].getsockname()[1]
        except OSError as exc:
            await self.stop_async()
            raise SimError(f"WAN forwarder: cannot listen on 127.0.0.1:{r.port}: {exc.strerror}") from None
        self.province.fault_listeners.append(self.refresh)
        self.province.wan = self
        return self.urls()

    async def stop_async(self) -> None:
        if self.refresh in self.province.fault_listeners:
            self.province.fault_listeners.remove(self.refresh)
        for r in self.routes.values():
            if r.server is not None:
                r.server.close()
            for client, upstream in list(r.conns):
                client.transport.abort()
                if upstream is not None:
                    upstream.transport.abort()
            r.conns.clear()

    def urls(self) -> dict[str, str]:
        return {a: f"{self.scheme}://127.0.0.1:{r.port}" for a, r in self.routes.items()}

    def status(self) -> dict:
        causes = self.causes()
        return {"centre": self.centre_url,
                "agents": {a: {"url": u, "anchor": self.routes[a].anchor, "cut": causes[a],
                               "open": len(self.routes[a].conns), "forwarded": self.routes[a].forwarded,
                               "refused": self.routes[a].refused,
                               "closed_by_cut": self.routes[a].closed_by_cut}
                           for a, u in self.urls().items()}}

    async def _handle(self, r: Route, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.causes()[r.agent] is not None:
            r.refused += 1
            _reset(writer)
            return
        conn: tuple[asyncio.StreamWriter, asyncio.StreamWriter | None] = (writer, None)
        r.conns.add(conn)
        try:
            up_r, up_w = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), 10)
        except (OSError, TimeoutError):
            r.conns.discard(conn)
            _reset(writer)
            return
        r.conns.discard(conn)
        if writer.transport.is_closing():  # cut while connecting
            up_w.transport.abort()
            return
        conn = (writer, up_w)
        r.conns.add(conn)
        r.forwarded += 1
        tasks = [asyncio.create_task(_pipe(reader, up_w)), asyncio.create_task(_pipe(up_r, writer))]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
            r.conns.discard(conn)
            for w in (writer, up_w):
                w.close()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset, as a router with no route answers at once."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    try:
        while data := await src.read(CHUNK):
            dst.write(data)
            await dst.drain()
    except (ConnectionError, OSError):
        pass
