"""A site's state per network (专网 internal, 外网 external): the one rule for the live state and the report.

The two networks of a site are separate address spaces on separate uplinks, so one of
them can be dead while the other answers; a site state that mixed them (degraded when
any device is down) let a county whose whole 专网 was down look available.  So each
network of a site has its own state, from its *core* devices (its routers; all its
devices of that network when it has no router) and its *other* devices:

* ``unknown``: no core device has data;
* ``unreachable``: every core device with data is unreachable (behind a down parent);
* ``down``: every core device with data is down or unreachable;
* ``up``: every core device with data is up and every other device with data is up;
* ``degraded``: anything else (some but not all core devices down, a core device
  degraded or snmp-unreachable, or an other device not up).

Devices without data (``unknown``) are left out.  The site's own state is the worst of
its networks with data (down, unreachable, degraded, up), unknown when none has data;
the wall colours a site node by it and names each network's state.

:mod:`nms.state` applies :func:`fold` to the devices' current states (kind
``site_network``, subject ``<site>/<network>``), :mod:`nms.availability` to their
histories (the per-network site rows of the report).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from probes.common import subject as subjects
from probes.common.inventory_model import Inventory

CORE_ROLES = ("router",)
NETWORK_ZH = {"internal": "专网", "external": "外网"}
WORST_FIRST = ("down", "unreachable", "degraded", "up")
V = TypeVar("V")


@dataclass(frozen=True)
class SiteNetwork:
    """The devices of one network of one site, split into core and the others."""

    site: str
    network: str
    core: tuple[str, ...]
    others: tuple[str, ...]
    core_are_routers: bool

    @property
    def subject(self) -> str:
        return subject(self.site, self.network)


def subject(site: str, network: str) -> str:
    """State subject of a site network (kind ``site_network``)."""
    return subjects.site_network(site, network)


def per_site(rows: Mapping[str, V]) -> dict[str, dict[str, V]]:
    """{site: {network: row}} from rows keyed by site-network subject (``<site>/<network>``)."""
    out: dict[str, dict[str, V]] = {}
    for subj, row in rows.items():
        s = subjects.Subject.parse("site_network", subj)
        out.setdefault(s.name, {})[s.part or ""] = row
    return out


_CACHE: dict[int, tuple[Inventory, tuple, dict[str, dict[str, SiteNetwork]]]] = {}


def networks(inventory: Inventory) -> dict[str, dict[str, SiteNetwork]]:
    """{site: {network: SiteNetwork}} for every site with devices (names sorted).

    Cached per inventory (the state derives sites on every batch); an in-place edit of its
    devices (Device objects are frozen, so any edit replaces one) builds it again.
    """
    fp = tuple(map(id, inventory.devices.values()))
    hit = _CACHE.get(id(inventory))
    if hit is not None and hit[0] is inventory and hit[1] == fp:
        return hit[2]
    if len(_CACHE) > 8:
        _CACHE.clear()
    out = _networks(inventory)
    _CACHE[id(inventory)] = (inventory, fp, out)
    return out


def _networks(inventory: Inventory) -> dict[str, dict[str, SiteNetwork]]:
    names: dict[tuple[str, str], list[str]] = {}
    for d in inventory.devices.values():
        names.setdefault((d.site, d.network), []).append(d.name)
    out: dict[str, dict[str, SiteNetwork]] = {}
    for (site, net), members in sorted(names.items()):
        members.sort()
        core = [n for n in members if inventory.devices[n].role in CORE_ROLES]
        others = [n for n in members if n not in core] if core else []
        sn = SiteNetwork(site, net, tuple(core or members), tuple(others), bool(core))
        out.setdefault(site, {})[net] = sn
    return out


def fold(core: Sequence[str], others: Sequence[str] = ()) -> str:
    """One network of a site from its core and other devices' states (the module's rule)."""
    known = [x for x in core if x != "unknown"]
    if not known:
        return "unknown"
    if all(x == "unreachable" for x in known):
        return "unreachable"
    if all(x in ("down", "unreachable") for x in known):
        return "down"
    if all(x == "up" for x in known) and all(x in ("up", "unknown") for x in others):
        return "up"
    return "degraded"


def explain(net: SiteNetwork, st: str, core: Sequence[str], others: Sequence[str]) -> str | None:
    """Why :func:`fold` said ``st`` (for the state's reason), in the devices' terms."""
    what = "routers" if net.core_are_routers else "devices"
    if st == "up":
        return None
    if st == "unknown":
        return "no data"
    if st == "unreachable":
        return "parent down"
    bad = sum(_not_up(x) for x in core)
    if st == "down":
        return f"all {what} down" if bad == len(core) else f"{what} with data down"
    parts = [f"{bad} of {len(core)} {what} not up"] if bad else []
    worse = sum(_not_up(x) for x in others)
    if worse:
        parts.append(f"{worse} of {len(others)} other devices not up")
    return ", ".join(parts) or None


def _not_up(st: str) -> bool:
    return st not in ("up", "unknown")


def worst(states: Mapping[str, str]) -> str:
    """A site's state from its networks' states: the worst of those with data."""
    for st in WORST_FIRST:
        if st in states.values():
            return st
    return "unknown"


def in_order(rows: Mapping[str, V]) -> list[tuple[str, V]]:
    """(network, row) pairs, 专网 internal first, then 外网 external, then any other by name."""
    rank = {net: i for i, net in enumerate(NETWORK_ZH)}
    return sorted(rows.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0]))


def label(network: str) -> str:
    """``专网 internal``: how reasons and pages name a network."""
    zh = NETWORK_ZH.get(network)
    return f"{zh} {network}" if zh else network


def summary(states: Mapping[str, tuple[str, str | None]]) -> str | None:
    """A site's reason from {network: (state, reason)}: each network named with its state.

    None when every network is up (nothing to explain).
    """
    if all(st == "up" for st, _ in states.values()):
        return None
    return "; ".join(
        f"{label(net)} {st}" + (f" ({why})" if why else "") for net, (st, why) in in_order(states)
    )
