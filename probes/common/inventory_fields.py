"""The fields of each inventory entry as pydantic models: types, choices and ranges.

:mod:`probes.common.inventory` walks the YAML (it needs the nodes for lines, duplicate keys
and the order of entries) and hands each entry's fields to the model of its section;
what one field can say about itself is checked here, what entries say about each other
(unique names, references, prefixes, links) stays in the loader's second pass.  Texts are
the inventory's own (``expected an integer, got str 'fast'``), raised through
:func:`probes.common.validation.problem`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, Strict

from probes.common.inventory_model import DEVICE_ROLES, LINK_KINDS, NETWORKS, SITE_KINDS
from probes.common.validation import problem
from probes.snmp.credential import VERSIONS

# China's bounding box (WGS-84), generous: Hainan/Nansha excluded, Heilongjiang/Xinjiang included.
LAT_RANGE = (18.0, 54.0)
LON_RANGE = (73.0, 136.0)
INTERVAL_RANGE = (10, 3600)
SNMP_VERSIONS = tuple(VERSIONS)

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_DEVICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CODE = re.compile(r"^\d{6}(-D\d{2,3})?$")


# pydantic-core's own errors on a text field, worded ``expected <description>, got <value>``
NATIVE_ERRORS = {"string_type", "string_pattern_mismatch", "missing_ne"}


def describe(v: Any) -> str:
    """How a YAML value is named in a message: ``str 'north'``, ``a list``, ``null``."""
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list):
        return "a list"
    if v is None:
        return "null"
    return f"{type(v).__name__} {v!r}"


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) and v.strip() else None


def as_int(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    return int(v) if isinstance(v, float) and v.is_integer() else None


def _float(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def as_strlist(v: Any) -> list[str] | None:
    if v is None:
        return []
    if not isinstance(v, list) or not all(_str(x) is not None for x in v):
        return None
    return v


def _kind(convert: Callable[[Any], Any], name: str, null: bool = False) -> BeforeValidator:
    """A value of one kind (``None`` from ``convert`` means it is not), else ``expected <name>``."""

    def check(v: Any) -> Any:
        if v is None and null:
            return None
        out = convert(v)
        if out is None:
            raise problem(f"expected {name}, got {describe(v)}")
        return out

    return BeforeValidator(check)


def _choice(key: str, allowed: tuple[str, ...]) -> AfterValidator:
    def check(v: str) -> str:
        if v not in allowed:
            raise problem(f"unknown {key} {v!r} (expected one of: {', '.join(allowed)})")
        return v

    return AfterValidator(check)


def _within(lo: float, hi: float, text: str) -> AfterValidator:
    def check(v: float) -> float:
        if not lo <= v <= hi:
            raise problem(text.format(v=v, lo=lo, hi=hi))
        return v

    return AfterValidator(check)


def _env(v: str) -> str:
    if not _ENV_NAME.match(v):
        raise problem(f"{v!r} is not an environment variable name")
    return v


def _division_code(v: str) -> str:
    if not _CODE.match(v):
        raise problem(f"{v!r} is not a division code (6 digits, or 6 digits and -Dnn)")
    return v


def _ip(v: str) -> str:
    try:
        return str(ipaddress.ip_address(v))
    except ValueError:
        raise problem(f"{v!r} is not an IP address") from None


def _code_text(v: Any) -> str | None:
    return str(v) if isinstance(v, int) and not isinstance(v, bool) else _str(v)


# Plain text checked by pydantic-core itself (the loader words its type errors with the
# field's ``description``: most of a 1,000-device file is text, and this keeps it fast).
Str = Annotated[str, Strict(), Field(pattern=r"\S", description="a non-empty string")]
Slug = Annotated[
    str, Strict(), Field(pattern=_SLUG.pattern, description="a lowercase ASCII id (a-z, 0-9, -)")
]
Name = Annotated[
    str, Strict(), Field(pattern=_DEVICE_NAME.pattern, description="an ASCII name (A-Z, a-z, 0-9, ., _, -)")
]
OptStr = Annotated[str | None, _kind(_str, "a string or null", null=True)]
Int = Annotated[int, _kind(as_int, "an integer")]
Float = Annotated[float, _kind(_float, "a number")]
StrList = Annotated[list[str], _kind(as_strlist, "a list of strings")]
Env = Annotated[Str, AfterValidator(_env)]


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CredentialFields(_Entry):
    name: Name
    version: Annotated[Str, _choice("version", SNMP_VERSIONS)]
    community_env: Env | None = None
    user: Str | None = None
    auth_proto: Str | None = None
    auth_key_env: Env | None = None
    priv_proto: Str | None = None
    priv_key_env: Env | None = None


class SshCredentialFields(_Entry):
    name: Name
    username: Str
    password_env: Env | None = None
    key_file: Str | None = None
    enable_env: Env | None = None
    default: Annotated[bool, Strict()] = False


class SiteFields(_Entry):
    id: Slug
    name_zh: Str
    name_pinyin: Str = ""
    code: Annotated[str, _kind(_code_text, "a division code string"), AfterValidator(_division_code)]
    kind: Annotated[Str, _choice("kind", SITE_KINDS)]
    parent: OptStr
    lat: Annotated[Float, _within(*LAT_RANGE, "{v} is outside China (latitude {lo:g}..{hi:g})")]
    lon: Annotated[Float, _within(*LON_RANGE, "{v} is outside China (longitude {lo:g}..{hi:g})")]
    prefixes: Any = None  # read from the nodes by the loader (each prefix has its own line)


class DeviceFields(_Entry):
    name: Name
    site: Str
    role: Annotated[Str, _choice("role", DEVICE_ROLES)]
    vendor: Str
    model: Str
    profile: Str = "auto"
    network: Annotated[Str, _choice("network", NETWORKS)] = "internal"
    address: Annotated[Str, AfterValidator(_ip)]
    credential: Str
    interval_s: Annotated[Int, _within(*INTERVAL_RANGE, "{v} is out of range ({lo}..{hi} seconds)")] = 60
    port: Annotated[Int, _within(1, 65535, "{v} is out of range ({lo}..{hi})")] = 161
    interfaces: StrList = []
    tunnel_peers: StrList = []
    ssh_credential: Str | None = None


def _positive(v: int) -> int:
    if v <= 0:
        raise problem(f"capacity must be positive, got {v}")
    return v


class LinkFields(_Entry):
    id: Name
    a: Any  # "device:interface" or {device, interface}: read from the nodes by the loader
    b: Any
    kind: Annotated[Str, _choice("kind", LINK_KINDS)]
    capacity_bps: Annotated[Int, AfterValidator(_positive)]
    network: Annotated[Str, _choice("network", NETWORKS)]
    circuit_id: Str = "-"


class AgentFields(_Entry):
    name: Name
    sites: StrList
    token_env: Env
