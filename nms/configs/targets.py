"""Which devices to back up, at which address, with which netmiko driver and SSH login.

The inventory names devices, their vendor and management address; it has no SSH
credentials yet, so they come from a small YAML file (``NMS_CONFIGS_FILE``, default
``<data_dir>/configs.yaml``)::

    ssh_credentials:
      netops: {username: netops, password_env: NMS_SSH_NETOPS}
      lab:    {username: lab, key_file: /etc/nms/lab_ed25519}
    default_credential: netops        # for every inventory device not listed below
    devices:                          # per-device overrides, or devices not in the inventory
      hefei-rtr1: {credential: lab, device_type: huawei, host: 127.0.0.1, port: 2222}
      lab-linux:  {credential: lab, device_type: linux, host: 127.0.0.1, port: 2200, site: hefei}
    skip: [some-cipher-box]           # devices without an SSH CLI

A device listed only here needs ``host`` and ``device_type``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nms.config import Settings
from nms.configs import vendors
from nms.configs.credentials import CredentialError, SshCredentialRef, resolve
from nms.configs.fetch import Target
from probes.common.inventory import load_inventory
from probes.common.inventory_model import Device, Inventory


class TargetsError(ValueError):
    """The configs file is malformed; ``errors`` lists every problem found."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass
class ConfigsFile:
    credentials: dict[str, SshCredentialRef]
    default_credential: str | None
    devices: dict[str, dict[str, Any]]
    skip: frozenset[str]


_DEVICE_KEYS = {"credential", "device_type", "host", "port", "site"}


def configs_file_path(settings: Settings) -> Path:
    env = os.environ.get("NMS_CONFIGS_FILE")
    return Path(env) if env else settings.data_dir / "configs.yaml"


def parse_configs_file(data: Any, source: str = "configs.yaml") -> ConfigsFile:
    errors: list[str] = []
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise TargetsError([f"{source}: expected a mapping"])
    creds: dict[str, SshCredentialRef] = {}
    for name, raw in (data.get("ssh_credentials") or {}).items():
        if not isinstance(raw, dict) or set(raw) - {"username", "password_env", "key_file", "enable_env"}:
            errors.append(f"{source}: ssh_credentials.{name}: "
                          "expected username, password_env and/or key_file, enable_env")
            continue
        try:
            creds[name] = SshCredentialRef(name=name, **raw)
        except CredentialError as exc:
            errors.append(f"{source}: ssh_credentials.{name}: {exc}")
    default = data.get("default_credential")
    if default is not None and default not in creds:
        errors.append(f"{source}: default_credential: {default!r} is not in ssh_credentials")
    devices: dict[str, dict[str, Any]] = {}
    for name, raw in (data.get("devices") or {}).items():
        raw = raw or {}
        if not isinstance(raw, dict) or set(raw) - _DEVICE_KEYS:
            errors.append(f"{source}: devices.{name}: keys must be among {sorted(_DEVICE_KEYS)}")
            continue
        if "credential" in raw and raw["credential"] not in creds:
            errors.append(
                f"{source}: devices.{name}.credential: {raw['credential']!r} is not in ssh_credentials")
        if "port" in raw and not (isinstance(raw["port"], int) and 0 < raw["port"] < 65536):
            errors.append(f"{source}: devices.{name}.port: expected 1..65535")
        if "device_type" in raw:
            try:
                vendors.spec_for(raw["device_type"])
            except vendors.VendorError as exc:
                errors.append(f"{source}: devices.{name}.device_type: {exc}")
        devices[str(name)] = raw
    skip = data.get("skip") or []
    if not isinstance(skip, list):
        errors.append(f"{source}: skip: expected a list of device names")
        skip = []
    if errors:
        raise TargetsError(errors)
    return ConfigsFile(creds, default, devices, frozenset(map(str, skip)))


def load_configs_file(path: Path) -> ConfigsFile:
    if not path.exists():
        return ConfigsFile({}, None, {}, frozenset())
    return parse_configs_file(yaml.safe_load(path.read_text(encoding="utf-8")), str(path))


def _device_type_of(dev: Device) -> str:
    """A profile that names a netmiko type wins (e.g. ``hp_comware``); else the vendor's default."""
    if dev.profile in vendors.load():
        return dev.profile
    return vendors.device_type_for_vendor(dev.vendor)


def load_targets(
    settings: Settings, only: Iterable[str] | None = None
) -> tuple[list[Target], dict[str, str]]:
    """Targets from the settings' inventory (if present) and configs file; see :func:`build_targets`."""
    cfg = load_configs_file(configs_file_path(settings))
    inventory = None
    if settings.inventory_path.exists():
        inventory = load_inventory(settings.inventory_path)
    return build_targets(cfg, inventory, settings.secrets_path, only)


def build_targets(
    cfg: ConfigsFile,
    inventory: Inventory | None,
    secrets_path: Path | None = None,
    only: Iterable[str] | None = None,
) -> tuple[list[Target], dict[str, str]]:
    """Targets to fetch, and the devices that cannot be (name -> why), e.g. no credential.

    Devices of a vendor without an SSH CLI (``no_cli`` in vendors.yaml: Sangfor, cipher
    machines) are left out quietly, and reported only when asked for by name.
    """
    names: set[str] = set(cfg.devices)
    if inventory is not None:
        names |= set(inventory.devices)
    names -= cfg.skip
    wanted = set(only) if only else None
    problems: dict[str, str] = {}
    if wanted is not None:
        for missing in sorted(wanted - names):
            problems[missing] = "not in the inventory or the configs file"
        names &= wanted
    targets: list[Target] = []
    for name in sorted(names):
        over = cfg.devices.get(name, {})
        dev = inventory.devices.get(name) if inventory is not None else None
        try:
            device_type = over.get("device_type") or (_device_type_of(dev) if dev else None)
            host = over.get("host") or (dev.address if dev else None)
            if not device_type or not host:
                raise CredentialError("needs host and device_type in the configs file")
            cred_name = over.get("credential") or cfg.default_credential
            if cred_name is None:
                raise CredentialError(
                    "no SSH credential (set default_credential or devices.<name>.credential)")
            cred = resolve(cfg.credentials[cred_name], secrets_path)
        except vendors.NoCliError as exc:
            if wanted is not None:  # asked for by name: say why it is not fetched
                problems[name] = str(exc)
            continue  # otherwise a vendor without an SSH CLI is simply not backed up
        except (CredentialError, vendors.VendorError) as exc:
            problems[name] = str(exc)
            continue
        targets.append(Target(device=name, host=str(host), port=int(over.get("port", 22)),
                              device_type=device_type, credential=cred,
                              site=over.get("site") or (dev.site if dev else None)))
    return targets, problems
