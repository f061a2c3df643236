"""Alert rules from YAML: what is bad, how bad, after how long, and who hears about it.

A rule file is validated whole (pydantic models, one per rule kind); any problem raises
:class:`RulesError` whose ``errors`` name each bad field with its line
(``rules.yaml:18: rules[device-down].grace_s: must be >= 0, got -1``), and nothing
half-loaded is ever returned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    model_validator,
)

from ipam.findings import KINDS as FINDING_KINDS
from nms.config import ROOT
from probes.common import validation, yamlpos
from probes.common.validation import Flag, Num, Regex, Text, problem
from probes.common.yamlpos import Lines
from probes.portals.result import KINDS as FINDINGS

DEFAULT_RULES = ROOT / "nms" / "alerts" / "rules.yaml"
KINDS = ("state", "sdh_errors", "metric", "agent_silent", "agent_epoch", "agent_clock_skew", "config_event",
         "address_finding", "device_event")
KINDS += ("portal",)
SEVERITIES = ("critical", "major", "minor", "warning", "info")
STATE_SUBJECTS = ("device", "interface", "link", "tunnel", "site")
STATES = ("down", "degraded", "snmp-unreachable", "unreachable", "unknown", "up")
METRICS = ("cpu_pct", "mem_pct", "temperature_c", "sessions", "utilisation_pct", "error_pct")
ROLES = ("router", "firewall", "cipher", "switch", "server")
LINK_KINDS = ("sdh-stm1", "fibre-ge", "mstp", "ethernet", "ipsec")
CONFIG_EVENTS = ("changed", "baseline", "hostkey_changed", "fetch_failed")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")

_COMMON = {"name", "kind", "severity", "grace_s", "notify", "escalate", "flap", "enabled", "summary", "roles"}
_FIELDS = {
    "state": _COMMON | {"subject", "states", "reason_match", "link_kinds"},
    "sdh_errors": _COMMON | {"es_above", "ses_above"},
    "metric": _COMMON | {"metric", "above", "for_s", "link_kinds"},
    "agent_silent": _COMMON | {"silent_s"},
    "agent_epoch": _COMMON | {"resolve_after_s"},
    "agent_clock_skew": _COMMON,
    "config_event": _COMMON | {"events", "resolve_after_s"},
    "device_event": _COMMON | {"event_kinds", "at_least", "window_s"},
    "address_finding": _COMMON | {"findings"},
}


class RulesError(ValueError):
    """A rule file that cannot be used; ``errors`` lists every problem found."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Escalation:
    after_s: float
    notify: tuple[str, ...]


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str
    severity: str
    grace_s: float = 0.0
    notify: tuple[str, ...] = ()
    escalate: tuple[Escalation, ...] = ()
    flap: bool = True
    enabled: bool = True
    summary: str | None = None
    roles: tuple[str, ...] = ()
    subject: str | None = None  # state rules
    states: tuple[str, ...] = ("down",)
    reason_match: str | None = None
    link_kinds: tuple[str, ...] = ()
    es_above: int | None = None  # sdh_errors
    ses_above: int | None = None
    metric: str | None = None  # metric rules
    above: float | None = None
    for_s: float = 0.0
    silent_s: float = 300.0  # agent_silent
    events: tuple[str, ...] = ("changed",)  # config_event
    resolve_after_s: float = 3600.0  # config_event, agent_epoch
    event_kinds: tuple[str, ...] = ()  # device_event: kinds of the event log (traps, syslog)
    at_least: int = 1  # ... this many from one device ...
    window_s: float = 600.0  # ... within this long
    findings: tuple[str, ...] = ()  # address_finding: ipam.findings kinds; portal: its finding kinds

    @property
    def flaps(self) -> bool:
        """Flap detection applies to rules on observed state (counted from the state store's transitions)."""
        return self.flap and self.kind == "state"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in self.__dict__.items():
            if k == "escalate":
                v = [{"after_s": e.after_s, "notify": list(e.notify)} for e in v]
            elif isinstance(v, tuple):
                v = list(v)
            out[k] = v
        return out


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    flap_window_s: float = 600.0
    flap_threshold: int = 4
    source: str = ""
    by_name: dict[str, Rule] = field(default_factory=dict, compare=False)

    def get(self, name: str) -> Rule | None:
        return self.by_name.get(name)


