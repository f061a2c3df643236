"""Reading alerts back as the JSON documented in docs/alerts.md, and operators' changes to them."""

from __future__ import annotations

import json
import time
from typing import Any

from nms.audit import record
from nms.db import Database, transaction

STATES = ("pending", "firing", "resolved")


class NotFound(LookupError):
    pass


def _row(db: Database, alert_id: int) -> dict[str, Any]:
    cur = db.execute("SELECT * FROM alert_alerts WHERE id = ?", (alert_id,))
    r = cur.fetchone()
    if r is None:
        raise NotFound(f"alert {alert_id}: no such alert")
    return dict(zip([d[0] for d in cur.description], r, strict=True))


def as_json(row: dict[str, Any], site_names: dict[str, str] | None = None) -> dict[str, Any]:
    """One alert in the list shape of docs/alerts.md."""
    ack = (
        {"by": row["ack_by"], "ts": row["ack_ts"], "note": row["ack_note"]}
        if row["ack_ts"] is not None
        else None
    )
    return {
        "id": row["id"],
        "rule": row["rule"],
        "severity": row["severity"],
        "subject": {"kind": row["subject_kind"], "id": row["subject_id"], "name": row["subject_name"]},
        "site": row["site"],
        "site_name": (site_names or {}).get(row["site"] or "", row["site"]),
        "state": row["state"],
        "started_ts": row["started_ts"],
        "fired_ts": row["fired_ts"],
        "resolved_ts": row["resolved_ts"],
        "acknowledged": ack is not None,
        "ack": ack,
        "assignee": row["assignee"],
        "flapping": bool(row["flapping"]),
        "muted": row["muted"],
        "root_id": row["root_id"],
        "escalation_step": row["escalation_step"],
        "summary": row["summary"],
        "reason": row["reason"],
        "value": row["value"],
        "children": json.loads(row["children"]) if row["children"] else [],
        "children_count": row["children_count"],
    }


