"""Root cause from the inventory's link tree: what lies only behind a down link or device.

:mod:`nms.state` already marks a *polled* device behind a down link "unreachable".
This module answers the alert-side questions from the same inventory graph: which
devices are reachable *only* through a given link or device (so an alert on anything
there is a consequence, listed under the root cause instead of paging), including
devices the centre no longer hears from at all because their agent sits behind the cut.

The graph: inventory links, plus each site's LAN (devices of one site and one network
address space are adjacent).  专网 and 外网 are separate networks: a city's external
uplink does not carry its internal devices.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from nms.inventory_model import Inventory

ROOT_KINDS = ("link", "device")
_DEVICE_DOWN = re.compile(r"^device \S+ down")


@dataclass
class Topology:
    inventory: Inventory
    adj: dict[str, list[tuple[str, str | None]]] = field(default_factory=dict)
    roots: list[str] = field(default_factory=list)
    depth: dict[str, int] = field(default_factory=dict)
    _reach_all: set[str] = field(default_factory=set)
    _behind: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, inventory: Inventory) -> Topology:
        t = cls(inventory)
        for d in inventory.devices:
            t.adj[d] = []
        for link in inventory.links.values():
            if link.a.device in t.adj and link.b.device in t.adj:
                t.adj[link.a.device].append((link.b.device, link.id))
                t.adj[link.b.device].append((link.a.device, link.id))
        lans: dict[tuple[str, str], list[str]] = {}
        for d in inventory.devices.values():
            lans.setdefault((d.site, d.network), []).append(d.name)
        for names in lans.values():
            for a in names:
                t.adj[a].extend((b, None) for b in names if b != a)
        t.roots = sorted(
            d.name
            for d in inventory.devices.values()
            if inventory.sites.get(d.site) is not None and inventory.sites[d.site].kind == "province"
        )
        t.depth = t._bfs()
        t._reach_all = set(t.depth)
        return t

    def _bfs(self, skip_link: str | None = None, skip_device: str | None = None) -> dict[str, int]:
        depth = {r: 0 for r in self.roots if r != skip_device}
        queue = deque(depth)
        while queue:
            cur = queue.popleft()
            for nxt, lid in self.adj.get(cur, ()):
                if nxt in depth or nxt == skip_device or (lid is not None and lid == skip_link):
                    continue
                depth[nxt] = depth[cur] + 1
                queue.append(nxt)
        return depth

    def behind(self, kind: str, subject: str) -> frozenset[str]:
        """Devices reachable from the centre only through this link or device (not itself)."""
        key = (kind, subject)
        if key not in self._behind:
            if kind == "link" and subject in self.inventory.links:
                rest = set(self._bfs(skip_link=subject))
            elif kind == "device" and subject in self.inventory.devices:
                rest = set(self._bfs(skip_device=subject)) | {subject}
            else:
                rest = self._reach_all
            self._behind[key] = frozenset(self._reach_all - rest)
        return self._behind[key]

    def devices_of(self, kind: str, subject: str) -> set[str]:
        """Devices an alert subject stands on (to decide whether it lies behind a root)."""
        inv = self.inventory
        if kind == "device":
            return {subject}
        if kind == "interface":
            return {subject.split(":", 1)[0]}
        if kind == "link":
            link = inv.links.get(subject)
            return {link.b.device} if link else set()
        if kind == "tunnel":
            dev, _, peer = subject.partition(">")
            return {dev} | self._peer_devices(peer)
        if kind == "site":
            return {d.name for d in inv.devices.values() if d.site == subject}
        if kind == "agent" and subject in inv.agents:
            # the agent reports from its first site over the internal network (专网)
            home = inv.agents[subject].sites[0] if inv.agents[subject].sites else None
            devs = {d.name for d in inv.devices.values() if d.site == home and d.network == "internal"}
            return devs or {d.name for d in inv.devices_of_agent(subject)}
        return set()

    def _peer_devices(self, peer: str) -> set[str]:
        inv = self.inventory
        if peer in inv.devices:
            return {peer}
        for d in inv.devices.values():
            if peer in (d.address, inv.sim_address(d.name)):
                return {d.name}
        return set()

    def sort_key(self, kind: str, subject: str) -> tuple[int, int, str]:
        """Nearer the centre first; at equal depth a link before a device before the rest."""
        if kind == "link" and subject in self.inventory.links:
            d = self.depth.get(self.inventory.links[subject].a.device, 10**6)
        else:
            d = min((self.depth.get(x, 10**6) for x in self.devices_of(kind, subject)), default=10**6)
        rank = {"link": 0, "device": 1}.get(kind, 2)
        return (d, rank, subject)

    def covered_by(self, kind: str, subject: str, root_kind: str, root: str) -> bool:
        """Is this subject a consequence of ``root`` being down?"""
        if (kind, subject) == (root_kind, root):
            return False
        inv = self.inventory
        if root_kind == "link":
            link = inv.links.get(root)
            if link is None:
                return False
            if kind == "interface" and subject in (f"{e.device}:{e.interface}" for e in (link.a, link.b)):
                return True
        elif root_kind == "device":
            if (
                kind in ("interface", "tunnel")
                and subject.split(":" if kind == "interface" else ">", 1)[0] == root
            ):
                return True
            if (
                kind == "link"
                and subject in inv.links
                and root in (inv.links[subject].a.device, inv.links[subject].b.device)
            ):
                return True
            if kind == "tunnel" and root in self._peer_devices(subject.partition(">")[2]):
                return True
        else:
            return False
        return bool(self.devices_of(kind, subject) & self.behind(root_kind, root))


def assign_roots(
    topo: Topology,
    subjects: Iterable[tuple[str, str]],
    reasons: dict[tuple[str, str], str | None] | None = None,
) -> dict[tuple[str, str], tuple[str, str]]:
    """{subject: root subject} for every subject that is a consequence of another one.

    Subjects are taken nearest the centre first; one that is not covered by an earlier
    root becomes a root itself when it is a link or a device.  A link the state machine
    calls down only because an end device is down (reason ``device X down``) is never a
    root: the device is.
    """
    reasons = reasons or {}

    def key(s: tuple[str, str]) -> tuple[int, int, str]:
        d, rank, name = topo.sort_key(*s)
        if s[0] == "link" and _DEVICE_DOWN.match(reasons.get(s) or ""):
            return (d + 1, 3, name)
        return (d, rank, name)

    roots: list[tuple[str, str]] = []
    out: dict[tuple[str, str], tuple[str, str]] = {}
    for kind, subject in sorted(set(subjects), key=key):
        root = next((r for r in roots if topo.covered_by(kind, subject, *r)), None)
        if root is not None:
            out[(kind, subject)] = root
        elif kind in ROOT_KINDS and key((kind, subject))[1] != 3:
            roots.append((kind, subject))
    return out
