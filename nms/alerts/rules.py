"""Alert rules from YAML: what is bad, how bad, after how long, and who hears about it.

A rule file is validated whole; any problem raises :class:`RulesError` whose
``errors`` name each bad field (``rules[device-down].grace_s: expected ...``), and
nothing half-loaded is ever returned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nms.config import ROOT

DEFAULT_RULES = ROOT / "nms" / "alerts" / "rules.yaml"
KINDS = ("state", "sdh_errors", "metric", "agent_silent", "agent_epoch", "agent_clock_skew", "config_event")
SEVERITIES = ("critical", "major", "minor", "warning", "info")
STATE_SUBJECTS = ("device", "interface", "link", "tunnel", "site")
STATES = ("down", "degraded", "snmp-unreachable", "unreachable", "unknown", "up")
METRICS = ("cpu_pct", "mem_pct", "temperature_c", "sessions", "utilisation_pct", "error_pct")
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


def _num(v: Any, where: str, errors: list[str], minimum: float = 0) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        errors.append(f"{where}: expected a number, got {v!r:.40}")
        return None
    if v < minimum:
        errors.append(f"{where}: must be >= {minimum}, got {v}")
        return None
    return float(v)


def _names(v: Any, where: str, errors: list[str], allowed: tuple[str, ...] | None = None) -> tuple[str, ...]:
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
        errors.append(f"{where}: expected a list of names")
        return ()
    if allowed is not None:
        for x in v:
            if x not in allowed:
                errors.append(f"{where}: {x!r} is not one of {', '.join(allowed)}")
    return tuple(v)


def _rule(raw: Any, i: int, defaults: dict[str, Any], errors: list[str]) -> Rule | None:
    if not isinstance(raw, dict):
        errors.append(f"rules[{i}]: expected a mapping")
        return None
    name = raw.get("name")
    key = name if isinstance(name, str) and name else str(i)
    w = f"rules[{key}]"
    n0 = len(errors)
    if not isinstance(name, str) or not NAME_RE.match(name):
        errors.append(f"{w}.name: expected a lowercase slug (a-z0-9-), got {name!r:.40}")
    kind = raw.get("kind")
    if kind not in KINDS:
        errors.append(f"{w}.kind: expected one of {', '.join(KINDS)}, got {kind!r:.40}")
        return None
    for k in raw:
        if k not in _FIELDS[kind]:
            errors.append(f"{w}.{k}: unknown field for a {kind} rule")
    sev = raw.get("severity")
    if sev not in SEVERITIES:
        errors.append(f"{w}.severity: expected one of {', '.join(SEVERITIES)}, got {sev!r:.40}")
    args: dict[str, Any] = {"name": name, "kind": kind, "severity": sev}
    grace = raw.get("grace_s", defaults.get("grace_s", 0))
    args["grace_s"] = _num(grace, f"{w}.grace_s", errors)
    args["notify"] = _names(raw.get("notify", defaults.get("notify", [])), f"{w}.notify", errors)
    steps = []
    esc = raw.get("escalate", [])
    if not isinstance(esc, list):
        errors.append(f"{w}.escalate: expected a list of {{after_s, notify}}")
        esc = []
    for j, step in enumerate(esc):
        if not isinstance(step, dict) or set(step) - {"after_s", "notify"} or "after_s" not in step:
            errors.append(f"{w}.escalate[{j}]: expected {{after_s: seconds, notify: [groups]}}")
            continue
        after = _num(step["after_s"], f"{w}.escalate[{j}].after_s", errors)
        steps.append(
            Escalation(after or 0.0, _names(step.get("notify", []), f"{w}.escalate[{j}].notify", errors))
        )
    args["escalate"] = tuple(sorted(steps, key=lambda s: s.after_s))
    for k in ("flap", "enabled"):
        if k in raw:
            if not isinstance(raw[k], bool):
                errors.append(f"{w}.{k}: expected true or false")
            args[k] = raw[k]
    if "summary" in raw:
        if not isinstance(raw["summary"], str):
            errors.append(f"{w}.summary: expected a text template")
        args["summary"] = raw["summary"]
    if "roles" in raw:
        args["roles"] = _names(
            raw["roles"], f"{w}.roles", errors, ("router", "firewall", "cipher", "switch", "server")
        )
    if "link_kinds" in raw:
        args["link_kinds"] = _names(
            raw["link_kinds"],
            f"{w}.link_kinds",
            errors,
            ("sdh-stm1", "fibre-ge", "mstp", "ethernet", "ipsec"),
        )
    if kind == "state":
        if raw.get("subject") not in STATE_SUBJECTS:
            errors.append(
                f"{w}.subject: expected one of {', '.join(STATE_SUBJECTS)}, got {raw.get('subject')!r:.40}"
            )
        args["subject"] = raw.get("subject")
        if "states" in raw:
            args["states"] = _names(raw["states"], f"{w}.states", errors, STATES)
        if "reason_match" in raw:
            try:
                re.compile(str(raw["reason_match"]))
                args["reason_match"] = str(raw["reason_match"])
            except re.error as exc:
                errors.append(f"{w}.reason_match: not a regular expression ({exc})")
    elif kind == "sdh_errors":
        for k in ("es_above", "ses_above"):
            if k in raw:
                v = _num(raw[k], f"{w}.{k}", errors)
                args[k] = int(v) if v is not None else None
        if "es_above" not in raw and "ses_above" not in raw:
            errors.append(f"{w}: an sdh_errors rule needs es_above or ses_above")
    elif kind == "metric":
        if raw.get("metric") not in METRICS:
            errors.append(f"{w}.metric: expected one of {', '.join(METRICS)}, got {raw.get('metric')!r:.40}")
        args["metric"] = raw.get("metric")
        if "above" not in raw:
            errors.append(f"{w}.above: required field missing")
        else:
            args["above"] = _num(raw["above"], f"{w}.above", errors, minimum=-1e18)
        args["for_s"] = _num(raw.get("for_s", 0), f"{w}.for_s", errors)
    elif kind == "agent_silent":
        args["silent_s"] = _num(raw.get("silent_s", 300), f"{w}.silent_s", errors, minimum=1)
    elif kind == "agent_epoch":
        args["resolve_after_s"] = _num(raw.get("resolve_after_s", 86400), f"{w}.resolve_after_s", errors, 1)
    elif kind == "config_event":
        if "events" in raw:
            args["events"] = _names(raw["events"], f"{w}.events", errors, CONFIG_EVENTS)
        args["resolve_after_s"] = _num(raw.get("resolve_after_s", 3600), f"{w}.resolve_after_s", errors, 1)
    if len(errors) > n0:
        return None
    return Rule(**{k: v for k, v in args.items() if v is not None or k in ("es_above", "ses_above")})


def parse_rules(data: Any, source: str = "<rules>") -> RuleSet:
    """Validate a parsed rule document; raise :class:`RulesError` listing every problem."""
    errors: list[str] = []
    if not isinstance(data, dict):
        raise RulesError([f"{source}: expected a mapping with version, defaults, rules"])
    for k in data:
        if k not in ("version", "defaults", "rules"):
            errors.append(f"{k}: unknown top-level key (expected: version, defaults, rules)")
    if data.get("version") != 1:
        errors.append(f"version: must be 1, got {data.get('version')!r}")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        errors.append("defaults: expected a mapping")
        defaults = {}
    for k in defaults:
        if k not in ("grace_s", "notify", "flap_window_s", "flap_threshold"):
            errors.append(f"defaults.{k}: unknown field")
    window = _num(defaults.get("flap_window_s", 600), "defaults.flap_window_s", errors, 1)
    threshold = _num(defaults.get("flap_threshold", 4), "defaults.flap_threshold", errors, 2)
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list):
        errors.append("rules: expected a list")
        raw_rules = []
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_rules):
        name = raw.get("name") if isinstance(raw, dict) else None
        if isinstance(name, str) and name in seen:
            errors.append(f"rules[{name}].name: duplicate rule name")
            continue
        if isinstance(name, str):
            seen.add(name)
        r = _rule(raw, i, defaults, errors)
        if r is not None:
            rules.append(r)
    if errors:
        raise RulesError([f"{source}: {e}" for e in errors])
    return RuleSet(tuple(rules), window or 600.0, int(threshold or 4), source, {r.name: r for r in rules})


def load_rules(path: Path | str | None = None) -> RuleSet:
    """Rules from ``path`` (default: the shipped ``nms/alerts/rules.yaml``)."""
    p = Path(path) if path is not None else DEFAULT_RULES
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError([f"{p}: cannot read ({exc.strerror})"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RulesError([f"{p}: yaml: {exc}"]) from None
    return parse_rules(data, str(p))
