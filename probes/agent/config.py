"""What this agent polls, from its assignment (:mod:`probes.common.assignment`: pulled from
the centre, or made from a local ``inventory.yaml``): one :class:`DeviceJob` per device.

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

from probes.common.assignment import WAN_LINK_KINDS, Assignment, assignment_of, wan_ends
from probes.common.inventory import InventoryError, load_inventory
from probes.common.inventory_model import Inventory
from probes.common.netguard import TargetNotAllowed, check_target

__all__ = [
    "WAN_LINK_KINDS",
    "ConfigError",
    "DeviceJob",
    "Timing",
    "jobs_for",
    "jobs_of",
    "load",
    "read_token",
    "wan_ends",
]


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
    wan_interfaces: tuple[str, ...] = ()  # its interfaces at WAN link ends (fast reachability probe)
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


def jobs_for(
    inventory: Inventory,
    agent: str,
    timing: Timing,
    sim_port: int | None = None,
    wan_ping_s: float | None = 15.0,
) -> list[DeviceJob]:
    """One job per device of the agent's sites in a whole inventory (a stand-alone agent)."""
    return jobs_of(assignment_of(inventory, agent), timing, sim_port, wan_ping_s)


def jobs_of(
    assignment: Assignment,
    timing: Timing,
    sim_port: int | None = None,
    wan_ping_s: float | None = 15.0,
) -> list[DeviceJob]:
    """One job per device of the assignment, sorted by name; ``wan_ping_s``: WAN ends' ping interval."""
    jobs = []
    creds = {c.name for c in assignment.credentials}
    for dev in sorted(assignment.devices, key=lambda d: d.name):
        if sim_port is not None:
            host, port = dev.sim_address, sim_port
        else:
            host, port = dev.address, dev.port
        problem = None
        try:
            check_target(host)
        except TargetNotAllowed as exc:
            problem = f"not allowed: {exc}"
        if dev.credential not in creds:
            problem = f"credential {dev.credential!r} is not in the inventory"
        jobs.append(
            DeviceJob(
                name=dev.name,
                site=dev.site,
                host=host,
                port=port,
                interval_s=timing.interval(dev.interval_s),
                profile=dev.profile or "auto",
                credential=dev.credential,
                expected_peers=dev.expected_peers,
                ping_every_s=(
                    min(timing.interval(dev.interval_s), max(0.05, wan_ping_s * timing.scale))
                    if wan_ping_s and dev.wan_end
                    else None
                ),
                wan_interfaces=dev.wan_interfaces,
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
