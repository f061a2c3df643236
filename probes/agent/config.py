"""What this agent polls, from ``inventory.yaml``: one :class:`DeviceJob` per device.

A job carries everything the scheduler and poller need (address, port, interval,
profile, tunnel peers, credential reference).  A device that cannot be polled
(netguard refuses its address, a secret is missing) still gets a job, with
``problem`` saying why, so the agent reports it per device instead of crashing.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from probes.common import topology
from probes.common.inventory import InventoryError, load_inventory
from probes.common.inventory_model import Inventory
from probes.common.netguard import TargetNotAllowed, check_target


class ConfigError(Exception):
    """The agent cannot start or reload: the message names the option or file at fault."""


@dataclass(frozen=True)
class DeviceJob:
    name: str
    site: str
    host: str
    port: int
    interval_s: float
    profile: str
    credential: str  # name of the inventory credential reference
    expected_peers: tuple[str, ...] = ()  # tunnel peer addresses as the device reports them
    ping_every_s: float | None = None  # WAN link ends: pinged this often between polls too
    problem: str | None = None  # why this device is not polled (None: it is)


@dataclass(frozen=True)
class Timing:
    """Test knobs: shorten intervals, never change the logic."""

    override_s: float | None = None
    scale: float = 1.0

    def interval(self, inventory_interval: float) -> float:
        base = self.override_s if self.override_s is not None else inventory_interval
        return max(0.05, base * self.scale)


def load(inventory_path: Path, agent: str) -> Inventory:
    """Load the inventory and check the agent is in it; raises :class:`ConfigError`."""
    try:
        inventory = load_inventory(inventory_path)
    except InventoryError as exc:
        raise ConfigError(str(exc)) from None
    if agent not in inventory.agents:
        known = ", ".join(sorted(inventory.agents)) or "none"
        raise ConfigError(f"{inventory_path}: agents: no agent {agent!r} (known: {known})")
    return inventory


WAN_LINK_KINDS = ("sdh-stm1", "mstp")


def wan_ends(inventory: Inventory) -> set[str]:
    """Devices at an end of a carrier circuit (SDH, MSTP, a leased metro line): pinged more often."""
    out: set[str] = set()
    for link in inventory.links.values():
        if link.kind in WAN_LINK_KINDS or link.circuit_id not in ("", "-"):
            out.update((link.a.device, link.b.device))
    return out


def wan_interfaces(inventory: Inventory) -> dict[str, set[str]]:
    """{device: its interfaces at a carrier circuit's end}: what the fast reachability probe reads."""
    out: dict[str, set[str]] = {}
    for link in inventory.links.values():
        if link.kind in WAN_LINK_KINDS or link.circuit_id not in ("", "-"):
            for end in (link.a, link.b):
                out.setdefault(end.device, set()).add(end.interface)
    return out


def jobs_for(
    inventory: Inventory,
    agent: str,
    timing: Timing,
    sim_port: int | None = None,
    wan_ping_s: float | None = 15.0,
) -> list[DeviceJob]:
    """One job per device of the agent's sites, sorted by name; ``wan_ping_s``: WAN ends' ping interval."""
    jobs = []
    expected = topology.build(inventory).peers  # both ends: a hub expects its spokes too
    wan = wan_ends(inventory) if wan_ping_s else set()
    for dev in sorted(inventory.devices_of_agent(agent), key=lambda d: d.name):
        if sim_port is not None:
            host, port = inventory.sim_address(dev.name), sim_port
        else:
            host, port = dev.address, dev.port
        problem = None
        try:
            check_target(host)
        except TargetNotAllowed as exc:
            problem = f"not allowed: {exc}"
        if dev.credential not in inventory.credentials:
            problem = f"credential {dev.credential!r} is not in the inventory"
        peers = tuple(inventory.devices[p].address for p in expected.get(dev.name, ()))
        jobs.append(
            DeviceJob(
                name=dev.name,
                site=dev.site,
                host=host,
                port=port,
                interval_s=timing.interval(dev.interval_s),
                profile=dev.profile or "auto",
                credential=dev.credential,
                expected_peers=peers,
                ping_every_s=(
                    min(timing.interval(dev.interval_s), max(0.05, wan_ping_s * timing.scale))
                    if wan_ping_s and dev.name in wan
                    else None
                ),
                problem=problem,
            )
        )
    return jobs


def read_token(token_file: Path | None, token_env: str) -> str:
    """The agent's bearer token from a 0600 file or an environment variable, never echoed."""
    if token_file is not None:
        try:
            st = token_file.stat()
            if stat.S_IMODE(st.st_mode) & 0o077:
                raise ConfigError(
                    f"--token-file {token_file}: mode {stat.S_IMODE(st.st_mode):04o} lets "
                    f"group/others read it; run: chmod 600 {token_file}"
                )
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"--token-file {token_file}: cannot read: {exc.strerror or exc}") from None
        if not token:
            raise ConfigError(f"--token-file {token_file}: empty")
        return token
    token = os.environ.get(token_env, "").strip()
    if not token:
        raise ConfigError(f"no agent token: set environment variable {token_env} or pass --token-file")
    return token
