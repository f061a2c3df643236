"""Texts of a notification: one short Chinese SMS line (70 characters) and an e-mail."""

from __future__ import annotations

import time
from typing import Any

SMS_MAX = 70  # one SMS in UCS-2
SEVERITY_ZH = {"critical": "紧急", "major": "重要", "minor": "次要", "warning": "警告", "info": "提示"}
EVENT_ZH = {
    "firing": "告警",
    "resolved": "恢复",
    "flapping": "频繁抖动",
    "escalation": "升级未确认",
    "test": "测试",
}


class _Safe(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fields(payload: dict[str, Any]) -> dict[str, Any]:
    ts = payload.get("resolved_ts") if payload.get("event") == "resolved" else payload.get("started_ts")
    return _Safe(
        payload,
        severity_zh=SEVERITY_ZH.get(payload.get("severity", ""), payload.get("severity", "")),
        event_zh=EVENT_ZH.get(payload.get("event", ""), payload.get("event", "")),
        time=time.strftime("%m-%d %H:%M", time.localtime(ts)) if ts else "",
    )


def fit(text: str, limit: int = SMS_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def sms_text(payload: dict[str, Any], template: str | None = None) -> str:
    tpl = template or "【{severity_zh}{event_zh}】{summary} {time}"
    return fit(tpl.format_map(fields(payload)))


def email_subject(payload: dict[str, Any]) -> str:
    return "[NMS {severity_zh}{event_zh}] {summary}".format_map(fields(payload))


def email_body(payload: dict[str, Any]) -> str:
    f = fields(payload)
    lines = [
        "{summary}".format_map(f),
        "",
        "事件 event: {event} ({event_zh})".format_map(f),
        "级别 severity: {severity}".format_map(f),
        "对象 subject: {subject_kind} {subject_id}".format_map(f),
        "站点 site: {site_name} ({site})".format_map(f),
        "规则 rule: {rule}".format_map(f),
        "开始 started: {time}".format_map(f),
        "告警编号 alert id: {alert_id}".format_map(f),
    ]
    if payload.get("children_count"):
        lines.append(f"受影响(上级中断) unreachable behind it: {payload['children_count']}")
    return "\n".join(lines) + "\n"
