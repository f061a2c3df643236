"""Root cause from the inventory's link tree: what lies only behind a down link or device.

:mod:`nms.state` already marks a *polled* device behind a down link "unreachable".
This module answers the alert-side questions from the same inventory graph: which
devices are reachable *only* through a given link or device (so an alert on anything
there is a consequence, listed under the root cause instead of paging), including
devices the centre no longer hears from at all because their agent sits behind the cut.

The graph is :func:`probes.common.topology.build`'s, the same the state machine derives
*unreachable (parent)* from, so the two cannot disagree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from probes.common import topology as core
from probes.common.inventory_model import Inventory

ROOT_KINDS = ("link", "device")
_DEVICE_DOWN = re.compile(r"^device \S+ down")
_PINGABLE = re.compile(r"^SNMP unreachable, ping ok")  # answers ping: nothing behind it is lost


@dataclass
class Topology:
    """The alert-side questions on :func:`probes.common.topology.build`'s graph (shared with state)."""

    graph: core.Topology

    @classmethod
    def build(cls, inventory: Inventory) -> Topology:
        return cls(core.build(inventory))

    @property
    def inventory(self) -> Inventory:
        return self.graph.inventory

    @property
    def adj(self) -> dict[str, list[core.Edge]]:
        return self.graph.adj

    @property
    def roots(self) -> list[str]:
        return self.graph.roots

    @property
    def depth(self) -> dict[str, int]:
        return self.graph.depth

    def behind(self, kind: str, subject: str) -> frozenset[str]:
        """Devices reachable from the centre only through this link or device (not itself)."""
        return self.graph.only_through(kind, subject)

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
    root: the device is.  Nor is a device whose SNMP fails while it answers ping: a
    device down behind it is a cause of its own.
    """
    reasons = reasons or {}

    def key(s: tuple[str, str]) -> tuple[int, int, str]:
        d, rank, name = topo.sort_key(*s)
        if s[0] == "link" and _DEVICE_DOWN.match(reasons.get(s) or ""):
            return (d + 1, 3, name)
        if _PINGABLE.match(reasons.get(s) or ""):
            return (d, 3, name)
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