def list_alerts(
    db: Database,
    *,
    states: tuple[str, ...] = ("pending", "firing"),
    sites: set[str] | None = None,
    severity: str | None = None,
    rule: str | None = None,
    subject: tuple[str, str] | None = None,
    acknowledged: bool | None = None,
    muted: bool | None = None,
    suppressed: bool = False,
    since: float | None = None,
    limit: int = 200,
    site_names: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Alerts, newest first; ``sites`` (None = all) is the scope filter already intersected."""
    where, args = [f"state IN ({','.join('?' * len(states))})"], list(states)
    for clause, value in (("severity = ?", severity), ("rule = ?", rule), ("started_ts >= ?", since)):
        if value is not None:
            where.append(clause)
            args.append(value)
    if subject is not None:
        where.append("subject_kind = ? AND subject_id = ?")
        args += list(subject)
    if acknowledged is not None:
        where.append("ack_ts IS NOT NULL" if acknowledged else "ack_ts IS NULL")
    if muted is not None:
        where.append("muted IS NOT NULL" if muted else "muted IS NULL")
    if not suppressed:
        where.append("root_id IS NULL")
    if sites is not None:
        if not sites:
            return []
        where.append(f"site IN ({','.join('?' * len(sites))})")
        args += sorted(sites)
    cur = db.execute(
        f"SELECT * FROM alert_alerts WHERE {' AND '.join(where)} ORDER BY started_ts DESC, id DESC LIMIT ?",
        (*args, limit),
    )
    cols = [d[0] for d in cur.description]
    return [as_json(dict(zip(cols, r, strict=True)), site_names) for r in cur]


def detail(
    db: Database, alert_id: int, site_names: dict[str, str] | None = None
) -> dict[str, Any]:
    out = as_json(_row(db, alert_id), site_names)
    out["comments"] = [
        {"ts": ts, "actor": a, "text": t}
        for ts, a, t in db.execute(
            "SELECT ts, actor, text FROM alert_comments WHERE alert_id = ? ORDER BY id", (alert_id,)
        )
    ]
    out["history"] = [
        {"ts": ts, "event": e, "detail": d, "actor": a}
        for ts, e, d, a in db.execute(
            "SELECT ts, event, detail, actor FROM alert_history WHERE alert_id = ? ORDER BY id", (alert_id,)
        )
    ]
    notes = []
    for nid, ch, rcpt, ev, st, att, cts, lts, nts, err in db.execute(
        "SELECT id, channel, recipient, event, status, attempts, created_ts, last_ts, next_ts, last_error"
        " FROM alert_notifications WHERE alert_id = ? ORDER BY id",
        (alert_id,),
    ):
        log = [
            {"ts": ts, "ok": bool(ok), "detail": d}
            for ts, ok, d in db.execute(
                "SELECT ts, ok, detail FROM alert_notification_log WHERE notification_id = ? ORDER BY id",
                (nid,),
            )
        ]
        notes.append(
            {
                "id": nid,
                "channel": ch,
                "recipient": rcpt,
                "event": ev,
                "status": st,
                "attempts": att,
                "created_ts": cts,
                "last_ts": lts,
                "next_ts": nts,
                "last_error": err,
                "log": log,
            }
        )
    out["notifications"] = notes
    return out


def site_of(db: Database, alert_id: int) -> str | None:
    return _row(db, alert_id)["site"]


def _change(
    db,
    alert_id: int,
    actor: str,
    action: str,
    sets: dict[str, Any],
    event: str,
    detail: str | None,
    source_ip: str | None,
    reason: str | None = None,
    extra: tuple[str, tuple[Any, ...]] | None = None,
) -> None:
    """One audited change: the row, a history line and the audit entry in one transaction."""
    now = time.time()
    with transaction(db):
        row = _row(db, alert_id)
        before = {k: row[k] for k in sets}
        if sets:
            db.execute(
                f"UPDATE alert_alerts SET {', '.join(f'{k} = ?' for k in sets)} WHERE id = ?",
                (*sets.values(), alert_id),
            )
        if extra is not None:
            db.execute(*extra)
        db.execute(
            "INSERT INTO alert_history (alert_id, ts, event, detail, actor) VALUES (?, ?, ?, ?, ?)",
            (alert_id, now, event, detail, actor),
        )
        record(
            db,
            actor,
            action,
            f"alert:{alert_id}",
            before=before or None,
            after=sets or {"text": detail},
            reason=reason,
            source_ip=source_ip,
            site=row["site"],
        )


def acknowledge(
    db, alert_id: int, actor: str, note: str | None, assignee: str | None = None, source_ip: str | None = None
) -> None:
    sets: dict[str, Any] = {"ack_by": actor, "ack_ts": time.time(), "ack_note": note}
    if assignee is not None:
        sets["assignee"] = assignee
    _change(db, alert_id, actor, "alert.ack", sets, "ack", note, source_ip, reason=note)


def unacknowledge(db, alert_id: int, actor: str, note: str | None, source_ip: str | None = None) -> None:
    _change(
        db,
        alert_id,
        actor,
        "alert.unack",
        {"ack_by": None, "ack_ts": None, "ack_note": None},
        "unack",
        note,
        source_ip,
        reason=note,
    )


def assign(db, alert_id: int, actor: str, assignee: str | None, source_ip: str | None = None) -> None:
    _change(db, alert_id, actor, "alert.assign", {"assignee": assignee}, "assign", assignee, source_ip)


def comment(db, alert_id: int, actor: str, text: str, source_ip: str | None = None) -> None:
    sql = "INSERT INTO alert_comments (alert_id, ts, actor, text) VALUES (?, ?, ?, ?)"
    _change(
        db,
        alert_id,
        actor,
        "alert.comment",
        {},
        "comment",
        text,
        source_ip,
        extra=(sql, (alert_id, time.time(), actor, text)),
    )


def silence(
    db, alert_id: int, actor: str, minutes: float, note: str | None, source_ip: str | None = None
) -> None:
    """Mute this rule on this subject for ``minutes`` (the engine keeps it muted while the silence lasts)."""
    row = _row(db, alert_id)
    now = time.time()
    sql = (
        "INSERT INTO alert_silences (rule, subject_kind, subject_id, start, until, created_by, note)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)"
    )
    args = (row["rule"], row["subject_kind"], row["subject_id"], now, now + minutes * 60, actor, note)
    _change(
        db,
        alert_id,
        actor,
        "alert.silence",
        {"muted": "silence"},
        "silence",
        f"{minutes:g} min: {note or ''}",
        source_ip,
        reason=note,
        extra=(sql, args),
    )


def set_window_mode(db: Database, window_id: int, mode: str) -> None:
    """``mute`` (alerts recorded, nobody paged) or ``skip`` (no alert) for a maintenance window."""
    if mode not in ("mute", "skip"):
        raise ValueError(f"mode: {mode!r}; expected mute or skip")
    with transaction(db):
        db.execute(
            "INSERT OR REPLACE INTO alert_maint_modes (window_id, mode) VALUES (?, ?)", (window_id, mode)
        )


def window_modes(db: Database) -> dict[int, str]:
    """{window id: mode} of the windows given one (a window without one mutes)."""
    return dict(db.execute("SELECT window_id, mode FROM alert_maint_modes").fetchall())


def silenced(db: Database, now: float) -> set[tuple[str, str, str]]:
    """(rule, subject kind, subject id) of the silences running at ``now``."""
    return {
        (r, k, s)
        for r, k, s in db.execute(
            "SELECT rule, subject_kind, subject_id FROM alert_silences WHERE start <= ? AND until > ?",
            (now, now),
        )
    }


def rule_names(db: Database) -> set[str]:
    """Names of the rules any recorded alert came from (rules since removed included)."""
    return {r[0] for r in db.execute("SELECT DISTINCT rule FROM alert_alerts")}


def any_recorded(db: Database) -> bool:
    """Whether the engine has written any alert at all (the wall shows the state until it has)."""
    return db.execute("SELECT 1 FROM alert_alerts LIMIT 1").fetchone() is not None


def forget_window_mode(db: Database, window_id: int) -> None:
    """Drop the mode of a window that was removed (runs in the caller's transaction)."""
    db.execute("DELETE FROM alert_maint_modes WHERE window_id = ?", (window_id,))


def notifications(
    db: Database, *, status: str | None = None, sites: set[str] | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """Recent notifications across alerts (newest first), each with its attempt log."""
    where, args = ["1=1"], []
    if status is not None:
        where.append("n.status = ?")
        args.append(status)
    if sites is not None:
        if not sites:
            return []
        where.append(f"a.site IN ({','.join('?' * len(sites))})")
        args += sorted(sites)
    rows = db.execute(
        "SELECT n.id, n.alert_id, a.rule, a.subject_id, n.channel, n.recipient, n.event, n.status,"
        " n.attempts, n.created_ts, n.last_ts, n.next_ts, n.last_error FROM alert_notifications n"
        f" JOIN alert_alerts a ON a.id = n.alert_id WHERE {' AND '.join(where)} ORDER BY n.id DESC LIMIT ?",
        (*args, limit),
    ).fetchall()
    keys = (
        "id",
        "alert_id",
        "rule",
        "subject_id",
        "channel",
        "recipient",
        "event",
        "status",
        "attempts",
        "created_ts",
        "last_ts",
        "next_ts",
        "last_error",
    )
    out = [dict(zip(keys, r, strict=True)) for r in rows]
    for n in out:
        n["log"] = [
            {"ts": ts, "ok": bool(ok), "detail": d}
            for ts, ok, d in db.execute(
                "SELECT ts, ok, detail FROM alert_notification_log WHERE notification_id = ? ORDER BY id",
                (n["id"],),
            )
        ]
    return out
