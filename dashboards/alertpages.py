"""The console's alert pages: filters, the list and one alert, and the operators' forms.

Reading and every change go through :mod:`nms.alerts.store` (the same functions the JSON
API calls: audited, one transaction each); nothing here decides alert state.  Scope is the
API's rule: a scoped principal sees only alerts whose site is in ``scope_sites`` and an
alert outside it is answered 404, as if absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nms.alerts import store
from nms.db import Database
from probes.common.inventory_model import Inventory

SEVERITIES = ("critical", "major", "minor", "warning", "info")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
STATE_CHOICES = {
    "open": ("pending", "firing"),
    "firing": ("firing",),
    "pending": ("pending",),
    "resolved": ("resolved",),
    "all": ("pending", "firing", "resolved"),
}
STATE_LABELS = {
    "open": "未恢复 open",
    "firing": "告警中 firing",
    "pending": "待定 pending",
    "resolved": "已恢复 resolved",
    "all": "全部 all",
}
SEVERITY_LABELS = {
    "critical": "严重 critical",
    "major": "重要 major",
    "minor": "次要 minor",
    "warning": "警告 warning",
    "info": "提示 info",
}
FETCH_LIMIT = 2000  # the API's maximum; sorted by severity here, then cut to SHOW
SHOW = 500
NOTE_MAX = 2000
ASSIGNEE_MAX = 100
SILENCE_MAX_MIN = 30 * 24 * 60


class NotVisible(LookupError):
    """No such alert, or not in the principal's scope (both answer 404)."""


# ---- list --------------------------------------------------------------------------------------


