"""Suspect: a device said something is down, no poll has checked it yet.

Confirm, don't trust (issue 16): a trap or syslog line never changes a subject's state;
the agent polls the device at once and the state follows that poll (:mod:`nms.state`).
Until the poll arrives, the subject the event names is *suspect*: shown so on the wall and
in ``/api/v1/state``, never red.  Derived at read time from the event log and the state
(nothing stored): a subject is suspect while a problem event about it is newer than its
newest poll, its state is not already down, and no clearing event came after it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlite_utils

from nms import state
from nms.events import store
from probes.common import subject as subjects
from probes.common.inventory_model import Inventory

#: problem kinds about one interface of the device (the event's subject names it) -> clearing kind
INTERFACE_KINDS = {"link-down": "link-up", "protocol-down": "protocol-up"}
WINDOW_S = 600.0  # an event no poll answered in ten minutes is history, not suspicion
QUIET = ("down", "unreachable")


def suspects(db: sqlite_utils.Database, now: float, window_s: float = WINDOW_S,
             sites: frozenset[str] | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """{(kind, subject): {since, why}} of the subjects suspected right now."""
    kinds = [*INTERFACE_KINDS, *INTERFACE_KINDS.values()]
    events = store.recent(db, now - window_s, kinds, sites)
    newest: dict[str, dict[str, Any]] = {}  # interface subject -> its newest event (down or up)
    for ev in events:  # newest first
        if ev["device"] and ev["subject"]:
            newest.setdefault(subjects.interface(ev["device"], ev["subject"]), ev)
    pending = {s: ev for s, ev in newest.items() if ev["kind"] in INTERFACE_KINDS}
    if not pending:
        return {}
    out = {}
    for subject, (st, last_ts) in state.observed(db, "interface", pending).items():
        ev = pending[subject]
        if st in QUIET or (last_ts is not None and last_ts >= ev["ts"]):
            continue  # already down, or a poll after the event said otherwise
        why = f"{ev['origin']} {ev['kind']}: {ev['text']}"[:300]
        out[("interface", subject)] = {"since": ev["ts"], "why": why}
    return out


def links_of(found: Mapping[tuple[str, str], Any], inventory: Inventory | None) -> dict[str, dict[str, Any]]:
    """{link id: suspicion} of links with a suspect end interface."""
    if inventory is None or not found:
        return {}
    out = {}
    for link in inventory.links.values():
        for end in (link.a, link.b):
            hit = found.get(("interface", subjects.interface(end.device, end.interface)))
            if hit is not None:
                out[link.id] = hit
                break
    return out


def ticker(db: sqlite_utils.Database, now: float, sites: Iterable[str] | None = None,
           limit: int = 20, window_s: float = 3600.0) -> list[dict[str, Any]]:
    """The newest events for the wall's ticker (the raw message stays in the log)."""
    rows = store.recent(db, now - window_s, None, None if sites is None else frozenset(sites), limit)
    return [{k: r[k] for k in ("ts", "device", "site", "kind", "subject", "severity", "text", "count")}
            for r in rows]