Seconds = Annotated[float, Strict(), Field(ge=0)]
Positive = Annotated[float, Strict(), Field(ge=1)]


def _one_or_list(v: Any) -> Any:
    return [v] if isinstance(v, str) else v


def _slug(name: str) -> str:
    if not NAME_RE.match(name):
        raise problem(f"expected a lowercase slug (a-z0-9-), got {name!r:.40}")
    return name


Names = Annotated[list[Text], BeforeValidator(_one_or_list)]
Roles = Annotated[list[Literal[ROLES]], BeforeValidator(_one_or_list)]  # type: ignore[valid-type]
LinkKinds = Annotated[list[Literal[LINK_KINDS]], BeforeValidator(_one_or_list)]  # type: ignore[valid-type]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Escalation(_Model):
    after_s: Seconds
    notify: Names = []


class _Rule(_Model):
    """Fields every rule has; one subclass per kind adds its own (anything else is refused)."""

    name: Annotated[str, AfterValidator(_slug)]
    kind: str
    severity: Literal["critical", "major", "minor", "warning", "info"]
    grace_s: Seconds = 0.0
    notify: Names = []
    escalate: list[_Escalation] = []
    flap: Flag = True
    enabled: Flag = True
    summary: str | None = None
    roles: Roles = []


class _StateRule(_Rule):
    subject: Literal["device", "interface", "link", "tunnel", "site"]
    states: Annotated[list[Literal[STATES]], BeforeValidator(_one_or_list)] = ["down"]  # type: ignore[valid-type]
    reason_match: Regex | None = None
    link_kinds: LinkKinds = []


class _SdhRule(_Rule):
    es_above: Seconds | None = None
    ses_above: Seconds | None = None

    @model_validator(mode="after")
    def _one_threshold(self) -> _SdhRule:
        if self.es_above is None and self.ses_above is None:
            raise problem("an sdh_errors rule needs es_above or ses_above")
        return self


class _MetricRule(_Rule):
    metric: Literal[METRICS]  # type: ignore[valid-type]
    above: Num
    for_s: Seconds = 0.0
    link_kinds: LinkKinds = []


class _SilentRule(_Rule):
    silent_s: Positive = 300.0


class _EpochRule(_Rule):
    resolve_after_s: Positive = 86400.0


class _ConfigRule(_Rule):
    events: Annotated[list[Literal[CONFIG_EVENTS]], BeforeValidator(_one_or_list)] = ["changed"]  # type: ignore[valid-type]
    resolve_after_s: Positive = 3600.0


class _DeviceEventRule(_Rule):
    event_kinds: Annotated[list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$")]], Field(min_length=1),
                           BeforeValidator(_one_or_list)]
    at_least: Annotated[int, Strict(), Field(ge=1)] = 1
    window_s: Positive = 600.0


class _FindingRule(_Rule):
    findings: Annotated[list[Literal[FINDING_KINDS]], BeforeValidator(_one_or_list)] = ["cabling"]  # type: ignore[valid-type]


class _PortalRule(_Rule):
    findings: Annotated[list[Literal[FINDINGS]], BeforeValidator(_one_or_list)]  # type: ignore[valid-type]


_MODELS: dict[str, type[_Rule]] = {
    "state": _StateRule,
    "sdh_errors": _SdhRule,
    "metric": _MetricRule,
    "agent_silent": _SilentRule,
    "agent_epoch": _EpochRule,
    "agent_clock_skew": _Rule,
    "config_event": _ConfigRule,
    "device_event": _DeviceEventRule,
    "address_finding": _FindingRule,
    "portal": _PortalRule,
}


class _Defaults(_Model):
    grace_s: Any = None  # checked in each rule it reaches
    notify: Any = None
    flap_window_s: Positive = 600.0
    flap_threshold: Annotated[float, Strict(), Field(ge=2)] = 4


