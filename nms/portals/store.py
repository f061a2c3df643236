"""Portal results, state, history and approved baselines in ``centre.db`` (the only SQL on them).

Exactly once: a check is keyed (portal, ts), so a batch the agent re-sends changes
nothing (its checks are already there).  Each check's findings are judged against the
approved baseline (:mod:`nms.portals.judge`); the first page seen is learned as the
baseline (audited as learned by the system); an operator's approval replaces it (audited,
who and when).  A portal's state is ``down`` (a down finding two checks running),
``degraded`` (slow two checks running), ``tampered`` (a content finding) or ``up``; every
change is a row of ``portal_events``, from which availability is computed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

from nms import audit
from nms.db import Database, transaction
from nms.portals.judge import baseline_of, judge
from nms.store import run_ddl
from probes.common.inventory_model import Inventory
from probes.portals.result import snapshot_id

TABLES = ("portal_checks", "portal_snapshots", "portal_baselines", "portal_current", "portal_events")
CONFIRM = {"down": 2, "slow": 2}  # checks running before these count (one lost packet is no outage)
CONTENT = (
    "defaced", "dark-link", "foreign-script", "foreign-iframe", "forbidden-word", "redirect-foreign", "clone",
)  # fmt: skip
CHECKS_KEEP_S = 90 * 86400


def ensure_schema(db: Database) -> None:
    run_ddl(
        db,
        """
        CREATE TABLE IF NOT EXISTS portal_checks (
            portal TEXT NOT NULL, ts REAL NOT NULL, agent TEXT, status INTEGER, ok INTEGER NOT NULL,
            total_ms REAL, dns_ms REAL, connect_ms REAL, tls_ms REAL, first_byte_ms REAL,
            snapshot TEXT, similarity REAL, findings TEXT NOT NULL,
            PRIMARY KEY (portal, ts)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS portal_snapshots (
            portal TEXT NOT NULL, id TEXT NOT NULL, first_seen REAL NOT NULL, body TEXT NOT NULL,
            PRIMARY KEY (portal, id)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS portal_baselines (
            portal TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, body TEXT NOT NULL,
            approved_by TEXT NOT NULL, approved_ts REAL NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS portal_current (
            portal TEXT PRIMARY KEY, site TEXT, ts REAL NOT NULL, state TEXT NOT NULL, since REAL,
            status INTEGER, total_ms REAL, fingerprint TEXT, tls_days_left INTEGER,
            findings TEXT NOT NULL, streaks TEXT NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS portal_events (
            id INTEGER PRIMARY KEY, ts REAL NOT NULL, portal TEXT NOT NULL,
            from_state TEXT NOT NULL, to_state TEXT NOT NULL, reason TEXT);
        CREATE INDEX IF NOT EXISTS portal_events_portal ON portal_events (portal, ts);
        """,
    )


def _site(inventory: Inventory | None, portal: str) -> str | None:
    p = inventory.portals.get(portal) if inventory is not None else None
    return p.site if p else None


def _snapshot(db: Database, portal: str, sid: str | None) -> dict | None:
    if not sid:
        return None
    row = db.execute(
        "SELECT body FROM portal_snapshots WHERE portal = ? AND id = ?", (portal, sid)
    ).fetchone()
    return json.loads(row[0]) if row else None


def baseline(db: Database, portal: str) -> dict[str, Any] | None:
    row = db.execute(
        "SELECT fingerprint, body, approved_by, approved_ts FROM portal_baselines WHERE portal = ?", (portal,)
    ).fetchone()
    if row is None:
        return None
    return {"fingerprint": row[0], "body": json.loads(row[1]), "approved_by": row[2], "approved_ts": row[3]}


def _set_baseline(
    db, portal: str, body: dict, who: str, now: float, site: str | None, reason: str, ip: str | None = None
) -> None:
    before = baseline(db, portal)
    db.execute(
        "INSERT OR REPLACE INTO portal_baselines (portal, fingerprint, body, approved_by, approved_ts)"
        " VALUES (?, ?, ?, ?, ?)",
        (portal, body["fingerprint"], json.dumps(body, ensure_ascii=False), who, now),
    )
    audit.record(
        db,
        who,
        "portal.baseline",
        f"portal:{portal}",
        before={"fingerprint": before["fingerprint"]} if before else None,
        after={"fingerprint": body["fingerprint"], "title": body.get("title")},
        reason=reason,
        source_ip=ip,
        site=site,
    )


def _keep_snapshot(db, portal: str, item: Mapping[str, Any], ts: float) -> tuple[str | None, dict | None]:
    """(snapshot id, snapshot) of a check or look-alike: the one sent, else the stored one."""
    snap = item.get("snapshot")
    if snap:
        sid = item.get("snapshot_id") or snapshot_id(snap)
        db.execute(
            "INSERT OR IGNORE INTO portal_snapshots (portal, id, first_seen, body)"
            " VALUES (?, ?, ?, ?)",
            (portal, sid, ts, json.dumps(snap, ensure_ascii=False)),
        )
        return sid, snap
    sid = item.get("snapshot_id")
    return sid, _snapshot(db, portal, sid)


def _lookalikes(db, portal: str, r: Mapping[str, Any], ts: float) -> list:
    """(fetched URL, page) of the look-alike URLs that served a page in this check."""
    out = []
    for la in r.get("lookalikes") or ():
        if not isinstance(la, dict) or la.get("status") != 200:
            continue
        snap = _keep_snapshot(db, portal, la, ts)[1]
        if snap:
            out.append((la.get("final_url") or la.get("url") or "", baseline_of(snap)))
    return out


def state_of(findings: list[dict], streaks: Mapping[str, int]) -> tuple[str, list[dict]]:
    """(state, findings that count): down and slow only once confirmed by consecutive checks."""
    counted = [f for f in findings if streaks.get(f["kind"], 0) >= CONFIRM.get(f["kind"], 1)]
    kinds = {f["kind"] for f in counted}
    if "down" in kinds:
        return "down", counted
    if kinds & set(CONTENT):
        return "tampered", counted
    if "slow" in kinds:
        return "degraded", counted
    return "up", counted


def apply_results(
    db: Database,
    agent: str,
    results: Iterable[Mapping[str, Any]],
    inventory: Inventory | None = None,
    now: float | None = None,
) -> int:
    """Store and judge a batch's portal results (oldest first); returns how many were new."""
    now = time.time() if now is None else now
    new = 0
    with transaction(db):
        for r in sorted(results, key=lambda r: r["ts"]):
            new += _apply_one(db, agent, r, inventory, now)
    return new


def _apply_one(db, agent: str, r: Mapping[str, Any], inventory: Inventory | None, now: float) -> int:
    portal, ts = r["portal"], float(r["ts"])
    site = _site(inventory, portal)
    if db.execute("SELECT 1 FROM portal_checks WHERE portal = ? AND ts = ?", (portal, ts)).fetchone():
        return 0  # a re-sent batch
    sid, snap = _keep_snapshot(db, portal, r, ts)
    base = baseline(db, portal)
    down = any(f["kind"] == "down" for f in r.get("findings") or ())
    if base is None and snap is not None and not down:  # first fetch learns
        _set_baseline(db, portal, snap, "system", now, site, "first page seen, learned as the baseline")
        base = baseline(db, portal)
    base_obj = baseline_of(base["body"]) if base else None
    snap_obj = baseline_of(snap) if snap else None
    findings = judge(dict(r), snap_obj, base_obj, _lookalikes(db, portal, r, ts))
    similarity = next((f["evidence"].get("similarity") for f in findings if f["kind"] == "defaced"), None)
    if similarity is None and snap and base:
        similarity = 1.0 if snap["fingerprint"] == base["fingerprint"] else None
    t = r.get("timings_ms") or {}
    db.execute(
        "INSERT INTO portal_checks (portal, ts, agent, status, ok, total_ms, dns_ms, connect_ms, tls_ms,"
        " first_byte_ms, snapshot, similarity, findings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            portal, ts, agent, r.get("status"), int(not findings), t.get("total"), t.get("dns"),
            t.get("connect"), t.get("tls"), t.get("first_byte"), sid, similarity,
            json.dumps(findings, ensure_ascii=False),
        ),
    )  # fmt: skip
    cur = db.execute("SELECT ts, state, streaks FROM portal_current WHERE portal = ?", (portal,)).fetchone()
    if cur is not None and cur[0] > ts:
        return 1  # a late check: history only, the current state is newer
    old_streaks = json.loads(cur[2]) if cur else {}
    streaks = {f["kind"]: old_streaks.get(f["kind"], 0) + 1 for f in findings}
    st, counted = state_of(findings, streaks)
    _set_current(db, portal, site, ts, st, cur[1] if cur else "unknown", r, counted, streaks)
    return 1


def _set_current(db, portal, site, ts, st, old, r, counted, streaks) -> None:
    since_row = db.execute(
        "SELECT since, findings FROM portal_current WHERE portal = ?", (portal,)
    ).fetchone()
    first_seen = {f["kind"]: f.get("since") for f in json.loads(since_row[1])} if since_row else {}
    for f in counted:
        f["since"] = first_seen.get(f["kind"]) or ts
    since = ts if st != old or since_row is None else since_row[0]
    tls = r.get("tls") or {}
    db.execute(
        "INSERT OR REPLACE INTO portal_current (portal, site, ts, state, since, status, total_ms,"
        " fingerprint, tls_days_left, findings, streaks) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            portal, site, ts, st, since, r.get("status"), (r.get("timings_ms") or {}).get("total"),
            r.get("fingerprint"), tls.get("days_left"), json.dumps(counted, ensure_ascii=False),
            json.dumps(streaks),
        ),
    )  # fmt: skip
    if st != old:
        reason = "; ".join(f"{f['kind']}: {f['detail']}" for f in counted)[:500] or None
        db.execute(
            "INSERT INTO portal_events (ts, portal, from_state, to_state, reason) VALUES (?, ?, ?, ?, ?)",
            (ts, portal, old, st, reason),
        )


def approve(
    db: Database, portal: str, who: str, site: str | None, reason: str, ip: str | None = None
) -> dict:
    """Make the page of the latest check the approved baseline (audited); re-judge that check.

    Raises ``LookupError`` when no page of the portal has been seen.
    """
    with transaction(db):
        row = db.execute(
            "SELECT ts, snapshot, status FROM portal_checks WHERE portal = ? ORDER BY ts DESC LIMIT 1",
            (portal,),
        ).fetchone()
        snap = _snapshot(db, portal, row[1]) if row else None
        if snap is None:
            raise LookupError(f"portal {portal!r}: no page seen yet, nothing to approve")
        _set_baseline(db, portal, snap, who, time.time(), site, reason or "approved in the console", ip)
        findings = [
            f
            for f in json.loads(db.execute(
                "SELECT findings FROM portal_checks WHERE portal = ? AND ts = ?", (portal, row[0])
            ).fetchone()[0])
            if f["kind"] not in ("defaced", "foreign-script", "foreign-iframe")
        ]  # fmt: skip
        cur = db.execute("SELECT state, streaks FROM portal_current WHERE portal = ?", (portal,)).fetchone()
        streaks = {f["kind"]: json.loads(cur[1]).get(f["kind"], 1) for f in findings} if cur else {}
        st, counted = state_of(findings, streaks)
        r = {"status": row[2], "fingerprint": snap["fingerprint"]}
        _set_current(db, portal, site, row[0], st, cur[0] if cur else "unknown", r, counted, streaks)
        db.execute("UPDATE portal_checks SET findings = ?, ok = ? WHERE portal = ? AND ts = ?",
                   (json.dumps(findings, ensure_ascii=False), int(not findings), portal, row[0]))  # fmt: skip
    return baseline(db, portal) or {}


# ---- reads ------------------------------------------------------------------------------


def current(db: Database, sites: set[str] | None = None) -> list[dict[str, Any]]:
    """Every portal's current row; ``sites`` limits it to a county administrator's scope."""
    rows = db.execute(
        "SELECT portal, site, ts, state, since, status, total_ms, fingerprint, tls_days_left, findings"
        " FROM portal_current ORDER BY portal"
    ).fetchall()
    keys = ("portal", "site", "ts", "state", "since", "status", "total_ms", "fingerprint", "tls_days_left")
    out = []
    for row in rows:
        if sites is not None and row[1] not in sites:
            continue
        d = dict(zip(keys, row[:9], strict=True))
        d["findings"] = json.loads(row[9])
        out.append(d)
    return out


def checks(db: Database, portal: str, t0: float, t1: float, limit: int = 2000) -> list[dict]:
    rows = db.execute(
        "SELECT ts, status, ok, total_ms, dns_ms, connect_ms, tls_ms, first_byte_ms, snapshot, similarity,"
        " findings FROM portal_checks WHERE portal = ? AND ts >= ? AND ts < ? ORDER BY ts DESC LIMIT ?",
        (portal, t0, t1, limit),
    ).fetchall()
    keys = ("ts", "status", "ok", "total_ms", "dns_ms", "connect_ms", "tls_ms", "first_byte_ms")
    keys += ("snapshot",)
    return [
        {**dict(zip(keys, r[:9], strict=True)), "similarity": r[9], "findings": json.loads(r[10])}
        for r in reversed(rows)
    ]


def latest_snapshot(db: Database, portal: str) -> dict | None:
    row = db.execute(
        "SELECT snapshot FROM portal_checks WHERE portal = ? AND snapshot IS NOT NULL"
        " ORDER BY ts DESC LIMIT 1",
        (portal,),
    ).fetchone()
    return _snapshot(db, portal, row[0]) if row else None


def known_portals(db: Database) -> set[str]:
    return {r[0] for r in db.execute("SELECT portal FROM portal_current").fetchall()}


def initial_states(db: Database, t0: float) -> dict[str, str]:
    """Each portal's state at ``t0`` (its last event at or before it), as :mod:`nms.state`'s."""
    rows = db.execute(
        "SELECT portal, to_state FROM portal_events e WHERE id = (SELECT id FROM portal_events"
        " WHERE portal = e.portal AND ts <= ? ORDER BY ts DESC, id DESC LIMIT 1)",
        (t0,),
    ).fetchall()
    return dict(rows)


def events_between(db: Database, t0: float, t1: float) -> dict[str, list[tuple[float, str]]]:
    out: dict[str, list[tuple[float, str]]] = {}
    for portal, ts, st in db.execute(
        "SELECT portal, ts, to_state FROM portal_events WHERE ts > ? AND ts < ? ORDER BY ts, id", (t0, t1)
    ).fetchall():
        out.setdefault(portal, []).append((ts, st))
    return out


def expire(db: Database, before: float) -> int:
    """Forget checks older than ``before`` (state changes stay for availability)."""
    with transaction(db):
        return db.execute("DELETE FROM portal_checks WHERE ts < ?", (before,)).rowcount