def parse_filters(
    args: Mapping[str, str], inv: Inventory, rules: list[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """Filter form values and, per field, what is wrong (a bad value is dropped, not guessed)."""
    form = {k: (args.get(k) or "").strip() for k in ("state", "severity", "site", "rule", "q")}
    form["state"] = form["state"] or "open"
    errors: dict[str, str] = {}
    if form["state"] not in STATE_CHOICES:
        errors["state"] = f"状态应为 state must be one of {', '.join(STATE_CHOICES)}"
    if form["severity"] and form["severity"] not in SEVERITIES:
        errors["severity"] = f"级别应为 severity must be one of {', '.join(SEVERITIES)}"
    if form["site"] and form["site"] not in inv.sites:
        errors["site"] = f"没有此站点 no site {form['site']!r}"
    if form["rule"] and form["rule"] not in rules:
        errors["rule"] = f"没有此规则 no rule {form['rule']!r}"
    if len(form["q"]) > 100:
        errors["q"] = "搜索词过长 search text longer than 100 characters"
    for k in errors:
        form[k] = "open" if k == "state" else ""
    return form, errors


def _matches(alert: dict[str, Any], q: str) -> bool:
    subj = alert["subject"]
    hay = " ".join(
        str(x or "")
        for x in (
            subj["id"],
            subj["name"],
            alert["rule"],
            alert["summary"],
            alert["reason"],
            alert["site"],
            alert["site_name"],
            alert["assignee"],
            (alert["ack"] or {}).get("note"),
        )
    )
    return q.lower() in hay.lower()


def sort_alerts(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Most severe first, then newest (started) first."""
    return sorted(
        items, key=lambda a: (SEVERITY_RANK.get(a["severity"], 9), -(a["started_ts"] or 0), -a["id"])
    )


def list_alerts(
    db: Database,
    inv: Inventory,
    scope: set[str] | None,
    form: dict[str, str],
    now: float,
) -> dict[str, Any]:
    """Root alerts (folded ones appear under their root's children) matching the filters."""
    sites = scope
    if form["site"]:
        wanted = set(inv.subtree(form["site"]))
        sites = wanted if sites is None else set(sites) & wanted
    rows = store.list_alerts(
        db,
        states=STATE_CHOICES[form["state"]],
        sites=sites,
        severity=form["severity"] or None,
        rule=form["rule"] or None,
        limit=FETCH_LIMIT,
        site_names=site_names(inv),
    )
    if scope is not None:
        rows += _folded_under_outside(db, inv, sites or set(), scope, form)
    if form["q"]:
        rows = [a for a in rows if _matches(a, form["q"])]
    rows = sort_alerts(rows)
    for a in rows:
        a["children"] = folded_first(a["children"])
        a["duration"] = duration((a["resolved_ts"] or now) - a["started_ts"] if a["started_ts"] else None)
    counts: dict[str, int] = {}
    for a in rows:
        counts[a["severity"]] = counts.get(a["severity"], 0) + 1
    return {"items": rows[:SHOW], "total": len(rows), "counts": counts, "capped": len(rows) >= FETCH_LIMIT}


def _folded_under_outside(
    db: Database, inv: Inventory, sites: set[str], scope: set[str], form: dict[str, str]
) -> list[dict[str, Any]]:
    """Folded alerts in scope whose root cause lies outside it (a county behind a cut city link).

    A county operator cannot see the city's root alert, so its own consequences are listed
    on their own, marked ``root_outside``; nobody is paged for them either way.
    """
    folded = store.list_alerts(
        db,
        states=STATE_CHOICES[form["state"]],
        sites=sites,
        severity=form["severity"] or None,
        rule=form["rule"] or None,
        suppressed=True,
        limit=FETCH_LIMIT,
        site_names=site_names(inv),
    )
    out = []
    for a in folded:
        if a["root_id"] is None:
            continue
        try:
            check_visible(db, scope, a["root_id"])
        except NotVisible:
            a["root_outside"] = True
            out.append(a)
    return out


def folded_first(children: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Alerts folded under a root before the devices merely unreachable behind it (stable otherwise)."""
    return sorted(children, key=lambda c: c.get("state") != "suppressed")


def site_names(inv: Inventory) -> dict[str, str]:
    return {s.id: s.name_zh for s in inv.sites.values()}


def duration(seconds: float | None) -> str:
    """``3 d 4 h``, ``2 h 05 min``, ``7 min``, ``40 s`` (how long an alert has lasted)."""
    if seconds is None:
        return "—"
    s = max(0, int(seconds))
    d, rest = divmod(s, 86400)
    h, rest = divmod(rest, 3600)
    m, sec = divmod(rest, 60)
    if d:
        return f"{d} d {h} h"
    if h:
        return f"{h} h {m:02d} min"
    if m:
        return f"{m} min"
    return f"{sec} s"


# ---- one alert -------------------------------------------------------------------------------------


def detail(
    db: Database, inv: Inventory, scope: set[str] | None, alert_id: int, now: float
) -> dict[str, Any]:
    """The alert with history, comments and every notification attempt; NotVisible when out of scope."""
    check_visible(db, scope, alert_id)
    a = store.detail(db, alert_id, site_names(inv))
    a["children"] = folded_first(a["children"])
    a["duration"] = duration((a["resolved_ts"] or now) - a["started_ts"] if a["started_ts"] else None)
    if a["root_id"] is not None:
        try:
            check_visible(db, scope, a["root_id"])
            a["root"] = store.detail(db, a["root_id"], site_names(inv))
        except NotVisible:
            a["root"] = None
    return a


def check_visible(db: Database, scope: set[str] | None, alert_id: int) -> None:
    try:
        site = store.site_of(db, alert_id)
    except store.NotFound:
        raise NotVisible(f"alert {alert_id}: no such alert") from None
    if scope is not None and (site is None or site not in scope):
        raise NotVisible(f"alert {alert_id}: no such alert")


# ---- changes (forms) ---------------------------------------------------------------------------------

ACTIONS = ("ack", "unack", "comment", "assign", "silence")


def _text(
    form: Mapping[str, str], key: str, errors: dict[str, str], max_len: int, required: bool = False
) -> str | None:
    v = (form.get(key) or "").strip()
    if not v:
        if required:
            errors[key] = "必填 required"
        return None
    if len(v) > max_len:
        errors[key] = f"过长 longer than {max_len} characters"
        return None
    return v


def validate(action: str, form: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The store call's arguments from a submitted form, or field errors (nothing changes then)."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    if action == "ack":
        values["note"] = _text(form, "note", errors, NOTE_MAX)
        values["assignee"] = _text(form, "assignee", errors, ASSIGNEE_MAX)
    elif action == "unack":
        values["note"] = _text(form, "note", errors, NOTE_MAX)
    elif action == "comment":
        values["text"] = _text(form, "text", errors, NOTE_MAX, required=True)
    elif action == "assign":
        values["assignee"] = _text(form, "assignee", errors, ASSIGNEE_MAX)
    elif action == "silence":
        raw = (form.get("minutes") or "").strip()
        try:
            minutes = float(raw)
        except ValueError:
            errors["minutes"] = "请输入分钟数 enter a number of minutes"
        else:
            if not 1 <= minutes <= SILENCE_MAX_MIN:  # also refuses nan
                errors["minutes"] = (
                    f"应在 1 到 {SILENCE_MAX_MIN} 分钟之间 between 1 and {SILENCE_MAX_MIN} minutes"
                )
            values["minutes"] = minutes
        values["note"] = _text(form, "reason", errors, NOTE_MAX, required=True)
    else:
        raise ValueError(f"action: {action!r}; expected one of {', '.join(ACTIONS)}")
    return values, errors


def apply(
    db: Database,
    action: str,
    alert_id: int,
    actor: str,
    values: dict[str, Any],
    source_ip: str | None,
) -> str:
    """Run the validated change through the alerts store; returns the confirmation shown to the operator."""
    if action == "ack":
        store.acknowledge(db, alert_id, actor, values["note"], values["assignee"], source_ip)
        return "已确认 Acknowledged"
    if action == "unack":
        store.unacknowledge(db, alert_id, actor, values["note"], source_ip)
        return "已取消确认 Acknowledgement withdrawn"
    if action == "comment":
        store.comment(db, alert_id, actor, values["text"], source_ip)
        return "已添加备注 Comment added"
    if action == "assign":
        store.assign(db, alert_id, actor, values["assignee"], source_ip)
        return f"已指派给 Assigned to {values['assignee']}" if values["assignee"] else "已取消指派 Unassigned"
    store.silence(db, alert_id, actor, values["minutes"], values["note"], source_ip)
    return f"已静默 Silenced for {values['minutes']:g} min"
