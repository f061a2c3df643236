"""Running configurations of the simulated routers and firewalls, in their vendors' CLI syntax.

Made from the inventory: hostname, the management address (on LoopBack0 or the management
port), every interface with a description naming the far end of its link (link interfaces
borrow the loopback's address, ``ip address unnumbered``: the inventory has no link
addressing), and the site as the SNMP location.  The ``config-change`` fault adds a line
(a static route to the documentation range 192.0.2.0/24 unless a line is given), as an
operator's change would; the config backup then finds a new version.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

from probes.common.inventory_model import Device, Inventory

# inventory vendor -> CLI style of probes.sim.cli_ssh (vendors without one have no SSH here)
STYLE_OF_VENDOR = {"huawei": "huawei", "h3c": "h3c", "hillstone": "hillstone", "topsec": "topsec",
                   "venustech": "venustech"}
SSH_ROLES = ("router", "firewall")


def style_of(dev: Device) -> str | None:
    """The CLI style a simulated device answers SSH with, or None (no SSH: switches, cipher...)."""
    return STYLE_OF_VENDOR.get(dev.vendor.lower()) if dev.role in SSH_ROLES else None


def _far_ends(inv: Inventory) -> dict[str, dict[str, str]]:
    """device -> interface -> description naming the far end of its link (and the circuit)."""
    out: dict[str, dict[str, str]] = {}
    for link in inv.links.values():
        circuit = f" {link.circuit_id}" if link.circuit_id not in ("", "-") else ""
        for near, far in ((link.a, link.b), (link.b, link.a)):
            out.setdefault(near.device, {})[near.interface] = f"to {far.device} {far.interface}{circuit}"
    return out


def _stamp(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S+08:00", time.gmtime(ts + 8 * 3600))


def _cipher(name: str) -> str:
    """A stand-in for an encrypted community: never the real secret, stable per device."""
    return "%^%#" + hashlib.sha256(f"community:{name}".encode()).hexdigest()[:24] + "%^%#"


@dataclass
class RunningConfig:
    """One device's running configuration: made from the inventory, plus the changes made since."""

    device: Device
    style: str
    site_name: str
    far_ends: dict[str, str]
    changed_at: float = field(default_factory=time.time)
    changes: list[str] = field(default_factory=list)

    def change(self, line: str | None = None, now: float | None = None) -> str:
        """Add a configuration line (a default one when ``line`` is None); returns it."""
        n = len(self.changes) + 1
        if line is None:
            line = DEFAULT_CHANGE[self.style].format(n=n)
        if "\n" in line or "\r" in line or not line.strip():
            raise ValueError("config-change: the line must be one non-empty line")
        self.changes.append(line.strip())
        self.changed_at = time.time() if now is None else now
        return line.strip()

    def text(self) -> str:
        return RENDER[self.style](self)


DEFAULT_CHANGE = {
    "huawei": "ip route-static 192.0.2.{n} 255.255.255.255 NULL0 description sim-change-{n}",
    "h3c": "ip route-static 192.0.2.{n} 32 NULL0 description sim-change-{n}",
    "hillstone": "ip route 192.0.2.{n}/32 null0 description sim-change-{n}",
    "topsec": "network route add dst 192.0.2.{n}/32 gw 0.0.0.0 comment sim-change-{n}",
    "venustech": "ip route 192.0.2.{n} 255.255.255.255 Null0 description sim-change-{n}",
}


def _interfaces(rc: RunningConfig, linked: tuple[str, ...], close: str, mgmt: str, address: str) -> list[str]:
    """One block per interface (``linked``: its lines when a link ends there, ``{far}`` the far end),
    each ended by ``close``, then the management interface with the inventory's address."""
    lines = []
    for ifname in rc.device.interfaces:
        lines.append(f"interface {ifname}")
        if ifname in rc.far_ends:
            lines += [ln.format(far=rc.far_ends[ifname]) for ln in linked]
        lines.append(close)
    return lines + [f"interface {mgmt}", address.format(addr=rc.device.address), close]


def _vrp(rc: RunningConfig) -> str:
    d, h3c = rc.device, rc.style == "h3c"
    mark = "#" if h3c else "!"
    head = [f"{mark}Software Version {'V700R001B045D019' if h3c else 'V800R011C00SPC607'}",
            f"{mark}Last configuration was updated at {_stamp(rc.changed_at)}"]
    lines = head + ["#", f" sysname {d.name}", "#", " snmp-agent",
                    f" snmp-agent community read cipher {_cipher(d.name)}",
                    f" snmp-agent sys-info location {rc.site_name}", "#"]
    lines += _interfaces(rc, (" description {far}", " ip address unnumbered interface LoopBack0"), "#",
                         "LoopBack0", " ip address {addr} 255.255.255.255")
    lines += [f" {c}" for c in rc.changes]
    return "\n".join(lines + ["#", "return"]) + "\n"


def _hillstone(rc: RunningConfig) -> str:
    d = rc.device
    lines = [f"# Last modified {_stamp(rc.changed_at)}", f'hostname "{d.name}"',
             f'snmp-server location "{rc.site_name}"']
    lines += _interfaces(rc, ('  description "{far}"',), "exit", "MGT0",
                         "  ip address {addr} 255.255.255.255")
    return "\n".join(lines + rc.changes + ["end"]) + "\n"


def _topsec(rc: RunningConfig) -> str:
    d = rc.device
    lines = [f"# Generated by TOS at {_stamp(rc.changed_at)}", f"system hostname {d.name}",
             f"snmp location {rc.site_name}",
             f"network interface eth0 ip add {d.address} mask 255.255.255.255"]
    for ifname in d.interfaces:
        far = rc.far_ends.get(ifname)
        lines.append(f"network interface {ifname} no shutdown" + (f' description "{far}"' if far else ""))
    return "\n".join(lines + rc.changes) + "\n"


def _venustech(rc: RunningConfig) -> str:
    d = rc.device
    lines = ["Building configuration...", "!", f"!Last configuration change at {_stamp(rc.changed_at)}",
             f"hostname {d.name}", f"snmp-server location {rc.site_name}", "!"]
    lines += _interfaces(rc, (" description {far}",), "!", "mgmt", " ip address {addr} 255.255.255.255")
    return "\n".join(lines + rc.changes + ["!", "end"]) + "\n"


RENDER = {"huawei": _vrp, "h3c": _vrp, "hillstone": _hillstone, "topsec": _topsec, "venustech": _venustech}


def running_configs(inv: Inventory, names: list[str], now: float | None = None) -> dict[str, RunningConfig]:
    """The running config of every named device that answers SSH in the simulation."""
    out = {}
    ends = _far_ends(inv)
    for name in names:
        dev = inv.devices[name]
        style = style_of(dev)
        if style is None:
            continue
        site = inv.sites.get(dev.site)
        out[name] = RunningConfig(dev, style, (site.name_pinyin or site.id) if site else dev.site,
                                  ends.get(name, {}), changed_at=time.time() if now is None else now)
    return out
