"""Device profiles: YAML data saying what to poll and how to read it (docs/profiles.md).

A profile may ``extends:`` another; dictionaries merge key by key, anything else
(lists, scalars) replaces the parent's value, and ``null`` deletes a key.  ``auto``
picks the most specific profile that matches a device's sysObjectID / sysDescr.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, Strict, ValidationError

from probes.common import validation, yamlpos
from probes.common.validation import Flag, Regex, problem
from probes.common.yamlpos import Lines

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"
VALUE_TYPES = {"counter", "gauge", "enum", "bitmap", "string"}


class ProfileError(ValueError):
    """A profile file is wrong; the message names the file and the field."""


@dataclass
class Profile:
    name: str
    data: dict[str, Any]
    oid_prefixes: list[str] = field(default_factory=list)
    descr_patterns: list[re.Pattern] = field(default_factory=list)
    require_all: bool = False

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def score(self, sys_object_id: str, sys_descr: str) -> int:
        """How specifically this profile matches; 0 means not at all."""
        oid = sys_object_id.lstrip(".")
        arcs = max(
            (p.count(".") + 1 for p in self.oid_prefixes if oid == p or oid.startswith(p + ".")), default=0
        )
        descr = any(p.search(sys_descr or "") for p in self.descr_patterns)
        if self.require_all and self.oid_prefixes and self.descr_patterns and not (arcs and descr):
            return 0
        if not arcs and not descr:
            return 0
        return arcs + (20 if descr else 0)


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _load_raw(directory: Path) -> dict[str, tuple[Path, dict, Lines]]:
    raw: dict[str, tuple[Path, dict, Lines]] = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            doc, lines = yamlpos.load(path)
        except yamlpos.YamlError as exc:
            raise ProfileError(f"{path.name}:{exc.line}: not valid YAML: {exc.message}") from None
        if not isinstance(doc, dict):
            raise ProfileError(f"{path.name}: must be a mapping")
        name = doc.get("name") or path.stem
        if name != path.stem:
            raise ProfileError(f"{path.name}: name {name!r} must equal the file name {path.stem!r}")
        raw[name] = (path, doc, lines)
    return raw


def _resolve(name: str, raw: dict, seen: tuple = ()) -> dict:
    path, doc, _lines = raw[name]
    parent = doc.get("extends")
    if parent is None:
        return doc
    if parent not in raw:
        raise ProfileError(f"{path.name}: extends: unknown profile {parent!r}")
    if parent in seen:
        raise ProfileError(f"{path.name}: extends: cycle through {parent!r}")
    merged = _merge(_resolve(parent, raw, (*seen, name)), {k: v for k, v in doc.items() if k != "detect"})
    merged["detect"] = doc.get("detect", {})
    return merged


# ---- the profile's shape (docs/profiles.md); checked on the profile as merged with its parents


def _oid(v: Any) -> str:
    oid = str(v).lstrip(".") if isinstance(v, (str, int, float)) else v
    if not isinstance(oid, str) or not _OID.match(oid):
        raise problem(f"{v!r} is not a numeric OID")
    return oid


def _sources(v: Any) -> Any:
    if not isinstance(v, list):
        raise problem("must be a list of sources")
    return v


_OID = re.compile(r"^\d+(\.\d+)+$")
Oid = Annotated[Any, AfterValidator(_oid)]
Number = Annotated[float, Strict()]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Where(BaseModel):
    model_config = ConfigDict(extra="forbid")
    column: Oid
    equals: Any = None
    gt: Number | None = None


class _Source(BaseModel):
    """Where one value comes from: a scalar, a column aggregated, used/total or total less free."""

    model_config = ConfigDict(extra="forbid")
    scalar: Oid | None = None
    column: Oid | None = None
    pct: Oid | None = None
    used: Oid | None = None
    total: Oid | None = None
    free: Oid | None = None
    total_scalar: Oid | None = None
    free_scalars: list[Oid] = []
    where: _Where | None = None
    agg: Literal["avg", "max", "min", "sum"] = "avg"
    skip_zero: Flag = False
    max_valid: Number | None = None
    scale: Number = 1
    offset: Number = 0


Sources = Annotated[list[_Source], BeforeValidator(_sources)]


class _Column(_Open):
    oid: Oid
    type: Literal[tuple(sorted(VALUE_TYPES))] = "gauge"  # type: ignore[valid-type]


class _Interfaces(_Open):
    columns: dict[str, _Column] = {}
    counters: dict[str, list[Oid]] = {}


class _Layer(_Open):
    status: Oid | None = None
    interval: dict[str, Oid] = {}


class _Sdh(_Open):
    medium_type: Oid  # the column that says a port is SDH
    time_elapsed: Oid | None = None
    valid_intervals: Oid | None = None
    stack: Oid | None = None
    layers: dict[str, _Layer] = {}


class _Addresses(BaseModel):
    """The ``addresses`` block: each table a mapping of the plugin's column names to OIDs."""

    model_config = ConfigDict(extra="forbid")
    interval_s: Annotated[float, Field(ge=10, le=86400)] = 900
    max_s: Annotated[float, Field(gt=0, le=600)] = 20  # longer: only this part of the poll fails
    ip_addr: dict[Literal["if_index", "netmask"], Oid] | None = None
    ip_address: dict[Literal["if_index", "type", "prefix"], Oid] | None = None
    arp: dict[Literal["phys", "type"], Oid] | None = None
    neighbours: dict[Literal["phys", "type"], Oid] | None = None
    lldp: dict[Literal["loc_port_id", "loc_port_desc", "rem_chassis_id", "rem_port_subtype", "rem_port_id",
                       "rem_port_desc", "rem_sys_name"], Oid] | None = None


