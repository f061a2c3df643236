"""Up / down / degraded / snmp-unreachable / unreachable / unknown of every device, interface, link and site.

Devices, interfaces and tunnels are observed directly (poll results); a change needs
``down_after`` consecutive bad polls or ``up_after`` good ones (:class:`StateConfig`),
and is dated at the first poll of the run that confirmed it.  Links and sites are
derived from those.  A device that is down while the only way to it from the
provincial centre runs through a down link or device is *unreachable (parent)*: the
root cause shows as down, what lies behind it as unreachable (the graph is
:func:`probes.common.topology.build`, shared with the alerts).  A device not heard from for
``stale_after`` turns unknown (:func:`age_out`, run periodically by ``nms serve``), and
a device's interfaces and tunnels do not outlive it: down, unreachable or silent, they
show unknown / unreachable until its next good poll.

Every change of a subject's state is a row of ``state_events`` (kind, subject, from,
to, reason, ts); availability (:mod:`nms.availability`) is computed from those rows.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import sqlite_utils

from nms import sdh, sitenet
from nms.db import transaction
from nms.store import add_key_column, run_ddl
from probes.common import subject as subjects
from probes.common import topology
from probes.common.inventory_model import Inventory
from probes.common.settings import env_number

STATES = ("up", "down", "degraded", "snmp-unreachable", "unreachable", "unknown")
SNMP_UNREACHABLE = "snmp-unreachable"  # SNMP fails but the device answers ping: not "down"
KINDS = ("device", "interface", "link", "site", "tunnel", "site_network")
OBSERVED = ("device", "interface", "tunnel")  # polled directly (links and sites are derived)
SDH_DEFECTS = ("LOS", "LOF", "AIS", "LOP", "TIM", "PLM", "UNEQ")  # this end receives nothing usable
SDH_FAR_END = ("RDI",)  # the far end receives nothing usable from us: one direction is broken
APPLIED_KEEP_S = 30 * 86400
GAP_FACTOR = 1.5  # silent for this many poll intervals: a gap late polls may fill (:func:`backfill`)


@dataclass(frozen=True)
class StateConfig:
    down_after: int = 2
    up_after: int = 1
    stale_factor: float = 3.0  # silent for this many poll intervals: the device's state is unknown
    stale_min_s: float = 180.0
    cut_grace_s: float = 10.0  # behind a confirmed cut and silent since: unknown after this long

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> StateConfig:
        """``NMS_STATE_DOWN_AFTER`` / ``NMS_STATE_UP_AFTER``: consecutive polls needed;
        ``NMS_STATE_STALE_FACTOR``: poll intervals of silence before a device is unknown;
        ``NMS_STATE_STALE_MIN_S``: never sooner than this (seconds; tests make it short);
        ``NMS_STATE_CUT_GRACE_S``: silent behind a confirmed cut this long: unknown (seconds)."""
        env = os.environ if env is None else env
        try:
            cfg = cls(int(env.get("NMS_STATE_DOWN_AFTER", 2)), int(env.get("NMS_STATE_UP_AFTER", 1)))
        except ValueError as exc:
            raise ValueError(f"NMS_STATE_DOWN_AFTER/NMS_STATE_UP_AFTER: not an integer ({exc})") from None
        if cfg.down_after < 1 or cfg.up_after < 1:
            raise ValueError("NMS_STATE_DOWN_AFTER and NMS_STATE_UP_AFTER must be at least 1")
        factor = env_number("NMS_STATE_STALE_FACTOR", cls.stale_factor, env, minimum=1)
        min_s = env_number("NMS_STATE_STALE_MIN_S", cls.stale_min_s, env)
        grace = env_number("NMS_STATE_CUT_GRACE_S", cls.cut_grace_s, env)
        return cls(cfg.down_after, cfg.up_after, factor, min_s, grace)

    def stale_after(self, interval_s: float) -> float:
        """Seconds of silence after which a device polled every ``interval_s`` is unknown."""
        return max(self.stale_min_s, self.stale_factor * interval_s)

    def needed(self, state: str) -> int:
        return self.down_after if state == "down" else self.up_after


def ensure_schema(db: sqlite_utils.Database) -> None:
    run_ddl(
        db,
        """
        CREATE TABLE IF NOT EXISTS state_current (
            kind TEXT NOT NULL, subject TEXT NOT NULL,
            state TEXT NOT NULL, since REAL, reason TEXT,
            own TEXT NOT NULL DEFAULT 'unknown',
            pending TEXT, pending_n INTEGER NOT NULL DEFAULT 0, pending_since REAL, pending_reason TEXT,
            last_ts REAL, site TEXT, own_reason TEXT,
            PRIMARY KEY (kind, subject)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS state_events (
            id INTEGER PRIMARY KEY, ts REAL NOT NULL, kind TEXT NOT NULL, subject TEXT NOT NULL,
            from_state TEXT NOT NULL, to_state TEXT NOT NULL, reason TEXT);
        CREATE INDEX IF NOT EXISTS state_events_subject ON state_events (kind, subject, ts);
        CREATE INDEX IF NOT EXISTS state_events_ts ON state_events (ts);
        CREATE TABLE IF NOT EXISTS agent_epochs (
            agent TEXT NOT NULL, epoch TEXT NOT NULL, first_seen REAL NOT NULL, first_seq INTEGER,
            previous TEXT, previous_last_seq INTEGER, PRIMARY KEY (agent, epoch)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS state_gaps (
            kind TEXT NOT NULL, subject TEXT NOT NULL, start_ts REAL NOT NULL, end_ts REAL NOT NULL,
            step REAL NOT NULL, pending TEXT, pending_n INTEGER NOT NULL DEFAULT 0, pending_since REAL,
            pending_reason TEXT, end_state TEXT, end_reason TEXT,
            PRIMARY KEY (kind, subject, start_ts)) WITHOUT ROWID;
        """,
    )
    add_key_column(db, "state_applied", _APPLIED_DDL, "epoch", "")  # from before epochs
    db.execute(_APPLIED_DDL)


# key columns first and in key order (SQLite 3.40's integrity_check misreads NOT NULL otherwise)
_APPLIED_DDL = """CREATE TABLE IF NOT EXISTS state_applied (
    agent TEXT NOT NULL, epoch TEXT NOT NULL DEFAULT '', seq INTEGER NOT NULL, ts REAL NOT NULL,
    PRIMARY KEY (agent, epoch, seq)) WITHOUT ROWID"""


@dataclass
class Subject:
    kind: str
    subject: str
    state: str = "unknown"
    since: float | None = None
    reason: str | None = None
    own: str = "unknown"
    pending: str | None = None
    pending_n: int = 0
    pending_since: float | None = None
    pending_reason: str | None = None
    last_ts: float | None = None
    site: str | None = None
    own_reason: str | None = None
    changed_at: float | None = field(default=None, compare=False)  # this batch confirmed a new own state

    def row(self) -> tuple:
        return (
            self.kind,
            self.subject,
            self.state,
            self.since,
            self.reason,
            self.own,
            self.pending,
            self.pending_n,
            self.pending_since,
            self.pending_reason,
            self.last_ts,
            self.site,
            self.own_reason,
        )


_COLUMNS = (
    "kind, subject, state, since, reason, own, pending, pending_n, pending_since, pending_reason,"
    " last_ts, site, own_reason"
)


@dataclass
class Machine:
    """All subjects in memory for one batch; records transitions as it goes."""

    subjects: dict[tuple[str, str], Subject]
    config: StateConfig
    events: list[tuple] = field(default_factory=list)
    changed: set[tuple[str, str]] = field(default_factory=set)
    gaps: list[tuple] = field(default_factory=list)  # (kind, subject, start, end, step, *pending run)
    late: list[tuple] = field(default_factory=list)  # (kind, subject, ts, obs, reason): older than last_ts
    retro: list[tuple] = field(default_factory=list)  # (ts, kind, subject, state, reason): see set_state
    _tunnels: dict[str, set[str]] | None = field(default=None, repr=False)

    def tunnels_of(self, device: str) -> set[str]:
        """Peers of the device's known tunnel subjects (index built once per batch)."""
        if self._tunnels is None:
            self._tunnels = {}
            for kind, subj in self.subjects:
                if kind == "tunnel":
                    t = subjects.Subject.parse(kind, subj)
                    self._tunnels.setdefault(t.name, set()).add(t.part or "")
        return self._tunnels.setdefault(device, set())

    def get(self, kind: str, subject: str, site: str | None = None) -> Subject:
        key = (kind, subject)
        s = self.subjects.get(key)
        if s is None:
            s = self.subjects[key] = Subject(kind, subject, site=site)
            self.changed.add(key)
        elif site is not None and s.site != site:  # the inventory moved it (or it was unknown)
            s.site = site
            self.changed.add(key)
        return s

    def set_state(self, s: Subject, state: str, reason: str | None, ts: float) -> None:
        key = (s.kind, s.subject)
        if s.since is not None and ts < s.since and s.kind in OBSERVED and s.changed_at == ts:
            # its own poll, newer than any before but older than its last change, which aging or
            # a parent made without it (a spool replayed in order after aging): from ``ts`` on,
            # its history is this (:func:`save` rewrites the events)
            self.events = [e for e in self.events if (e[1], e[2]) != key or e[0] < ts]
            self.retro.append((ts, s.kind, s.subject, state, reason))
            s.state, s.since, s.reason = state, ts, reason
            self.changed.add(key)
            return
        if s.state == state:
            if s.reason != reason:  # same state, new cause: the display follows, no event
                s.reason = reason
                self.changed.add((s.kind, s.subject))
            return
        if s.since is not None and ts < s.since:  # a derived change dated before the last one: keep order
            ts = s.since
        self.events.append((ts, s.kind, s.subject, s.state, state, reason))
        s.state, s.since, s.reason = state, ts, reason
        self.changed.add((s.kind, s.subject))

    def observe(
        self,
        s: Subject,
        obs: str,
        reason: str | None,
        ts: float,
        interval: float = 60.0,
        confirm: bool = False,
    ) -> None:
        """Hysteresis: ``obs`` becomes the subject's own state after enough polls in a row.

        A ``confirm`` poll (taken at once because the device reported a change, or the fast
        reachability probe saw one) is the second witness: it decides on its own.

        A poll older than the last one seen changes nothing now; it is kept for
        :func:`backfill` (history).  A silence of more than ``GAP_FACTOR`` intervals
        before this poll is remembered as a gap such late polls may fill.
        """
        if s.last_ts is not None and ts <= s.last_ts:
            self.late.append((s.kind, s.subject, ts, obs, reason))
            return
        if s.last_ts is not None and ts - s.last_ts > GAP_FACTOR * interval:
            run = (s.pending, s.pending_n, s.pending_since, s.pending_reason)
            self.gaps.append((s.kind, s.subject, s.last_ts, ts, GAP_FACTOR * interval, *run, None, None))
        s.last_ts = ts
        self.changed.add((s.kind, s.subject))
        if obs == s.own:  # the same state; the display follows its latest cause (no event)
            s.own_reason = reason
            s.pending, s.pending_n, s.pending_since, s.pending_reason = None, 0, None, None
            return
        if obs == s.pending:
            s.pending_n += 1
        else:
            s.pending, s.pending_n, s.pending_since, s.pending_reason = obs, 1, ts, reason
        if s.pending_n >= self.config.needed(obs) or confirm:
            s.own, s.own_reason = obs, s.pending_reason
            s.changed_at = s.pending_since if s.pending_since is not None else ts
            s.pending, s.pending_n, s.pending_since, s.pending_reason = None, 0, None, None


def load(db: sqlite_utils.Database, config: StateConfig | None = None) -> Machine:
    subjects = {}
    for row in db.execute(f"SELECT {_COLUMNS} FROM state_current"):
        s = Subject(*row)
        subjects[(s.kind, s.subject)] = s
    return Machine(subjects, config or StateConfig.from_env())


# ---- observations -------------------------------------------------------------------------


def device_observation(poll: Mapping[str, Any]) -> tuple[str, str | None]:
    """(state, reason) a single poll says about its device."""
    icmp = poll.get("icmp")
    if poll.get("ok"):
        down = [t.get("name") or t.get("peer") for t in poll.get("tunnels") or [] if t.get("state") == "down"]
        if down:
            return "degraded", f"tunnel down: {', '.join(map(str, down))}"
        failed = poll.get("failed") or ()
        if failed:  # the device answered; a plugin's part is missing, which is no outage
            return "up", "partly polled: " + "; ".join(f"{f['plugin']} failed: {f['error']}" for f in failed)
        return "up", None
    err = poll.get("error") or "no answer"
    if icmp is not None and icmp.get("alive"):  # wrong community, v3 key, ACL: the box is there
        return SNMP_UNREACHABLE, f"SNMP unreachable, ping ok: {err}"
    if icmp is not None:
        return "down", f"ICMP down, SNMP down: {err}"
    return "down", f"SNMP down: {err}"


def interface_observation(itf: Mapping[str, Any], sdh: Mapping[str, Any] | None) -> tuple[str, str | None]:
    if sdh is not None:
        defects = [d for d in sdh.get("section_status") or [] if d in SDH_DEFECTS]
        defects += [
            d for d in (sdh.get("line_status") or []) + (sdh.get("path_status") or []) if d in SDH_DEFECTS
        ]
        if defects:
            return "down", f"SDH {defects[0]}"
        far = [d for k in ("line_status", "path_status") for d in sdh.get(k) or [] if d in SDH_FAR_END]
        if far and itf.get("oper") == "up":
            return "degraded", f"SDH {far[0]} (far end defect)"
    if itf.get("admin") == "down":
        return "down", "admin down"
    oper = itf.get("oper")
    if oper == "up":
        return "up", None
    if oper is None:
        return "unknown", None
    return "down", f"oper {oper}"


_MONITORED: dict[int, tuple[Inventory, dict[str, set[str]]]] = {}


def monitored_interfaces(inventory: Inventory | None, device: str) -> set[str] | None:
    """Interfaces whose state is kept (link ends and listed ones); None = all of them."""
    if inventory is None:
        return None
    cached = _MONITORED.get(id(inventory))
    if cached is None or cached[0] is not inventory:
        table: dict[str, set[str]] = {name: set(d.interfaces) for name, d in inventory.devices.items()}
        for link in inventory.links.values():
            for end in (link.a, link.b):
                table.setdefault(end.device, set()).add(end.interface)
        if len(_MONITORED) > 8:
            _MONITORED.clear()
        cached = _MONITORED[id(inventory)] = (inventory, table)
    return cached[1].get(device, set())


def apply_poll(m: Machine, poll: Mapping[str, Any], inventory: Inventory | None) -> None:
    dev_name = poll["device"]
    site = inventory.devices[dev_name].site if inventory and dev_name in inventory.devices else None
    ts = float(poll["ts"])
    step = float(inventory.devices[dev_name].interval_s) if site is not None and inventory else 60.0
    dev = m.get("device", dev_name, site)
    obs, reason = device_observation(poll)
    confirm = bool(poll.get("confirm"))
    m.observe(dev, obs, reason, ts, step, confirm)
    if not poll.get("ok"):
        return
    wanted = monitored_interfaces(inventory, dev_name)
    sdh_by_index = {s.get("ifIndex"): s for s in poll.get("sdh") or []}
    for itf in poll.get("interfaces") or []:
        if wanted is not None and itf["name"] not in wanted:
            continue
        s = m.get("interface", subjects.interface(dev_name, itf["name"]), site)
        o, r = interface_observation(itf, sdh_by_index.get(itf.get("index")))
        m.observe(s, o, r, ts, step, confirm)
    apply_tunnels(m, dev_name, poll.get("tunnels") or [], inventory, site, ts, step, confirm)


def tunnel_observations(
    dev_name: str, tunnels: Iterable[Mapping[str, Any]], topo: topology.Topology | None
) -> dict[str, tuple[str, str | None]]:
    """{peer: (state, reason)} of one poll's tunnel rows, keyed by the peer, never the row.

    The peer is the remote cipher machine's inventory name (or its address when the
    inventory does not know it), so a tunnel is the same subject whether its SA row is
    there or not; any live SA to a peer makes it up.
    """
    out: dict[str, tuple[str, str | None]] = {}
    for t in tunnels:
        peer = t.get("peer") or t.get("name")
        if not peer:
            continue
        key = topo.peer_name(dev_name, str(peer)) if topo is not None else str(peer)
        st = t.get("state") or "unknown"
        reason = None if st != "down" else ("no SA" if t.get("sa") is False else "tunnel down")
        if out.get(key, ("",))[0] != "up":
            out[key] = (st, reason)
    return out


def apply_tunnels(
    m: Machine,
    dev_name: str,
    tunnels: Iterable[Mapping[str, Any]],
    inventory: Inventory | None,
    site: str | None,
    ts: float,
    step: float = 60.0,
    confirm: bool = False,
) -> None:
    """Observe a device's tunnels; one seen before but absent now has lost its SA.

    Absent and expected (the inventory's peers at both ends, :func:`probes.common.topology.expected_peers`):
    down, "no SA", so its return brings the same subject back up.  Absent and not
    expected: unknown, never down (nobody promised that tunnel).
    """
    known = m.tunnels_of(dev_name)
    tunnels = list(tunnels)
    if not tunnels and not known:
        return  # most devices: no tunnel table, nothing to look up
    topo = topology.build(inventory) if inventory is not None else None
    seen = tunnel_observations(dev_name, tunnels, topo)
    for peer, (st, reason) in seen.items():
        s = m.get("tunnel", subjects.tunnel(dev_name, peer), site)
        m.observe(s, st, reason, ts, step, confirm)
    known.update(seen)
    gone = known - seen.keys()
    if gone:
        expected = set(topo.peers.get(dev_name, ())) if topo is not None else set()
        for peer in gone:
            s = m.get("tunnel", subjects.tunnel(dev_name, peer), site)
            if peer in expected:
                m.observe(s, "down", "no SA", ts, step, confirm)
            else:
                m.observe(s, "unknown", "no SA (not an expected peer)", ts, step, confirm)


def settle_own(m: Machine, old_news: Mapping[tuple[str, str], Subject] | None = None) -> None:
    """Directly observed subjects whose own state changed: their state follows (for now).

    Not a link end whose *down* is old news (:func:`old_news_ends`): :func:`derive` shows
    it the far end's state until its own next poll.
    """
    for key, s in m.subjects.items():
        if s.changed_at is not None and s.kind in ("interface", "tunnel") and key not in (old_news or {}):
            m.set_state(s, s.own, s.own_reason, s.changed_at)


# ---- derived: links, reachability, sites -----------------------------------------------------


def _subordinates(m: Machine) -> dict[str, list[Subject]]:
    """Interfaces and tunnels of each device (one pass over the subjects, not one per link)."""
    out: dict[str, list[Subject]] = {}
    for (kind, subj), s in m.subjects.items():
        if kind in ("interface", "tunnel"):
            out.setdefault(subjects.device_of(kind, subj) or subj, []).append(s)
    return out


def _tunnel_between(
    subs: Mapping[str, list[Subject]], inventory: Inventory, a: str, b: str
) -> Subject | None:
    dev_b = inventory.devices.get(b)
    names = {b, dev_b.address if dev_b else b, inventory.sim_address(b) if dev_b else b}
    for s in subs.get(a, ()):
        if s.kind == "tunnel":
            peer = subjects.Subject.parse("tunnel", s.subject).part or ""
            if peer in names or any(n in peer for n in names if n):
                return s
    return None


def _follow_device(
    m: Machine,
    dev: Subject | None,
    subs: Iterable[Subject],
    ts: float,
    old_news: Mapping[tuple[str, str], Subject] | None = None,
) -> None:
    """A device's interfaces and tunnels show their own state only while the device answers.

    Down: ``unknown`` (``device X down``); unreachable: the device's state and reason;
    not heard from: ``unknown``.  They return with the next good poll.  A link end whose
    *down* is old news (``old_news``: end -> far end) shows the far end's state meanwhile.
    """
    if dev is None:
        return
    name = dev.subject
    if dev.state == "unreachable":
        st, reason = "unreachable", dev.reason
    elif dev.own == "down" or dev.state == "down":
        st, reason = "unknown", f"device {name} down"
    elif dev.own == "unknown":
        st, reason = "unknown", f"no data from device {name}"
    elif dev.own == SNMP_UNREACHABLE:
        st, reason = "unknown", f"no SNMP data from device {name}"
    else:
        for s in subs:
            far = (old_news or {}).get((s.kind, s.subject))
            if far is not None:
                reason = f"last seen down before {far.subject} came back up; its next poll decides"
                m.set_state(s, far.state, reason, far.since or ts)
                continue
            at = s.changed_at if s.changed_at is not None else (dev.changed_at or ts)
            m.set_state(s, s.own, s.own_reason, at)
        return
    at = dev.changed_at or ts
    for s in subs:
        m.set_state(s, st, reason, at)


def _live(dev: Subject | None) -> bool:
    """Does this device's last word about its interfaces and tunnels still count?"""
    return dev is not None and dev.own not in ("down", "unknown", SNMP_UNREACHABLE)


def _outdated(itf: Subject, other: Subject | None) -> bool:
    """This end was last seen before the other end came up.  Its *down* then is old news (a
    cut city's spool replayed after the link is back), not a new cut, and its silence (a
    city cut off by this very link) says nothing either: until this end's next poll the link
    follows the other end, with no extra down/unknown change the alerts would count towards
    flapping.  A down seen at this end after that is a cut again."""
    return (
        other is not None
        and other.own == "up"
        and other.state == "up"  # shown up since ``since`` (not unknown for its silent device)
        and other.since is not None
        and itf.last_ts is not None
        and itf.last_ts < other.since
    )


def old_news_ends(m: Machine, inventory: Inventory | None) -> dict[tuple[str, str], Subject]:
    """Link ends and tunnels whose *down* is old news: last seen before the far end (the reverse
    tunnel) came back up, while its device answers (a cut city's spool replayed after the link
    returned).

    Shown as the far end until their own next poll, so a replayed loss of signal pages no one
    (``sdh-defect`` has no grace) and counts as no change; a down polled after the far end's
    return is a cut again.  Maps each such end to its far end.
    """
    out: dict[tuple[str, str], Subject] = {}
    if inventory is None:
        return out
    for link in inventory.links.values():
        keys = [("interface", subjects.interface(e.device, e.interface)) for e in (link.a, link.b)]
        itfs = [m.subjects.get(k) for k in keys]
        for key, itf, other, far in (
            (keys[0], itfs[0], itfs[1], link.b.device),
            (keys[1], itfs[1], itfs[0], link.a.device),
        ):
            if (
                itf is not None
                and itf.own == "down"
                and _outdated(itf, other)
                and _live(m.subjects.get(("device", far)))
            ):
                out[key] = other  # type: ignore[assignment]
    # likewise a tunnel whose "no SA" predates its reverse tunnel's return (the far cipher
    # machine, live, sees the tunnel up again since then)
    for (kind, subj), t in m.subjects.items():
        if kind != "tunnel" or t.own != "down":
            continue
        parsed = subjects.Subject.parse(kind, subj)
        if not parsed.part:
            continue
        reverse = m.subjects.get(("tunnel", subjects.tunnel(parsed.part, parsed.name)))
        if _outdated(t, reverse) and _live(m.subjects.get(("device", parsed.part))):
            out[(kind, subj)] = reverse  # type: ignore[assignment]
    return out


def _link_states(
    m: Machine, inventory: Inventory, devices: Mapping[str, Subject], subs: Mapping[str, list[Subject]]
) -> tuple[dict[str, tuple[str, str | None]], set[str]]:
    """({link: (state, reason)}, links down on their own evidence, not just an end device's)."""

    # links, from interface ends (and tunnels for IPsec) and end devices' own state; an end
    # on a device that is down or silent says nothing any more
    link_state: dict[str, tuple[str, str | None]] = {}
    blocked: set[str] = set()  # links down on their own evidence (not just because an end device is)
    for link in inventory.links.values():
        ends = []
        silent = []
        itfs = [m.subjects.get(("interface", subjects.interface(e.device, e.interface)))
                for e in (link.a, link.b)]
        for end, itf, other in ((link.a, itfs[0], itfs[1]), (link.b, itfs[1], itfs[0])):
            dev = devices.get(end.device)
            far = devices.get((link.b if end is link.a else link.a).device)
            stale = itf is not None and other is not None and _live(far) and _outdated(itf, other)
            if stale and (itf.own == "down" or (dev is not None and dev.own == "unknown")):
                ends.append((end, other.own, other.own_reason))  # its next poll says more
            elif itf is None or not _live(dev):
                ends.append((end, "unknown", None))
                if dev is not None and dev.own == "unknown":
                    silent.append(end.device)
            else:
                ends.append((end, itf.own, itf.own_reason))
        dev_own = [devices[e.device].own if e.device in devices else "unknown" for e in (link.a, link.b)]
        tunnel = None
        if link.kind == "ipsec":
            for a, b in ((link.a.device, link.b.device), (link.b.device, link.a.device)):
                if _live(devices.get(a)) and (tunnel := _tunnel_between(subs, inventory, a, b)):
                    break
        downs = [(e, r) for e, st, r in ends if st == "down"]
        if tunnel is not None and tunnel.own == "down":
            link_state[link.id] = ("down", "tunnel down")
            blocked.add(link.id)
        elif downs:
            e, r = downs[0]
            link_state[link.id] = ("down", f"{r or 'down'} at {e.device}:{e.interface}")
            blocked.add(link.id)
        elif degraded := [(e, r) for e, st, r in ends if st == "degraded"]:
            e, r = degraded[0]  # e.g. SDH RDI: the far end does not hear this end
            link_state[link.id] = ("degraded", f"{r} at {e.device}:{e.interface}")
        elif "down" in dev_own:
            d = (link.a, link.b)[dev_own.index("down")].device
            link_state[link.id] = ("down", f"device {d} down")
        elif tunnel is not None and tunnel.own == "up":
            link_state[link.id] = ("up", None)
        elif all(st == "up" for _, st, _ in ends):
            link_state[link.id] = ("up", None)
        elif silent:
            link_state[link.id] = ("unknown", f"no data from {silent[0]}")
        else:
            link_state[link.id] = ("unknown", "no data")
    return link_state, blocked


def derive(m: Machine, inventory: Inventory | None, ts: float) -> None:
    """Links from their ends, devices behind down things as unreachable, sites from devices.

    A device's own state ``unknown`` means it was not heard from for too long
    (:func:`age_out`); behind a down link or device that is *unreachable (parent)* too.
    """
    devices = {name: s for (k, name), s in m.subjects.items() if k == "device"}
    subs = _subordinates(m)
    if inventory is None:
        for name, s in devices.items():
            m.set_state(s, s.own, s.own_reason, s.changed_at or ts)
            _follow_device(m, s, subs.get(name, ()), ts)
        return
    topo = topology.build(inventory)
    when = {name: s.changed_at for name, s in devices.items()}
    stamp = max([w for w in when.values() if w is not None], default=ts)
    link_state, blocked = _link_states(m, inventory, devices, subs)

    # reachability from the provincial centre over links and site LANs (one network) not down
    down = {name for name, s in devices.items() if s.own == "down"}
    lost = topo.behind(down, blocked)
    old_news = old_news_ends(m, inventory)

    for name, s in devices.items():
        at = when[name] or stamp
        if s.own in ("down", "unknown") and name in lost:
            m.set_state(s, "unreachable", f"parent down: {lost[name]}", at)
        else:
            m.set_state(s, s.own, s.own_reason, at)
        _follow_device(m, s, subs.get(name, ()), stamp, old_news)

    for link in inventory.links.values():
        st, reason = link_state[link.id]
        ends = [devices.get(link.a.device), devices.get(link.b.device)]
        lost_end = next((e for e in ends if e is not None and e.state == "unreachable"), None)
        if st in ("down", "unknown") and link.id not in blocked and lost_end is not None:
            st, reason = "unreachable", lost_end.reason
        b_dev = inventory.devices.get(link.b.device)
        s = m.get("link", link.id, b_dev.site if b_dev else None)
        m.set_state(s, st, reason, stamp)

    _derive_sites(m, inventory, devices, stamp)


def _derive_sites(m: Machine, inventory: Inventory, devices: Mapping[str, Subject], ts: float) -> None:
    """Each network of a site, then the site, by the rule of :mod:`nms.sitenet` (the report's)."""
    for site_id, nets in sitenet.networks(inventory).items():
        per_net: dict[str, tuple[str, str | None]] = {}
        for net, sn in nets.items():
            core = [devices[n].state if n in devices else "unknown" for n in sn.core]
            others = [devices[n].state if n in devices else "unknown" for n in sn.others]
            st = sitenet.fold(core, others)
            reason = sitenet.explain(sn, st, core, others)
            if st == "unknown" and not any(n in devices for n in (*sn.core, *sn.others)):
                reason = None  # never heard of
            per_net[net] = (st, reason)
            m.set_state(m.get("site_network", sn.subject, site_id), st, reason, ts)
        st = sitenet.worst({net: v[0] for net, v in per_net.items()})
        if st == "unknown":
            heard = any(n in devices for sn in nets.values() for n in (*sn.core, *sn.others))
            reason = "no data" if heard else None
        else:
            reason = sitenet.summary(per_net)
        m.set_state(m.get("site", site_id, site_id), st, reason, ts)


# ---- aging: a device that stopped sending does not stay "up" --------------------------------------


def silent_behind_cut(m: Machine, inventory: Inventory, now: float, cfg: StateConfig) -> int:
    """Devices cut off by a down link or device and not heard from since: own state ``unknown``.

    Nothing can arrive from behind a confirmed cut (their agent's pushes take the same links),
    so waiting ``stale_after`` (minutes) for them only hides what is known: after
    ``cut_grace_s`` without a poll dated after the cut they are unknown, which
    :func:`derive` shows as *unreachable (parent)*, dated at the cut.  A poll of theirs
    dated after the cut (a path the inventory does not know) keeps them as they are.
    """
    devices = {name: s for (k, name), s in m.subjects.items() if k == "device"}
    _, blocked = _link_states(m, inventory, devices, _subordinates(m))
    down = {name for name, s in devices.items() if s.own == "down"}
    if not blocked and not down:
        return 0
    n = 0
    for name, culprit in topology.build(inventory).behind(down, blocked).items():
        s = devices.get(name)
        kind, _, what = culprit.partition(" ")
        cause = m.subjects.get((kind, what))
        if s is None or s.own in ("down", "unknown") or cause is None or cause.since is None:
            continue
        if (s.last_ts is None or s.last_ts < cause.since) and now - cause.since >= cfg.cut_grace_s:
            s.own, s.changed_at = "unknown", cause.since
            s.own_reason = f"no data since {culprit} went down"
            s.pending, s.pending_n, s.pending_since, s.pending_reason = None, 0, None, None
            m.changed.add(("device", name))
            n += 1
    return n


def age_out(
    db: sqlite_utils.Database,
    inventory: Inventory | None,
    now: float | None = None,
    config: StateConfig | None = None,
) -> int:
    """Devices not heard from for longer than ``stale_after``: own state ``unknown``.

    Runs periodically (``nms serve``), since the agent that went silent sends no batch
    to trigger it.  Links, sites, interfaces and tunnels follow in :func:`derive`, and a
    silent device behind a down link or device is *unreachable (parent)*.  Returns the
    number of state changes (events) it made.
    """
    now = time.time() if now is None else now
    cfg = config or StateConfig.from_env()

    def limit_of(name: str) -> float:
        dev = inventory.devices.get(name) if inventory is not None else None
        return cfg.stale_after(dev.interval_s if dev is not None else 60)

    heard = db.execute(
        "SELECT subject, last_ts FROM state_current WHERE kind = 'device' AND last_ts IS NOT NULL"
    ).fetchall()
    cut = inventory is not None and db.execute(
        "SELECT 1 FROM state_current WHERE kind IN ('link', 'device') AND state = 'down' LIMIT 1"
    ).fetchone()
    if cut and inventory is not None:  # something is down: is anyone silent behind it? (read only)
        cut = silent_behind_cut(load(db, cfg), inventory, now, cfg) > 0
    if not cut and all(now - last <= limit_of(name) for name, last in heard):
        return 0  # the usual case: a cheap read, no write lock
    with transaction(db):
        m = load(db, cfg)
        stale = bool(cut) and inventory is not None and silent_behind_cut(m, inventory, now, cfg) > 0
        for (kind, name), s in m.subjects.items():
            if kind != "device" or s.last_ts is None:
                continue
            limit = limit_of(name)
            quiet = now - s.last_ts
            if quiet <= limit:
                continue
            stale = True
            reason = f"no data for {int(quiet)} s"
            if s.own != "unknown":
                s.own, s.changed_at = "unknown", s.last_ts + limit
                s.pending, s.pending_n, s.pending_since, s.pending_reason = None, 0, None, None
            if s.own_reason != reason:
                s.own_reason = reason
                m.changed.add((kind, name))
        if not stale:
            return 0
        derive(m, inventory, now)
        save(db, m)
    return len(m.events)


# ---- persistence ------------------------------------------------------------------------------


def note_epoch(db: sqlite_utils.Database, agent: str, epoch: str, seq: int, now: float) -> None:
    """Remember each spool (epoch) of an agent; a new one after another is a lost spool.

    The agent draws a new epoch whenever it starts a new spool file, so batches the old
    spool still held are gone: the ``agent_epoch`` alert rule raises that from here.
    Batches without an epoch (agents older than epochs) are not tracked.
    """
    if (
        not epoch
        or db.execute("SELECT 1 FROM agent_epochs WHERE agent = ? AND epoch = ?", (agent, epoch)).fetchone()
    ):
        return
    prev = db.execute(
        "SELECT epoch FROM agent_epochs WHERE agent = ? ORDER BY first_seen DESC LIMIT 1", (agent,)
    ).fetchone()
    last = last_applied_seq(db, agent, prev[0]) if prev is not None else None
    db.execute(
        "INSERT INTO agent_epochs (agent, epoch, first_seen, first_seq, previous, previous_last_seq)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (agent, epoch, now, seq, prev[0] if prev else None, last),
    )


def apply_batch(
    db: sqlite_utils.Database,
    agent: str,
    seq: int,
    polls: list[Mapping[str, Any]],
    inventory: Inventory | None = None,
    config: StateConfig | None = None,
    now: float | None = None,
    epoch: str = "",
) -> bool:
    """Feed one batch to the state machine once; False if this (agent, epoch, seq) was applied before."""
    with transaction(db):
        if db.execute(
            "SELECT 1 FROM state_applied WHERE agent = ? AND epoch = ? AND seq = ?", (agent, epoch, seq)
        ).fetchone():
            return False
        m = load(db, config)
        for poll in sorted(polls, key=lambda p: p["ts"]):
            apply_poll(m, poll, inventory)
        settle_own(m, old_news_ends(m, inventory))
        ts = max((float(p["ts"]) for p in polls), default=time.time() if now is None else now)
        derive(m, inventory, ts)
        save(db, m)
        backfill(db, m)
        sdh.store(db, polls)
        note_epoch(db, agent, epoch, seq, time.time() if now is None else now)
        db.execute(
            "INSERT INTO state_applied (agent, epoch, seq, ts) VALUES (?, ?, ?, ?)",
            (agent, epoch, seq, time.time()),
        )
        if seq % 256 == 0:  # forget batches older than any agent would re-send (the samples are keyed anyway)
            db.execute("DELETE FROM state_applied WHERE ts < ?", (time.time() - APPLIED_KEEP_S,))
            db.execute("DELETE FROM state_gaps WHERE end_ts < ?", (time.time() - APPLIED_KEEP_S,))
    return True


def save(db: sqlite_utils.Database, m: Machine) -> None:
    rows = [m.subjects[k].row() for k in m.changed]
    if rows:
        db.conn.executemany(
            f"INSERT OR REPLACE INTO state_current ({_COLUMNS}) VALUES ({', '.join('?' * 13)})", rows
        )
    for ts, kind, subject, st, reason in m.retro:  # history from ts on: what its own poll says
        prev = _state_at(db, kind, subject, ts, before=True)[0]
        db.execute("DELETE FROM state_events WHERE kind = ? AND subject = ? AND ts >= ?", (kind, subject, ts))
        if prev != st:
            m.events.append((ts, kind, subject, prev, st, reason))
    if m.events:
        db.conn.executemany(
            "INSERT INTO state_events (ts, kind, subject, from_state, to_state, reason)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            sorted(m.events, key=lambda e: e[0]),
        )
    _save_gaps(db, m.gaps)


def _save_gaps(db: sqlite_utils.Database, rows: list[tuple]) -> None:
    if rows:
        db.conn.executemany(
            "INSERT OR REPLACE INTO state_gaps (kind, subject, start_ts, end_ts, step, pending, pending_n,"
            " pending_since, pending_reason, end_state, end_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


# ---- late data: history back-filled, the present left alone ------------------------------------------


Run = tuple[str | None, int, float | None, str | None]  # pending state, polls, since, reason


def _late_run(
    config: StateConfig, own: str, run: Run, polls: list[tuple[float, str, str | None]]
) -> tuple[list[tuple[float, str, str | None]], Run]:
    """What polls of a gap say through the same hysteresis as :meth:`Machine.observe`.

    ``own``: the state before them; ``run``: the unconfirmed run carried from the poll
    before.  Returns ([(ts, state, reason)] from the first poll (or the carried run's
    start), the unconfirmed run after the last poll).
    """
    pending, n, since, why = run
    out: list[tuple[float, str, str | None]] = [(since if pending else polls[0][0], own, None)]
    for ts, obs, reason in polls:
        if obs == own:
            pending, n = None, 0
            continue
        if obs == pending:
            n += 1
        else:
            pending, n, since, why = obs, 1, ts, reason
        if n >= config.needed(obs):
            own, pending, n = obs, None, 0
            out.append((since or ts, obs, why))
    return out, (pending, n, since, why) if pending else (None, 0, None, None)


def _state_at(db: sqlite_utils.Database, kind: str, subject: str, ts: float, before: bool) -> tuple:
    """(state, reason) of the last event before ``ts`` (``before``) or at/before it."""
    row = db.execute(
        "SELECT to_state, reason FROM state_events WHERE kind = ? AND subject = ?"
        f" AND ts {'<' if before else '<='} ? ORDER BY ts DESC, id DESC LIMIT 1",
        (kind, subject, ts),
    ).fetchone()
    return tuple(row) if row else ("unknown", None)


def splice(
    db: sqlite_utils.Database,
    kind: str,
    subject: str,
    a: float,
    b: float,
    segments: list[tuple],
    after: tuple[str, str | None],
) -> None:
    """Replace a subject's event history in [a, b) by ``segments`` [(ts, state, reason)].

    What was before ``a`` and from ``b`` on stays; ``after``: the (state, reason) known
    from ``b`` on, which the last segment turns into at ``b`` (an event at ``b`` is kept
    and its ``from`` follows).  Applying it twice changes nothing.
    """
    prev = _state_at(db, kind, subject, a, before=True)[0]
    db.execute(
        "DELETE FROM state_events WHERE kind = ? AND subject = ? AND ts >= ? AND ts < ?",
        (kind, subject, a, b),
    )
    rows = []
    for ts, st, reason in sorted(segments, key=lambda x: x[0]):
        if st != prev:
            rows.append((ts, kind, subject, prev, st, reason))
            prev = st
    at_b = db.execute(
        "SELECT id, to_state FROM state_events WHERE kind = ? AND subject = ? AND ts = ? ORDER BY id LIMIT 1",
        (kind, subject, b),
    ).fetchone()
    if at_b is not None and at_b[1] == prev:
        db.execute("DELETE FROM state_events WHERE id = ?", (at_b[0],))
    elif at_b is not None:
        db.execute("UPDATE state_events SET from_state = ? WHERE id = ?", (prev, at_b[0]))
    elif prev != after[0]:
        rows.append((b, kind, subject, prev, after[0], after[1]))
    db.conn.executemany(
        "INSERT INTO state_events (ts, kind, subject, from_state, to_state, reason)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )


def backfill(db: sqlite_utils.Database, m: Machine) -> int:
    """Late polls (older than the subject's last one) into the history of the gap they fall in.

    After a partition the agent sends fresh batches while it replays spooled ones, so
    an outage can arrive after the poll that ended it.  Polls that fall in a recorded
    gap (a silence before a newer poll) rewrite that stretch of the subject's events:
    what they say (same hysteresis) from the first of them, ``unknown`` once they are
    older than ``stale_after``, and the transition at the gap's end into what was
    known there.  The current state is not touched.  Late polls outside any gap (a
    resent or reordered poll between known ones) change nothing.  Only the subject's
    own observations are written: links, sites and parent reachability of the past
    are not derived again.  Returns the number of gaps filled.
    """
    by_subject: dict[tuple[str, str], list[tuple[float, str, str | None]]] = {}
    for kind, subject, ts, obs, reason in m.late:
        by_subject.setdefault((kind, subject), []).append((ts, obs, reason))
    filled = 0
    for (kind, subject), polls in by_subject.items():
        polls.sort(key=lambda p: p[0])
        gaps = db.execute(
            "SELECT start_ts, end_ts, step, pending, pending_n, pending_since, pending_reason, end_state,"
            " end_reason FROM state_gaps WHERE kind = ? AND subject = ? AND end_ts > ? AND start_ts < ?"
            " ORDER BY start_ts",
            (kind, subject, polls[0][0], polls[-1][0]),
        ).fetchall()
        for g0, g1, step, *row in gaps:
            inside = [p for p in polls if g0 < p[0] < g1]
            if not inside:
                continue
            carried, end = tuple(row[:4]), tuple(row[4:])
            if end[0] is None:  # first fill: what the live machine had at the gap's end
                end = _state_at(db, kind, subject, g1, before=False)
            first, last = inside[0][0], inside[-1][0]
            limit = m.config.stale_after(step / GAP_FACTOR)
            run: Run = carried if carried[0] and first - g0 <= limit else (None, 0, None, None)  # type: ignore[assignment]
            a = run[2] if run[0] else first
            own = _state_at(db, kind, subject, a, before=True)[0]
            segments, left = _late_run(m.config, own, run, inside)
            if last + limit < g1:
                segments.append((last + limit, "unknown", f"no data for {int(limit)} s"))
            splice(db, kind, subject, a, g1, segments, end)
            db.execute(
                "DELETE FROM state_gaps WHERE kind = ? AND subject = ? AND start_ts = ?", (kind, subject, g0)
            )
            at_first = [x[1:] for x in segments if x[0] <= first][-1]
            rest = [(g0, first, *carried, *at_first), (last, g1, *left, *end)]
            _save_gaps(db, [(kind, subject, x, y, step, *r) for x, y, *r in rest if y - x > step])
            filled += 1
    return filled


# ---- reading ------------------------------------------------------------------------------------


class CurrentRow(NamedTuple):
    """One subject's row of the current state."""

    kind: str
    subject: str
    state: str
    since: float | None
    reason: str | None
    site: str | None


def _marks(values: list[Any]) -> str:
    return ",".join("?" * len(values))


def current_rows(
    db: sqlite_utils.Database, kinds: Iterable[str] | None = None, states: Iterable[str] | None = None
) -> list[CurrentRow]:
    """Current state of every subject of ``kinds`` (None = all) in ``states`` (None = any).

    The wall, the API and the alert rules read the present through this; asking only for
    the kinds needed skips the many interface and tunnel rows on the primary key.
    """
    return list(map(CurrentRow._make, _current_cursor(db, kinds, states)))


def _current_cursor(
    db: sqlite_utils.Database, kinds: Iterable[str] | None, states: Iterable[str] | None = None
) -> sqlite3.Cursor:
    """The rows of :func:`current_rows` as plain tuples (the wall's rebuild reads thousands)."""
    where, args = [], []
    for column, values in (("kind", kinds), ("state", states)):
        if values is not None:
            values = list(values)
            where.append(f"{column} IN ({_marks(values)})")
            args += values
    sql = "SELECT kind, subject, state, since, reason, site FROM state_current"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return db.conn.execute(sql, args)


def observed(
    db: sqlite_utils.Database, kind: str, subjects_: Iterable[str]
) -> dict[str, tuple[str, float | None]]:
    """{subject: (state, time of its newest poll)} of the given subjects of ``kind`` that have a state."""
    names, out = list(dict.fromkeys(subjects_)), {}
    for i in range(0, len(names), 500):
        chunk = names[i : i + 500]
        for subject, st, last in db.execute(
            "SELECT subject, state, last_ts FROM state_current"
            f" WHERE kind = ? AND subject IN ({_marks(chunk)})",
            (kind, *chunk),
        ):
            out[subject] = (st, last)
    return out


def newest_poll(db: sqlite_utils.Database, devices: Iterable[str] | None = None) -> float | None:
    """Time of the newest poll seen of ``devices`` (None = of any device): the data's "as of"."""
    if devices is None:
        row = db.execute("SELECT max(last_ts) FROM state_current WHERE kind = 'device'").fetchone()
        return row[0] if row else None
    names, best = list(devices), None
    for i in range(0, len(names), 500):
        chunk = names[i : i + 500]
        row = db.execute(
            f"SELECT max(last_ts) FROM state_current WHERE kind = 'device' AND subject IN ({_marks(chunk)})",
            chunk,
        ).fetchone()
        if row and row[0] is not None:
            best = row[0] if best is None else max(best, row[0])
    return best


def current(db: sqlite_utils.Database, kinds: Iterable[str] = KINDS) -> dict[str, dict[str, dict[str, Any]]]:
    """{kind: {subject: {state, since, reason}}}: what the wall display shows."""
    out: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in kinds}
    for kind, subject, state, since, reason, _site in _current_cursor(db, list(out)):
        out[kind][subject] = {"state": state, "since": since, "reason": reason}
    return out


def known_subjects(db: sqlite_utils.Database, kinds: Iterable[str]) -> set[tuple[str, str]]:
    """(kind, subject) of every subject of ``kinds`` with a current state or any past event."""
    kinds = list(kinds)
    known: set[tuple[str, str]] = set()
    for table in ("state_current", "state_events"):
        known.update(
            db.execute(f"SELECT DISTINCT kind, subject FROM {table} WHERE kind IN ({_marks(kinds)})", kinds)
        )
    return known


def initial_states(db: sqlite_utils.Database, kinds: Iterable[str], t0: float) -> dict[tuple[str, str], str]:
    """{(kind, subject): state} each subject of ``kinds`` was in at ``t0`` (its last event at or before)."""
    kinds = list(kinds)
    rows = db.execute(
        f"""SELECT kind, subject, to_state FROM (
               SELECT kind, subject, to_state,
                      row_number() OVER (PARTITION BY kind, subject ORDER BY ts DESC, id DESC) AS rn
               FROM state_events WHERE ts <= ? AND kind IN ({_marks(kinds)})) AS latest
            WHERE rn = 1""",
        (t0, *kinds),
    )
    return {(k, s): st for k, s, st in rows}


def events_between(
    db: sqlite_utils.Database, kinds: Iterable[str], t0: float, t1: float
) -> dict[tuple[str, str], list[tuple[float, str]]]:
    """{(kind, subject): [(ts, new state)]} of the changes strictly between ``t0`` and ``t1``, in order."""
    kinds = list(kinds)
    out: dict[tuple[str, str], list[tuple[float, str]]] = {}
    for k, s, ts, st in db.execute(
        "SELECT kind, subject, ts, to_state FROM state_events WHERE ts > ? AND ts < ?"
        f" AND kind IN ({_marks(kinds)}) ORDER BY ts, id",
        (t0, t1, *kinds),
    ):
        out.setdefault((k, s), []).append((ts, st))
    return out


def change_counts(
    db: sqlite_utils.Database, kinds: Iterable[str], t0: float, t1: float, at_least: int
) -> dict[tuple[str, str], int]:
    """{(kind, subject): changes in (t0, t1]} of the subjects of ``kinds`` with ``at_least`` of them."""
    kinds = list(kinds)
    rows = db.execute(
        "SELECT kind, subject, COUNT(*) FROM state_events WHERE ts > ? AND ts <= ?"
        f" AND kind IN ({_marks(kinds)}) GROUP BY kind, subject HAVING COUNT(*) >= ?",
        (t0, t1, *kinds, at_least),
    )
    return {(k, s): n for k, s, n in rows}


# ---- agents (batches applied, spool epochs) ---------------------------------------------------------


class NewEpoch(NamedTuple):
    """An agent's newest spool, started after another (the batches the old one held are lost)."""

    agent: str
    epoch: str
    first_seen: float
    first_seq: int | None
    previous: str
    previous_last_seq: int | None


def last_batch_by_agent(db: sqlite_utils.Database) -> dict[str, float]:
    """{agent: when its newest applied batch was applied} (agents that were never heard are absent)."""
    return dict(db.execute("SELECT agent, MAX(ts) FROM state_applied GROUP BY agent"))


def last_applied_seq(db: sqlite_utils.Database, agent: str, epoch: str) -> int | None:
    """Highest ``seq`` applied from the agent's spool ``epoch`` (None: none yet)."""
    return db.execute(
        "SELECT MAX(seq) FROM state_applied WHERE agent = ? AND epoch = ?", (agent, epoch)
    ).fetchone()[0]


def epoch_started_after(db: sqlite_utils.Database, agent: str, epoch: str, ts: float) -> bool:
    """Did the agent start a spool other than ``epoch`` after ``ts``?"""
    return (
        db.execute(
            "SELECT 1 FROM agent_epochs WHERE agent = ? AND epoch != ? AND first_seen > ? LIMIT 1",
            (agent, epoch, ts),
        ).fetchone()
        is not None
    )


def new_epochs(db: sqlite_utils.Database, since: float) -> list[NewEpoch]:
    """Each agent's newest spool if it replaced another after ``since`` (see :func:`note_epoch`)."""
    rows = db.execute(
        """SELECT e.agent, e.epoch, e.first_seen, e.first_seq, e.previous, e.previous_last_seq
           FROM agent_epochs e JOIN (SELECT agent, MAX(first_seen) AS t FROM agent_epochs GROUP BY agent) n
             ON e.agent = n.agent AND e.first_seen = n.t
           WHERE e.previous IS NOT NULL AND e.first_seen > ?""",
        (since,),
    )
    return list(map(NewEpoch._make, rows))


def events(
    db: sqlite_utils.Database,
    *,
    since: float | None = None,
    until: float | None = None,
    kind: str | None = None,
    subject: str | None = None,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Transitions, newest first."""
    where, args = ["1=1"], []
    for clause, value in (
        ("ts >= ?", since),
        ("ts <= ?", until),
        ("kind = ?", kind),
        ("subject = ?", subject),
    ):
        if value is not None:
            where.append(clause)
            args.append(value)
    sql = (
        "SELECT id, ts, kind, subject, from_state, to_state, reason FROM state_events"
        f" WHERE {' AND '.join(where)} ORDER BY ts DESC, id DESC LIMIT ?"
    )
    cols = ("id", "ts", "kind", "subject", "from", "to", "reason")
    return [dict(zip(cols, r, strict=True)) for r in db.execute(sql, (*args, limit))]
