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
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, ValidationError

from nms.alerts.channels.alertmanager import AlertmanagerChannel
from nms.alerts.channels.base import Channel, ChannelError, check_url, secret
from nms.alerts.channels.email import EmailChannel
from nms.alerts.channels.sms import SmsChannel
from nms.alerts.channels.webhook import WebhookChannel
from probes.common import validation, yamlpos
from probes.common.validation import Flag, Regex, Text, problem
from probes.common.yamlpos import Lines

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


def _url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise problem(f"expected an http(s) URL, got {url!r:.60}")
    return url


def _email(address: str) -> str:
    if "@" not in address:
        raise problem(f"expected an e-mail address, got {address!r:.60}")
    return address


Url = Annotated[str, AfterValidator(_url)]
Seconds = Annotated[float, Strict(), Field(gt=0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Email(_Model):
    host: Text
    sender: Annotated[str, AfterValidator(_email)]
    port: Annotated[int, Strict(), Field(ge=1, le=65535)] = 25
    starttls: Flag = False
    user: str | None = None
    password_env: str | None = None
    timeout_s: Seconds = 15.0


class _Sms(_Model):
    url: Url
    params: dict[str, str] | None = None
    method: Literal["GET", "POST"] = "POST"
    template: str | None = None
    key_env: str | None = None
    ok_match: Regex | None = None
    timeout_s: Seconds = 10.0
    encoding: str = "utf-8"


class _Webhook(_Model):
    url: Url
    secret_env: Text  # the variable holding the HMAC key
    timeout_s: Seconds = 10.0


class _Alertmanager(_Model):
    url: Url
    generator_url: str | None = None
    timeout_s: Seconds = 10.0


class _Recipient(_Model):
    channel: Text
    to: Any = None  # a mobile number may be written as a number


class _Delivery(_Model):
    rate_limit: Seconds = 20
    rate_window_s: Seconds = 3600.0
    max_attempts: Seconds = 5
    backoff_s: Seconds = 5.0
    backoff_max_s: Seconds = 600.0


class _Document(_Model):
    channels: dict[str, dict[str, Any]] | None = None
    recipients: dict[str, list[Any]] | None = None  # entries: _Recipient, checked one by one
    delivery: _Delivery | None = None


_PARAMS: dict[str, type[_Model]] = {
    "sms": _Sms,
    "email": _Email,
    "webhook": _Webhook,
    "alertmanager": _Alertmanager,
}


def _shown(loc: tuple) -> str:
    """``channels[hook].url``, ``recipients[noc][0].channel``: names of entries in brackets."""
    if len(loc) > 1 and loc[0] in ("channels", "recipients"):
        return validation.path(loc[2:], f"{loc[0]}[{loc[1]}]")
    return validation.path(loc)


def _make(name: str, raw: dict[str, Any], problems: list[tuple[tuple, str]]) -> Any:
    classes = {
        "sms": SmsChannel,
        "email": EmailChannel,
        "webhook": WebhookChannel,
        "alertmanager": AlertmanagerChannel,
    }
    loc = ("channels", name)
    kind = raw.get("type")
    if kind not in classes:
        problems.append(((*loc, "type"), f"expected one of {', '.join(TYPES)}, got {kind!r:.40}"))
        return None
    inline = [k for k in raw if _SECRETISH.search(k)]
    for k in inline:
        problems.append(
            (
                (*loc, k),
                "secret given inline; secrets must come from the environment"
                f" or the secrets file: name the variable in {k.split('_')[0]}_env",
            )
        )
    try:
        params = _PARAMS[kind].model_validate({k: v for k, v in raw.items() if k not in ("type", *inline)})
    except ValidationError as exc:
        problems.extend(validation.errors(exc, loc))
        return None
    return None if inline else classes[kind](name, **params.model_dump())


def parse_channels(data: Any, source: str = "<channels>", lines: Lines | None = None) -> ChannelConfig:
    """Validate a parsed channels document; :class:`ConfigError` lists every problem
    (``file:line: field: problem`` when the YAML's ``lines`` are given)."""
    if not isinstance(data, dict):
        raise ConfigError([f"{source}: expected a mapping with channels and recipients"])
    problems: list[tuple[tuple, str]] = []
    try:
        doc = _Document.model_validate(data)
    except ValidationError as exc:
        top = "unknown top-level key (expected: channels, recipients, delivery)"
        problems.extend((at, top if len(at) == 1 and text == "unknown field" else text)
                        for at, text in validation.errors(exc))  # fmt: skip
        doc = None
    cfg = ChannelConfig(source=source)
    raw_ch = data.get("channels") if isinstance(data.get("channels"), dict) else {}
    for name, raw in raw_ch.items():
        if isinstance(raw, dict):
            ch = _make(str(name), raw, problems)
            if ch is not None:
                cfg.channels[str(name)] = ch
    groups = data.get("recipients") if isinstance(data.get("recipients"), dict) else {}
    for group, entries in groups.items():
        out = []
        for i, raw in enumerate(entries if isinstance(entries, list) else ()):
            loc = ("recipients", str(group), i)
            try:
                e = _Recipient.model_validate(raw)
            except ValidationError as exc:
                problems.extend(validation.errors(exc, loc))
                continue
            if e.channel not in raw_ch:
                problems.append(((*loc, "channel"), f"no channel {e.channel!r}"))
                continue
            out.append((e.channel, str(e.to or "")))
        cfg.groups[str(group)] = out
    if doc is not None:
        for k, v in (doc.delivery or _Delivery()).model_dump().items():
            setattr(cfg, k, type(getattr(cfg, k))(v))
    if problems:
        if lines is not None:
            problems.sort(key=lambda p: lines.at(p[0]))
        raise ConfigError([validation.located(source, lines, at, text, _shown(at)) for at, text in problems])
    return cfg


def load_channels(path: Path | str) -> ChannelConfig:
    p = Path(path)
    try:
        data, lines = yamlpos.load(p)
    except yamlpos.YamlError as exc:
        raise ConfigError([f"{p}:{exc.line}: {exc.message}"]) from None
    return parse_channels(data, str(p), lines)
