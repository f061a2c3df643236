"""Prometheus Alertmanager v2: ``POST /api/v2/alerts`` with labels, annotations, start/end."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

from nms.alerts.channels.base import ChannelError, check_url


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z") if ts else None


def to_alertmanager(payload: dict[str, Any], generator_url: str | None = None) -> dict[str, Any]:
    """One Alertmanager alert; a resolved alert carries ``endsAt`` so Alertmanager resolves it."""
    labels = {
        "alertname": payload.get("rule", "nms"),
        "severity": payload.get("severity", ""),
        "subject_kind": payload.get("subject_kind", ""),
        "subject": payload.get("subject_id", ""),
        "site": payload.get("site") or "",
        "nms_alert_id": str(payload.get("alert_id", "")),
    }
    out: dict[str, Any] = {
        "labels": {k: str(v) for k, v in labels.items() if v != ""},
        "annotations": {"summary": payload.get("summary", ""), "event": payload.get("event", "")},
        "startsAt": _iso(payload.get("fired_ts") or payload.get("started_ts")),
    }
    if payload.get("event") == "resolved" and payload.get("resolved_ts"):
        out["endsAt"] = _iso(payload["resolved_ts"])
    if generator_url:
        out["generatorURL"] = f"{generator_url.rstrip('/')}/alerts/{payload.get('alert_id', '')}"
    return {k: v for k, v in out.items() if v is not None}


class AlertmanagerChannel:
    def __init__(
        self, name: str, url: str, generator_url: str | None = None, timeout_s: float = 10.0
    ) -> None:
        # checked by nms.alerts.channels (the file's models) before a channel is made
        self.name, self.url, self.generator_url, self.timeout_s = (
            name,
            url.rstrip("/"),
            generator_url,
            timeout_s,
        )

    def send(self, recipient: str, payload: dict[str, Any]) -> str:
        base = recipient.rstrip("/") if recipient.startswith(("http://", "https://")) else self.url
        check_url(base)
        body = json.dumps([to_alertmanager(payload, self.generator_url)]).encode()
        req = urllib.request.Request(
            f"{base}/api/v2/alerts", data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:  # noqa: S310 - URL checked above
                return f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            detail = exc.read(300).decode("utf-8", "replace")
            raise ChannelError(f"Alertmanager answered HTTP {exc.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise ChannelError(f"Alertmanager unreachable: {getattr(exc, 'reason', exc)}") from None
