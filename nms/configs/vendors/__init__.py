"""Per-vendor data for configuration backup, kept as YAML so adding a vendor is data, not code."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

VENDORS_FILE = Path(__file__).with_name("vendors.yaml")


class VendorError(ValueError):
    """The vendor data is malformed or names an unknown device type."""


class NoCliError(VendorError):
    """The vendor's devices have no SSH CLI to read a configuration from (by design, not a fault)."""


@dataclass(frozen=True)
class VendorSpec:
    device_type: str  # netmiko device_type
    command: str
    volatile: tuple[re.Pattern[str], ...]
    secrets: tuple[re.Pattern[str], ...]
    errors: tuple[re.Pattern[str], ...] = ()
    enable: bool = False
    vendors: tuple[str, ...] = ()
    driver: str = ""  # "prompt_cli": no netmiko driver exists (nms/configs/drivers.py)
    paging: str = ""  # command turning paging off, for driver prompt_cli
    no_cli: str = ""  # why such devices are not backed up over SSH (then no command)


def _compile(device_type: str, field: str, patterns: object, need_secret_group: bool) -> tuple:
    if not isinstance(patterns, list):
        raise VendorError(f"{VENDORS_FILE.name}: {device_type}.{field}: expected a list of regexes")
    out = []
    for raw in patterns:
        try:
            rx = re.compile(str(raw))
        except re.error as exc:
            raise VendorError(
                f"{VENDORS_FILE.name}: {device_type}.{field}: bad regex {raw!r}: {exc}") from None
        if need_secret_group and "secret" not in rx.groupindex:
            raise VendorError(
                f"{VENDORS_FILE.name}: {device_type}.{field}: {raw!r} lacks a (?P<secret>...) group")
        out.append(rx)
    return tuple(out)


def parse(data: object) -> dict[str, VendorSpec]:
    """Validate the YAML document and compile its patterns."""
    if not isinstance(data, dict):
        raise VendorError(f"{VENDORS_FILE.name}: expected a mapping of device_type -> spec")
    specs: dict[str, VendorSpec] = {}
    for device_type, spec in data.items():
        if isinstance(spec, dict) and isinstance(spec.get("no_cli"), str) and spec["no_cli"]:
            specs[device_type] = VendorSpec(
                device_type=device_type, command="", volatile=(), secrets=(), no_cli=spec["no_cli"],
                vendors=tuple(str(v).lower() for v in spec.get("vendors", [])))
            continue
        if not isinstance(spec, dict) or not isinstance(spec.get("command"), str) or not spec["command"]:
            raise VendorError(f"{VENDORS_FILE.name}: {device_type}.command: missing")
        if spec.get("driver", "") not in ("", "prompt_cli"):
            raise VendorError(f"{VENDORS_FILE.name}: {device_type}.driver: {spec['driver']!r} "
                              "is not prompt_cli (leave it out for a netmiko device_type)")
        specs[device_type] = VendorSpec(
            device_type=device_type,
            command=spec["command"],
            driver=str(spec.get("driver", "")),
            paging=str(spec.get("paging", "")),
            volatile=_compile(device_type, "volatile", spec.get("volatile", []), False),
            secrets=_compile(device_type, "secrets", spec.get("secrets", []), True),
            errors=tuple(re.compile(rx.pattern, re.MULTILINE)
                         for rx in _compile(device_type, "errors", spec.get("errors", []), False)),
            vendors=tuple(str(v).lower() for v in spec.get("vendors", [])),
            enable=bool(spec.get("enable", False)),
        )
    return specs


@lru_cache(maxsize=1)
def load() -> dict[str, VendorSpec]:
    return parse(yaml.safe_load(VENDORS_FILE.read_text(encoding="utf-8")))


def spec_for(device_type: str) -> VendorSpec:
    specs = load()
    if device_type not in specs:
        raise VendorError(
            f"device_type {device_type!r} has no entry in {VENDORS_FILE.name} ({', '.join(specs)})")
    if specs[device_type].no_cli:
        raise NoCliError(f"device_type {device_type!r}: no SSH CLI ({specs[device_type].no_cli})")
    return specs[device_type]


def device_type_for_vendor(vendor: str) -> str:
    """The netmiko device_type an inventory ``vendor`` defaults to."""
    vendor = vendor.lower()
    for spec in load().values():
        if vendor == spec.device_type or vendor in spec.vendors:
            if spec.no_cli:
                raise NoCliError(f"vendor {vendor!r}: not backed up over SSH ({spec.no_cli})")
            return spec.device_type
    raise VendorError(f"vendor {vendor!r}: no SSH config-backup device_type known (see {VENDORS_FILE.name})")
