"""Which devices to back up, at which address, with which netmiko driver and SSH login.

The inventory names devices, their vendor and management address, and their SSH logins
(``ssh_credentials``: a ``default: true`` one for every device, a device's own
``ssh_credential``; secrets outside the file).  A small YAML file (``NMS_CONFIGS_FILE``,
default ``<data_dir>/configs.yaml``) adds logins, overrides and devices of its own::

    ssh_credentials:
      netops: {username: netops, password_env: NMS_SSH_NETOPS}
      lab:    {username: lab, key_file: /etc/nms/lab_ed25519}
    default_credential: netops        # for every inventory device not listed below
    devices:                          # per-device overrides, or devices not in the inventory
      hefei-rtr1: {credential: lab, device_type: huawei, host: 127.0.0.1, port: 2222}
      lab-linux:  {credential: lab, device_type: linux, host: 127.0.0.1, port: 2200, site: hefei}
    skip: [some-cipher-box]           # devices without an SSH CLI
    roles: [router, firewall]         # back up only inventory devices of these roles
    sim_port: 2222                    # the simulated province: each device at 127.34.x.y:2222

A device listed only here needs ``host`` and ``device_type``.  A device's login: its
``credential`` here, else its inventory ``ssh_credential``, else ``default_credential``
here, else the inventory's default.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, ValidationError, model_validator

from nms.config import Settings
from nms.configs import vendors
from nms.configs.credentials import CredentialError, SshCredentialRef, resolve
from nms.configs.fetch import Target
from probes.common import validation, yamlpos
from probes.common.inventory import load_inventory
from probes.common.inventory_model import DEVICE_ROLES, Device, Inventory
from probes.common.validation import Text, problem
from probes.common.yamlpos import Lines


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
    roles: frozenset[str] | None = None  # None: every role
    sim_port: int | None = None  # devices answer at Inventory.sim_address(name):sim_port


def _device_type(name: str) -> str:
    try:
        vendors.spec_for(name)
    except vendors.VendorError as exc:
        raise problem(str(exc)) from None
    return name


def _role(name: str) -> str:
    if name not in DEVICE_ROLES:
        raise problem(f"unknown role {name!r} (expected one of: {', '.join(DEVICE_ROLES)})")
    return name


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _SshCredential(_Model):
    username: Text
    password_env: str | None = None
    key_file: str | None = None
    enable_env: str | None = None

    @model_validator(mode="after")
    def _secret_named(self) -> _SshCredential:
        if not self.password_env and not self.key_file:
            raise problem("needs password_env or key_file")
        return self


class _Device(_Model):
    credential: str | None = None
    device_type: Annotated[str, AfterValidator(_device_type)] | None = None
    host: str | None = None
    port: Annotated[int, Strict(), Field(ge=1, le=65535)] | None = None
    site: str | None = None


class _File(_Model):
    ssh_credentials: dict[str, _SshCredential] | None = None
    default_credential: str | None = None
    devices: dict[str, _Device | None] | None = None
    skip: list[Any] | None = None  # device names (a number-like name may be unquoted)
    roles: list[Annotated[str, AfterValidator(_role)]] | None = None
    sim_port: Annotated[int, Strict(), Field(ge=1, le=65535)] | None = None


def configs_file_path(settings: Settings) -> Path:
    env = os.environ.get("NMS_CONFIGS_FILE")
    return Path(env) if env else settings.data_dir / "configs.yaml"


def parse_configs_file(data: Any, source: str = "configs.yaml", lines: Lines | None = None) -> ConfigsFile:
    """Validate a parsed configs file; :class:`TargetsError` lists every problem
    (``file:line: field: problem`` when the YAML's ``lines`` are given)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise TargetsError([f"{source}: expected a mapping"])
    try:
        doc = _File.model_validate(data)
    except ValidationError as exc:
        problems = validation.errors(exc)
        doc = _File.model_construct()
    else:
        problems = []
    creds = {
        name: SshCredentialRef(name=name, **c.model_dump()) for name, c in (doc.ssh_credentials or {}).items()
    }
    raw_creds = data.get("ssh_credentials") if isinstance(data.get("ssh_credentials"), dict) else {}
    default = data.get("default_credential")
    if default is not None and default not in raw_creds:
        problems.append((("default_credential",), f"{default!r} is not in ssh_credentials"))
    raw_devices = data.get("devices") if isinstance(data.get("devices"), dict) else {}
    for name, raw in raw_devices.items():
        if isinstance(raw, dict) and "credential" in raw and raw["credential"] not in raw_creds:
            problems.append(
                (("devices", name, "credential"), f"{raw['credential']!r} is not in ssh_credentials")
            )
    if problems:
        if lines is not None:
            problems.sort(key=lambda p: lines.at(p[0]))
        raise TargetsError([validation.located(source, lines, loc, text) for loc, text in problems])
    devices = {str(n): d.model_dump(exclude_unset=True) if d else {} for n, d in (doc.devices or {}).items()}
    return ConfigsFile(creds, doc.default_credential, devices, frozenset(map(str, doc.skip or ())),
                       frozenset(doc.roles) if doc.roles is not None else None, doc.sim_port)


def load_configs_file(path: Path) -> ConfigsFile:
    if not path.exists():
        return ConfigsFile({}, None, {}, frozenset())
    try:
        data, lines = yamlpos.load(path)
    except yamlpos.YamlError as exc:
        raise TargetsError([f"{path}:{exc.line}: {exc.message}"]) from None
    return parse_configs_file(data, str(path), lines)


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
    other_roles: set[str] = set()
    if inventory is not None:
        names |= set(inventory.devices)
        if cfg.roles is not None:
            other_roles = {n for n, d in inventory.devices.items() if d.role not in cfg.roles}
            other_roles -= set(cfg.devices)
    names -= cfg.skip | other_roles
    wanted = set(only) if only else None
    problems: dict[str, str] = {}
    if wanted is not None:
        for missing in sorted(wanted - names):
            problems[missing] = ("its role is not in the configs file's roles" if missing in other_roles
                                 else "not in the inventory or the configs file")
        names &= wanted
    targets: list[Target] = []
    for name in sorted(names):
        over = cfg.devices.get(name, {})
        dev = inventory.devices.get(name) if inventory is not None else None
        try:
            device_type = over.get("device_type") or (_device_type_of(dev) if dev else None)
            host, port = _address(cfg, inventory, name, over)
            if not device_type or not host:
                raise CredentialError("needs host and device_type in the configs file")
            ref = _credential(cfg, inventory, name, over)
            if ref is None:
                raise CredentialError(
                    "no SSH credential (set default_credential or devices.<name>.credential in the "
                    "configs file, or an inventory ssh_credentials default)")
            cred = resolve(ref, secrets_path)
        except vendors.NoCliError as exc:
            if wanted is not None:  # asked for by name: say why it is not fetched
                problems[name] = str(exc)
            continue  # otherwise a vendor without an SSH CLI is simply not backed up
        except (CredentialError, vendors.VendorError) as exc:
            problems[name] = str(exc)
            continue
        targets.append(Target(device=name, host=str(host), port=port,
                              device_type=device_type, credential=cred,
                              site=over.get("site") or (dev.site if dev else None)))
    return targets, problems


def _address(cfg: ConfigsFile, inventory: Inventory | None, name: str,
             over: dict[str, Any]) -> tuple[str | None, int]:
    """Host and port: the configs file's, the simulated province's, or the inventory address and 22."""
    dev = inventory.devices.get(name) if inventory is not None else None
    if cfg.sim_port is not None and dev is not None and inventory is not None:
        host, port = inventory.sim_address(name), cfg.sim_port
    else:
        host, port = (dev.address if dev else None), 22
    return over.get("host") or host, int(over.get("port", port))


def _credential(cfg: ConfigsFile, inventory: Inventory | None, name: str,
                over: dict[str, Any]) -> SshCredentialRef | None:
    """The device's login, most specific first (see the module docstring)."""
    if over.get("credential"):
        return cfg.credentials[over["credential"]]
    dev = inventory.devices.get(name) if inventory is not None else None
    if dev is not None and dev.ssh_credential is not None and inventory is not None:
        return inventory.ssh_credentials[dev.ssh_credential]
    if cfg.default_credential is not None:
        return cfg.credentials[cfg.default_credential]
    if dev is not None and inventory is not None:
        return inventory.ssh_credential_for(name)
    return None
