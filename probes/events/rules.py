"""Meaning as data: the ``traps:`` and ``syslog:`` blocks of the vendor profiles.

A profile's blocks merge through ``extends`` key by key (generic.yaml holds the standard
MIB notifications, a vendor adds its own), so a new vendor's traps are one YAML block::

    traps:
      1.3.6.1.6.3.1.1.5.3:                     # IF-MIB linkDown
        kind: link-down
        severity: major
        subject:                               # the first varbind present names it
          - {varbind: 1.3.6.1.2.1.31.1.1.1.1}  # ifName
          - {varbind: 1.3.6.1.2.1.2.2.1.1, format: "ifIndex {value}"}
    syslog:
      cisco-link-down:
        match: '%LINK-\\d-UPDOWN: Interface (?P<subject>[^,]+), changed state to down'
        kind: link-down
        severity: major

A trap entry may also be a list of variants, each with ``when: {varbind-oid: [values]}``;
the first that fits wins.  Each file's own blocks are validated (pydantic) with
``file:line: field: problem`` messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from probes.events.model import SEVERITIES, Severity
from probes.events.notification import Notification
from probes.events.syslog import decode_text
from probes.profile import load_profiles

PROFILE_DIR = Path(__file__).resolve().parent.parent / "profiles"
MATCH_CHARS = 4096
MEMO_MAX = 4096  # trap meanings remembered per profile; cleared when full
_UNSEEN: Any = object()
_OID = r"^\d+(\.\d+)+$"
Kind = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$")]
Oid = Annotated[str, Field(pattern=_OID)]


class RulesError(ValueError):
    """A ``traps:``/``syslog:`` block is wrong; one ``file:line: field: problem`` per line."""


class SubjectPart(BaseModel):
    """Where the subject comes from: the first varbind under ``varbind`` that is present."""

    model_config = ConfigDict(extra="forbid")
    varbind: Oid
    format: str = "{value}"  # {value}: the varbind's value, {index}: the OID after the column


class TrapRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = ""  # the notification's MIB name, for people
    kind: Kind
    severity: Severity = "warning"
    subject: list[SubjectPart] = []
    clears: Kind | None = None
    when: dict[Oid, list[int | str]] = {}
    text: str = ""  # template; default: name and varbinds


class SyslogRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    match: str
    kind: Kind
    severity: Severity = "warning"
    clears: Kind | None = None
    subject: str = "{subject}"  # template over the pattern's named groups

    @field_validator("match")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return v


class Blocks(BaseModel):
    """The two blocks of one profile file (everything else in it is the poller's)."""

    model_config = ConfigDict(extra="ignore")
    traps: dict[Oid, TrapRule | list[TrapRule] | None] = {}  # None deletes an inherited entry
    syslog: dict[str, SyslogRule | None] = {}


@dataclass(slots=True)  # not frozen: a frozen __init__ costs a microsecond per trap
class Meaning:
    kind: str
    subject: str
    severity: Severity
    text: str
    clears: str | None


def _lines(node: yaml.Node, path: tuple = ()) -> dict[tuple, int]:
    """Every key path in a composed YAML document -> its 1-based line."""
    out = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = k.value
            out[(*path, key)] = k.start_mark.line + 1
            out.update({p: n for p, n in _lines(v, (*path, key)).items() if p != (*path, key)})
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            out.update(_lines(v, (*path, i)))
    return out


def validate_file(path: Path) -> Blocks:
    """Validate one profile file's own ``traps:``/``syslog:``; RulesError names file and line."""
    text = path.read_text(encoding="utf-8")
    doc = yaml.safe_load(text) or {}
    try:
        return Blocks.model_validate(doc if isinstance(doc, dict) else {})
    except ValidationError as exc:
        lines = _lines(yaml.compose(text)) if text.strip() else {}
        msgs = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in _UNION_TAGS))
            where = next((lines[loc[:i]] for i in range(len(loc), 0, -1) if loc[:i] in lines), 1)
            field = ".".join(str(p) for p in loc)
            msgs.append(f"{path.name}:{where}: {field}: {err['msg']}")
        raise RulesError("\n".join(dict.fromkeys(msgs))) from None


_UNION_TAGS = {"TrapRule", "list[TrapRule]", "SyslogRule"}


