"""The province's link tree as one graph, built once per inventory.

Both the state machine (a device behind a down link or device is *unreachable
(parent)*) and the alerts engine (consequences folded under their root cause) ask this
one graph, so the wall display and the alert grouping can never disagree about what
lies behind what.

The graph: inventory links, plus each site's LAN.  A site's LAN joins only devices of
the same network: 专网 (internal) and 外网 (external) are separate address spaces, so
a city's external uplink does not carry its internal devices.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection
from dataclasses import dataclass, field

from probes.common.inventory_model import Inventory
from probes.common.subject import Subject

Edge = tuple[str, str | None]  # (neighbour device, link id; None = the site's LAN)


@dataclass
class Topology:
    inventory: Inventory
    adj: dict[str, list[Edge]] = field(default_factory=dict)
    roots: list[str] = field(default_factory=list)  # the provincial centre's devices
    parent: dict[str, Edge] = field(default_factory=dict)  # BFS tree from the roots, ignoring state
    depth: dict[str, int] = field(default_factory=dict)
    by_site: dict[str, list[str]] = field(default_factory=dict)
    peers: dict[str, tuple[str, ...]] = field(default_factory=dict)  # expected tunnel peers (both ends)
    by_address: dict[str, list[str]] = field(default_factory=dict)  # management or simulated address
    _only: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict, repr=False)
    _on: dict[Subject, frozenset[str]] = field(default_factory=dict, repr=False)

    def reachable(self, down: Collection[str] = (), blocked: Collection[str] = ()) -> set[str]:
        """Devices the centre reaches without passing a device in ``down`` or a link in ``blocked``."""
        reached = {r for r in self.roots if r not in down}
        queue = deque(reached)
        while queue:
            cur = queue.popleft()
            for nxt, lid in self.adj.get(cur, ()):
                if nxt in reached or nxt in down or (lid is not None and lid in blocked):
                    continue
                reached.add(nxt)
                queue.append(nxt)
        return reached

    def culprit(self, device: str, down: Collection[str], blocked: Collection[str]) -> str:
        """The down thing nearest the centre on the device's path: ``link X`` / ``device Y``."""
        found, cur = "parent", device
        while cur in self.parent:
            up, lid = self.parent[cur]
            if lid is not None and lid in blocked:
                found = f"link {lid}"
            elif up in down:
                found = f"device {up}"
            cur = up
        return found

    def behind(
        self,
        down: Collection[str] = (),
        blocked: Collection[str] = (),
        reached: set[str] | None = None,
    ) -> dict[str, str]:
        """{device: culprit} for every device lost behind the given down devices and links.

        A down device that a reached neighbour faces over a working link is a root
        cause, not lost; the province's own devices are never lost.
        """
        if reached is None:
            reached = self.reachable(down, blocked)
        out: dict[str, str] = {}
        for name in self.adj:
            if name in reached or name in self.roots:
                continue
            if name in down and any(n in reached and lid not in blocked for n, lid in self.adj[name]):
                continue
            out[name] = self.culprit(name, down, blocked)
        return out

    def peer_name(self, device: str, peer: str) -> str:
        """The inventory name of the tunnel peer ``device`` reports as ``peer`` (an address).

        A device's expected peers are looked up first (addresses are unique only within
        one network); an address no device has stays as it is.
        """
        inv = self.inventory
        if peer in inv.devices:
            return peer
        found = self.by_address.get(peer, [])
        expected = [n for n in found if n in self.peers.get(device, ())]
        own = inv.devices.get(device)
        same = [n for n in found if own is not None and inv.devices[n].network == own.network]
        return (expected or same or found or [peer])[0]

    def components(self, down: Collection[str] = (), blocked: Collection[str] = ()) -> dict[str, int]:
        """{device: island number}: devices with the same number still reach each other
        without passing a ``down`` device or a ``blocked`` link (down devices are left out)."""
        comp: dict[str, int] = {}
        for start in self.adj:
            if start in comp or start in down:
                continue
            n = comp[start] = len(comp)
            queue = deque([start])
            while queue:
                cur = queue.popleft()
                for nxt, lid in self.adj[cur]:
                    if nxt not in comp and nxt not in down and (lid is None or lid not in blocked):
                        comp[nxt] = n
                        queue.append(nxt)
        return comp

    def stands_on(self, subject: Subject) -> frozenset[str]:
        """The devices a subject stands on: the one answer maintenance and alerts share.

        A device, or an interface, stands on its device; a link on both ends' devices; a
        tunnel on its device and the peer's (when the peer is an inventory device); a site
        on its devices; a site network on that network's devices of the site; an agent on
        its home site's internal (专网) devices, the way its reports leave, else on the
        devices it polls.  An unknown link, site or agent stands on nothing.
        """
        hit = self._on.get(subject)
        if hit is None:
            hit = self._on[subject] = frozenset(self._stands_on(subject))
        return hit

    def _stands_on(self, s: Subject) -> set[str] | list[str]:
        inv = self.inventory
        if s.kind in ("device", "interface"):
            return {s.name}
        if s.kind == "tunnel":
            peer = self.peer_name(s.name, s.part or "")
            return {s.name, peer} if peer in inv.devices else {s.name}
        if s.kind == "link":
            link = inv.links.get(s.name)
            return {link.a.device, link.b.device} if link else set()
        if s.kind == "site":
            return self.by_site.get(s.name, [])
        if s.kind == "site_network":
            return [d for d in self.by_site.get(s.name, []) if inv.devices[d].network == s.part]
        if s.kind == "agent" and s.name in inv.agents:
            sites = inv.agents[s.name].sites
            home = self.by_site.get(sites[0], []) if sites else []
            internal = [d for d in home if inv.devices[d].network == "internal"]
            return internal or [d.name for d in inv.devices_of_agent(s.name)]
        return set()

    def only_through(self, kind: str, subject: str) -> frozenset[str]:
        """Devices the centre reaches only through this one link or device (not itself)."""
        key = (kind, subject)
        if key not in self._only:
            everything = set(self.depth)
            if kind == "link" and subject in self.inventory.links:
                rest = self.reachable(blocked={subject})
            elif kind == "device" and subject in self.inventory.devices:
                rest = self.reachable(down={subject}) | {subject}
            else:
                rest = everything
            self._only[key] = frozenset(everything - rest)
        return self._only[key]


