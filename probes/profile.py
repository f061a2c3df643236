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
from typing import Any

import yaml

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


def _load_raw(directory: Path) -> dict[str, tuple[Path, dict]]:
    raw: dict[str, tuple[Path, dict]] = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ProfileError(f"{path.name}: not valid YAML: {exc}") from None
        if not isinstance(doc, dict):
            raise ProfileError(f"{path.name}: must be a mapping")
        name = doc.get("name") or path.stem
        if name != path.stem:
            raise ProfileError(f"{path.name}: name {name!r} must equal the file name {path.stem!r}")
        raw[name] = (path, doc)
    return raw


def _resolve(name: str, raw: dict, seen: tuple = ()) -> dict:
    path, doc = raw[name]
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


def _validate(path: Path, data: dict) -> None:
    oid_re = re.compile(r"^\d+(\.\d+)+$")

    def check_oid(where: str, oid: Any) -> None:
        if not isinstance(oid, str) or not oid_re.match(oid):
            raise ProfileError(f"{path.name}: {where}: {oid!r} is not a numeric OID")

    for key, col in (data.get("interfaces", {}).get("columns") or {}).items():
        check_oid(f"interfaces.columns.{key}.oid", str(col.get("oid")))
        if col.get("type", "gauge") not in VALUE_TYPES:
            raise ProfileError(
                f"{path.name}: interfaces.columns.{key}.type: {col.get('type')!r} "
                f"is not one of {sorted(VALUE_TYPES)}"
            )
    for key, sources in (data.get("health") or {}).items():
        if not isinstance(sources, list):
            raise ProfileError(f"{path.name}: health.{key}: must be a list of sources")
        for i, src in enumerate(sources):
            for k in ("column", "scalar", "used", "total", "free", "pct", "total_scalar"):
                if k in src:
                    check_oid(f"health.{key}[{i}].{k}", str(src[k]))
            for j, oid in enumerate(src.get("free_scalars") or []):
                check_oid(f"health.{key}[{i}].free_scalars[{j}]", str(oid))
    sdh = data.get("sdh") or {}
    if sdh:
        if "medium_type" not in sdh:
            raise ProfileError(f"{path.name}: sdh.medium_type: required (the column that says a port is SDH)")
        for key in ("medium_type", "time_elapsed", "valid_intervals", "stack"):
            if key in sdh:
                check_oid(f"sdh.{key}", str(sdh[key]))
        for layer, lay in (sdh.get("layers") or {}).items():
            if "status" in lay:
                check_oid(f"sdh.layers.{layer}.status", str(lay["status"]))
            for fld, oid in (lay.get("interval") or {}).items():
                check_oid(f"sdh.layers.{layer}.interval.{fld}", str(oid))
    for i, p in enumerate((data.get("detect") or {}).get("sysObjectID", []) or []):
        check_oid(f"detect.sysObjectID[{i}]", str(p).lstrip("."))


def load_profiles(directory: Path | str = PROFILE_DIR) -> dict[str, Profile]:
    """Load, resolve and validate every profile in ``directory``."""
    directory = Path(directory)
    raw = _load_raw(directory)
    out: dict[str, Profile] = {}
    for name, (path, _doc) in raw.items():
        data = _resolve(name, raw)
        _validate(path, data)
        det = data.get("detect") or {}
        try:
            patterns = [re.compile(p, re.I) for p in det.get("sysDescr", []) or []]
        except re.error as exc:
            raise ProfileError(f"{path.name}: detect.sysDescr: bad pattern: {exc}") from None
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
