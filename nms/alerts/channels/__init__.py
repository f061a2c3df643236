"""Notification channels and who listens on them, from ``channels.yaml``.

Secrets (SMTP password, webhook HMAC key, SMS gateway key) are never in the YAML: a
channel names the variable (``password_env``, ``secret_env``, ``key_env``) and the value
comes from the environment or the 0600 secrets file (``NMS_SECRETS_FILE``), like SNMP
credentials.  A field that looks like an inline secret is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nms.alerts.channels.alertmanager import AlertmanagerChannel
from nms.alerts.channels.base import Channel, ChannelError, check_url, secret
from nms.alerts.channels.email import EmailChannel
from nms.alerts.channels.sms import SmsChannel
from nms.alerts.channels.webhook import WebhookChannel

__all__ = ["Channel", "ChannelConfig", "ChannelError", "ConfigError", "check_url", "parse_channels", "secret"]

TYPES = ("sms", "email", "webhook", "alertmanager")
_SECRETISH = re.compile(r"^(password|secret|key|token|api_key)$|_(password|secret|key|token)$")


class ConfigError(ValueError):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass
class ChannelConfig:
    channels: dict[str, Any] = field(default_factory=dict)
    groups: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    rate_limit: int = 20  # sends per recipient ...
    rate_window_s: float = 3600.0  # ... per this many seconds
    max_attempts: int = 5
    backoff_s: float = 5.0
    backoff_max_s: float = 600.0
    source: str = ""

    def recipients(self, groups: tuple[str, ...] | list[str]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for g in groups:
            for r in self.groups.get(g, []):
                if r not in out:
                    out.append(r)
        return out


def _make(name: str, raw: dict[str, Any], errors: list[str]) -> Any:
    classes = {
        "sms": SmsChannel,
        "email": EmailChannel,
        "webhook": WebhookChannel,
        "alertmanager": AlertmanagerChannel,
    }
    kind = raw.get("type")
    if kind not in classes:
        errors.append(f"channels[{name}].type: expected one of {', '.join(TYPES)}, got {kind!r:.40}")
        return None
    for k in raw:
        if _SECRETISH.search(k):
            errors.append(
                f"channels[{name}].{k}: secret given inline; secrets must come from the environment"
                f" or the secrets file: name the variable in {k.split('_')[0]}_env"
            )
    args = {k: v for k, v in raw.items() if k != "type"}
    try:
        return classes[kind](name, **args)
    except TypeError as exc:
        errors.append(f"channels[{name}]: {exc}")
    except ValueError as exc:
        errors.append(f"channels[{name}].{exc}")
    return None


def parse_channels(data: Any, source: str = "<channels>") -> ChannelConfig:
    errors: list[str] = []
    if not isinstance(data, dict):
        raise ConfigError([f"{source}: expected a mapping with channels and recipients"])
    for k in data:
        if k not in ("channels", "recipients", "delivery"):
            errors.append(f"{k}: unknown top-level key (expected: channels, recipients, delivery)")
    cfg = ChannelConfig(source=source)
    raw_ch = data.get("channels") or {}
    if not isinstance(raw_ch, dict):
        errors.append("channels: expected a mapping name -> {type, ...}")
        raw_ch = {}
    for name, raw in raw_ch.items():
        if not isinstance(raw, dict):
            errors.append(f"channels[{name}]: expected a mapping")
            continue
        ch = _make(str(name), raw, errors)
        if ch is not None:
            cfg.channels[str(name)] = ch
    raw_r = data.get("recipients") or {}
    if not isinstance(raw_r, dict):
        errors.append("recipients: expected a mapping group -> [{channel, to}]")
        raw_r = {}
    for group, entries in raw_r.items():
        if not isinstance(entries, list):
            errors.append(f"recipients[{group}]: expected a list of {{channel, to}}")
            continue
        out = []
        for i, e in enumerate(entries):
            if not isinstance(e, dict) or "channel" not in e or set(e) - {"channel", "to"}:
                errors.append(f"recipients[{group}][{i}]: expected {{channel: name, to: address}}")
                continue
            if e["channel"] not in raw_ch:
                errors.append(f"recipients[{group}][{i}].channel: no channel {e['channel']!r}")
                continue
            out.append((str(e["channel"]), str(e.get("to") or "")))
        cfg.groups[str(group)] = out
    d = data.get("delivery") or {}
    if not isinstance(d, dict):
        errors.append("delivery: expected a mapping")
        d = {}
    for k, typ in (
        ("rate_limit", int),
        ("rate_window_s", float),
        ("max_attempts", int),
        ("backoff_s", float),
        ("backoff_max_s", float),
    ):
        if k in d:
            v = d[k]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
                errors.append(f"delivery.{k}: expected a positive number, got {v!r:.40}")
            else:
                setattr(cfg, k, typ(v))
    for k in d:
        if k not in ("rate_limit", "rate_window_s", "max_attempts", "backoff_s", "backoff_max_s"):
            errors.append(f"delivery.{k}: unknown field")
    if errors:
        raise ConfigError([f"{source}: {e}" for e in errors])
    return cfg


def load_channels(path: Path | str) -> ChannelConfig:
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError([f"{p}: cannot read ({exc.strerror})"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{p}: yaml: {exc}"]) from None
    return parse_channels(data, str(p))