# Kinds that fail only when every device they stand on does (a site keeps working while
# one of its routers is away); the others fail when any one of theirs does.
NEEDS_ALL = frozenset({"site", "site_network", "agent"})


def stands_on(subject: Subject, inventory: Inventory | None) -> frozenset[str]:
    """:meth:`Topology.stands_on` of this inventory; without one, only a subject's own device."""
    if inventory is not None:
        return build(inventory).stands_on(subject)
    return frozenset({subject.device}) if subject.device else frozenset()


def taken_down_by(
    subject: Subject, devices: Collection[str], inventory: Inventory | None, links: Collection[str] = ()
) -> bool:
    """Is ``subject`` out while ``devices`` and ``links`` are (in maintenance, or lost)?

    Any device it stands on is enough, except for :data:`NEEDS_ALL` kinds, which need all
    of theirs (and stand on at least one); an interface is also out with a link it ends.
    Maintenance windows and the alerts' root cause both ask this.
    """
    if subject.kind == "interface" and links and inventory is not None:
        end = (subject.name, subject.part)
        for link in filter(None, map(inventory.links.get, links)):
            if end in ((link.a.device, link.a.interface), (link.b.device, link.b.interface)):
                return True
    on = stands_on(subject, inventory)
    if subject.kind in NEEDS_ALL:
        return bool(on) and on <= set(devices)
    return not on.isdisjoint(devices)


def _fingerprint(inventory: Inventory) -> tuple:
    """Cheap identity of what the graph is made of: an in-place edit of the inventory rebuilds it."""
    return (
        tuple(map(id, inventory.devices.values())),
        tuple(map(id, inventory.links.values())),
        tuple(map(id, inventory.sites.values())),
    )


_CACHE: dict[int, tuple[Inventory, tuple, Topology]] = {}


def build(inventory: Inventory) -> Topology:
    """The graph of this inventory (cached: built once, not per batch)."""
    fp = _fingerprint(inventory)
    hit = _CACHE.get(id(inventory))
    if hit is not None and hit[0] is inventory and hit[1] == fp:
        return hit[2]
    topo = _build(inventory)
    if len(_CACHE) > 8:
        _CACHE.clear()
    _CACHE[id(inventory)] = (inventory, fp, topo)
    return topo


def expected_peers(inventory: Inventory) -> dict[str, tuple[str, ...]]:
    """Tunnels each cipher machine must have, at both ends.

    A device's own ``tunnel_peers`` first, then (sorted) the devices that list it: an
    IPsec tunnel exists on both gateways, so the provincial hub expects every city
    cipher machine and a city expects the province and its counties' machines.
    """
    reverse: dict[str, set[str]] = {}
    for d in inventory.devices.values():
        for peer in d.tunnel_peers:
            reverse.setdefault(peer, set()).add(d.name)
    return {
        d.name: tuple(dict.fromkeys([*d.tunnel_peers, *sorted(reverse.get(d.name, ()))]))
        for d in inventory.devices.values()
        if d.tunnel_peers or d.name in reverse
    }


def _build(inventory: Inventory) -> Topology:
    t = Topology(inventory, peers=expected_peers(inventory))
    for d in inventory.devices:
        t.adj[d] = []
    for link in inventory.links.values():
        if link.a.device in t.adj and link.b.device in t.adj:
            t.adj[link.a.device].append((link.b.device, link.id))
            t.adj[link.b.device].append((link.a.device, link.id))
    lans: dict[tuple[str, str], list[str]] = {}
    for d in inventory.devices.values():
        t.by_site.setdefault(d.site, []).append(d.name)
        for addr in dict.fromkeys((d.address, inventory.sim_address(d.name))):
            t.by_address.setdefault(addr, []).append(d.name)
        lans.setdefault((d.site, d.network), []).append(d.name)
    for names in lans.values():
        for a in names:
            t.adj[a].extend((b, None) for b in names if b != a)
    t.roots = sorted(
        d.name
        for d in inventory.devices.values()
        if d.site in inventory.sites and inventory.sites[d.site].kind == "province"
    )
    # the tree: BFS from the roots, a site's LAN before a link at equal distance
    t.depth = {r: 0 for r in t.roots}
    queue = deque(t.roots)
    while queue:
        cur = queue.popleft()
        for nxt, lid in sorted(t.adj[cur], key=lambda e: e[1] is not None):
            if nxt not in t.depth:
                t.depth[nxt] = t.depth[cur] + 1
                t.parent[nxt] = (cur, lid)
                queue.append(nxt)
    return t