class Compiled:
    """The rules of one (resolved) profile, ready to match."""

    def __init__(self, blocks: Blocks) -> None:
        self.traps: dict[str, list[TrapRule]] = {
            oid: r if isinstance(r, list) else [r] for oid, r in blocks.traps.items() if r is not None
        }
        self.syslog = [(r, re.compile(r.match), _literal(r.match)) for r in blocks.syslog.values() if r]
        self._memo: dict[tuple, Meaning | None] = {}

    def trap(self, note: Notification) -> Meaning | None:
        """The meaning of ``note``; the same notification again (a flapping link sends the
        same varbinds over and over) is answered from a memo.  Callers must not change it."""
        variants = self.traps.get(note.trap_oid)
        if variants is None:
            return None
        key = (note.trap_oid, *note.varbinds)
        memo = self._memo
        found = memo.get(key, _UNSEEN)
        if found is not _UNSEEN:
            return found
        found = None
        for rule in variants:
            if not rule.when or all(_fits(note.value(oid), want) for oid, want in rule.when.items()):
                found = Meaning(rule.kind, _subject(rule, note), rule.severity, _trap_text(rule, note),
                                rule.clears)
                break
        if len(memo) >= MEMO_MAX:
            memo.clear()
        memo[key] = found
        return found

    def syslog_line(self, line: str) -> Meaning | None:
        """The first rule matching the line's first MATCH_CHARS characters (device messages
        are short; the cap keeps a hostile 1 MiB line from making a pattern backtrack)."""
        full, line = line, line[:MATCH_CHARS]
        for rule, pattern, literal in self.syslog:
            if literal and literal not in line:
                continue
            m = pattern.search(line)
            if m:
                groups = {k: v or "" for k, v in m.groupdict().items()}
                try:
                    subject = rule.subject.format(**groups) if groups or "{" not in rule.subject else ""
                except (KeyError, IndexError):
                    subject = ""
                return Meaning(rule.kind, subject.strip(), rule.severity, full, rule.clears)
        return None


def _literal(pattern: str) -> str:
    """The longest plain text every match must contain (outside groups, no alternation),
    checked with ``in`` before the regex runs; "" when there is none worth checking."""
    runs: list[str] = []
    cur: list[str] = []
    depth, i, n = 0, 0, len(pattern)

    def cut() -> None:
        if depth == 0:
            runs.append("".join(cur))
        cur.clear()

    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            nxt, i = pattern[i + 1], i + 2
            if nxt.isalnum():
                cut()
            elif depth == 0:
                cur.append(nxt)
            continue
        i += 1
        if c == "|":
            return ""
        if c in "*+?{":
            if cur:
                cur.pop()  # the quantified character is optional or repeated
            if c == "{":
                i = pattern.find("}", i) + 1 or n
            cut()
        elif c == "[":
            cut()
            i = pattern.find("]", i + 1) + 1 or n
        elif c == "(":
            cut()
            depth += 1
            if pattern.startswith("?P<", i):
                i = pattern.find(">", i) + 1
            elif pattern.startswith("?", i):
                i += 2
        elif c == ")":
            cut()
            depth = max(0, depth - 1)
        elif c in ".^$":
            cut()
        elif depth == 0:
            cur.append(c)
    cut()
    best = max(runs, key=len, default="")
    return best if len(best) >= 4 else ""


def _fits(found: tuple[str, Any] | None, want: list[int | str]) -> bool:
    if found is None:
        return False
    val = found[1]
    if isinstance(val, bytes):
        val = val.decode("utf-8", "replace")
    return val in want or str(val) in {str(w) for w in want}


_BINARY = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _show(val: Any) -> str:
    """A varbind value as text: strings decoded (UTF-8 or GBK), binary ones (MACs) in hex."""
    if val.__class__ is int or val.__class__ is str:
        return str(val)
    if isinstance(val, bytes):
        if _BINARY.search(val):
            return val.hex(":")
        return decode_text(val)[0]
    return str(val)


def _subject(rule: TrapRule, note: Notification) -> str:
    for part in rule.subject:
        found = note.value(part.varbind)
        if found is not None:
            index, val = found
            if part.format == "{value}":
                return _show(val)
            return part.format.format(value=_show(val), index=index)
    return ""


def _trap_text(rule: TrapRule, note: Notification) -> str:
    if rule.text:
        return rule.text
    vbs = ", ".join(f"{oid}={_show(v)}" for oid, v in note.varbinds[:8])
    return f"{rule.name or note.trap_oid}: {vbs}" if vbs else (rule.name or note.trap_oid)


def load_rules(directory: Path | str = PROFILE_DIR) -> dict[str, Compiled]:
    """Every profile's rules, ``extends`` resolved as for the rest of the profile (dictionaries
    merge key by key, ``null`` deletes); RulesError lists every problem found."""
    directory = Path(directory)
    errors: list[str] = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            validate_file(path)
        except RulesError as exc:
            errors.append(str(exc))
    if errors:
        raise RulesError("\n".join(errors))
    return {name: Compiled(Blocks.model_validate({k: p.get(k) or {} for k in ("traps", "syslog")}))
            for name, p in load_profiles(directory).items()}


def merged(rules: dict[str, Compiled]) -> Compiled:
    """All profiles' rules at once, for a device whose profile is ``auto`` or unknown:
    generic's traps first, then the vendors' in name order; syslog patterns likewise."""
    order = sorted(rules, key=lambda n: (n != "generic", n))
    out = Compiled(Blocks())
    seen: set[str] = set()
    for name in order:
        for oid, variants in rules[name].traps.items():
            out.traps.setdefault(oid, variants)
        for entry in rules[name].syslog:
            if entry[0].match not in seen:
                seen.add(entry[0].match)
                out.syslog.append(entry)
    return out


__all__ = ["SEVERITIES", "Compiled", "Meaning", "RulesError", "load_rules", "merged", "validate_file"]
