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
from probes.common.subject import Subject

ROOT_KINDS = ("link", "device")
_DEVICE_DOWN = re.compile(r"^device \S+ down")
_PINGABLE = re.compile(r"^SNMP unreachable, ping ok")  # answers ping: nothing behind it is lost


@dataclass
class RootCause:
    """The alert-side questions on :func:`probes.common.topology.build`'s graph (shared with state):
    what lies behind a down link or device, and which alerts are its consequences."""

    graph: core.Topology

    @classmethod
    def build(cls, inventory: Inventory) -> RootCause:
        return cls(core.build(inventory))

    @property
    def inventory(self) -> Inventory:
        return self.graph.inventory

    @property
    def depth(self) -> dict[str, int]:
        return self.graph.depth

    def behind(self, kind: str, subject: str) -> frozenset[str]:
        """Devices reachable from the centre only through this link or device (not itself)."""
        return self.graph.only_through(kind, subject)

    def devices_of(self, kind: str, subject: str) -> frozenset[str]:
        """Devices an alert subject stands on (:meth:`probes.common.topology.Topology.stands_on`)."""
        try:
            return self.graph.stands_on(Subject.parse(kind, subject))
        except ValueError:
            return frozenset()

    def sort_key(self, kind: str, subject: str) -> tuple[int, int, str]:
        """Nearer the centre first; at equal depth a link before a device before the rest."""
        if kind == "link" and subject in self.inventory.links:
            d = self.depth.get(self.inventory.links[subject].a.device, 10**6)
        else:
            d = min((self.depth.get(x, 10**6) for x in self.devices_of(kind, subject)), default=10**6)
        rank = {"link": 0, "device": 1}.get(kind, 2)
        return (d, rank, subject)

    def covered_by(self, kind: str, subject: str, root_kind: str, root: str) -> bool:
        """Is this subject a consequence of ``root`` being down?

        When it is out with the root and what lies only behind it
        (:func:`probes.common.topology.taken_down_by`, the rule maintenance windows use
        too): a link root takes its two interfaces; a device root what stands on it (its
        interfaces, tunnels and links at either end; a site, site network or agent only
        when all of their devices are lost with it).
        """
        if (kind, subject) == (root_kind, root) or root_kind not in ROOT_KINDS:
            return False
        try:
            s = Subject.parse(kind, subject)
        except ValueError:
            return False
        lost = self.behind(root_kind, root)
        if root_kind == "link":
            return root in self.inventory.links and core.taken_down_by(s, lost, self.inventory, (root,))
        return core.taken_down_by(s, lost | {root}, self.inventory)


def assign_roots(
    topo: RootCause,
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