class _Document(_Model):
    version: Literal[1]
    defaults: _Defaults | None = None
    rules: list[Any]


class _Problems:
    """Every problem of one file as ``file[:line]: field: problem``; rules named by name."""

    def __init__(self, source: str, lines: Lines | None) -> None:
        self.source, self.lines, self.errors = source, lines, []

    def add(self, loc: tuple, text: str, shown: str | None = None) -> None:
        self.errors.append(validation.located(self.source, self.lines, loc, text, shown))

    def add_all(self, exc: ValidationError, loc: tuple = (), shown: str = "", kind: str = "") -> None:
        for sub, text in validation.errors(exc):
            if text == "unknown field" and kind:
                text = f"unknown field for a {kind} rule"
            elif text == "unknown field" and not loc and len(sub) == 1:
                text = "unknown top-level key (expected: version, defaults, rules)"
            self.add((*loc, *sub), text, validation.path(sub, shown) if shown else None)


def _rule(raw: Any, i: int, defaults: dict[str, Any], out: _Problems) -> Rule | None:
    loc = ("rules", i)
    if not isinstance(raw, dict):
        out.add(loc, "expected a mapping")
        return None
    name = raw.get("name")
    shown = f"rules[{name if isinstance(name, str) and name else i}]"
    kind = raw.get("kind")
    if kind not in _MODELS:
        out.add((*loc, "kind"), f"expected one of {', '.join(KINDS)}, got {kind!r:.40}", f"{shown}.kind")
        return None
    inherited = {k: defaults[k] for k in ("grace_s", "notify") if defaults.get(k) is not None}
    try:
        model = _MODELS[kind].model_validate(inherited | raw)
    except ValidationError as exc:
        out.add_all(exc, loc, shown, kind)
        return None
    args = model.model_dump()
    steps = (Escalation(e["after_s"], tuple(e["notify"])) for e in args["escalate"])
    args["escalate"] = tuple(sorted(steps, key=lambda e: e.after_s))
    for k in ("es_above", "ses_above"):
        if args.get(k) is not None:
            args[k] = int(args[k])
    return Rule(**{k: tuple(v) if isinstance(v, list) else v for k, v in args.items()})


def parse_rules(data: Any, source: str = "<rules>", lines: Lines | None = None) -> RuleSet:
    """Validate a parsed rule document; raise :class:`RulesError` listing every problem
    (``file:line:`` when ``lines`` of the YAML are given)."""
    out = _Problems(source, lines)
    if not isinstance(data, dict):
        raise RulesError([f"{source}: expected a mapping with version, defaults, rules"])
    try:
        doc = _Document.model_validate(data)
    except ValidationError as exc:
        out.add_all(exc)
        doc = None
    defaults = doc.defaults if doc is not None and doc.defaults is not None else _Defaults()
    raw_rules = data.get("rules") if isinstance(data.get("rules"), list) else []
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_rules):
        name = raw.get("name") if isinstance(raw, dict) else None
        if isinstance(name, str) and name in seen:
            out.add(("rules", i, "name"), "duplicate rule name", f"rules[{name}].name")
            continue
        if isinstance(name, str):
            seen.add(name)
        r = _rule(raw, i, defaults.model_dump(), out)
        if r is not None:
            rules.append(r)
    if out.errors:
        raise RulesError(out.errors)
    return RuleSet(
        tuple(rules), defaults.flap_window_s, int(defaults.flap_threshold), source, {r.name: r for r in rules}
    )


def load_rules(path: Path | str | None = None) -> RuleSet:
    """Rules from ``path`` (default: the shipped ``nms/alerts/rules.yaml``)."""
    p = Path(path) if path is not None else DEFAULT_RULES
    try:
        data, lines = yamlpos.load(p)
    except yamlpos.YamlError as exc:
        raise RulesError([f"{p}:{exc.line}: {exc.message}"]) from None
    return parse_rules(data, str(p), lines)