class _Detect(_Open):
    sysObjectID: list[Oid] = []  # noqa: N815 - the profile's key
    sysDescr: list[Regex] = []  # noqa: N815
    require_all: Flag = False


class _Profile(_Open):
    """A profile as merged; blocks it does not know (``traps``, ``syslog`` ...) pass as they are."""

    name: str | None = None
    detect: _Detect | None = None
    interfaces: _Interfaces | None = None
    health: dict[str, Sources] | None = None
    sessions: Sources | None = None
    sdh: _Sdh | None = None
    addresses: _Addresses | None = None
    max_repetitions: Annotated[int, Strict(), Field(ge=1)] | None = None
    abstract: Flag = False


def _validate(path: Path, data: dict, lines: Lines) -> None:
    """Every problem of the profile as ``file:line: field: problem`` (lines of this file)."""
    try:
        _Profile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError("; ".join(validation.located(path.name, lines, loc, text)
                                     for loc, text in validation.errors(exc))) from None  # fmt: skip


def load_profiles(directory: Path | str = PROFILE_DIR) -> dict[str, Profile]:
    """Load, resolve and validate every profile in ``directory``."""
    directory = Path(directory)
    raw = _load_raw(directory)
    out: dict[str, Profile] = {}
    for name, (path, _doc, lines) in raw.items():
        data = _resolve(name, raw)
        _validate(path, data, lines)
        det = data.get("detect") or {}
        patterns = [re.compile(p, re.I) for p in det.get("sysDescr", []) or []]
        out[name] = Profile(
            name=name,
            data=data,
            oid_prefixes=[str(p).lstrip(".") for p in det.get("sysObjectID", []) or []],
            descr_patterns=patterns,
            require_all=bool(det.get("require_all")),
        )
    if "generic" not in out:
        raise ProfileError(f"{directory}: the base profile generic.yaml is missing")
    return out


@lru_cache(maxsize=4)
def _cached(directory: str) -> dict[str, Profile]:
    return load_profiles(directory)


def profiles(directory: Path | str = PROFILE_DIR) -> dict[str, Profile]:
    """Profiles of ``directory``, loaded once per process."""
    return _cached(str(directory))


def choose(sys_object_id: str, sys_descr: str, available: dict[str, Profile] | None = None) -> Profile:
    """The most specific matching profile (ties: the name sorting first); generic if none."""
    available = available if available is not None else profiles()
    best, best_score = available["generic"], 0
    for name in sorted(available):
        s = available[name].score(sys_object_id or "", sys_descr or "")
        if s > best_score and not available[name].get("abstract"):
            best, best_score = available[name], s
    return best


def get(name: str, available: dict[str, Profile] | None = None) -> Profile:
    available = available if available is not None else profiles()
    if name not in available:
        raise ProfileError(f"unknown profile {name!r}; known: {', '.join(sorted(available))}")
    return available[name]
