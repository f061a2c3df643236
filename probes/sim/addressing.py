"""Address tables of a simulated device, consistent with the address plan, and their faults.

Every device carries its inventory management address (the site's management /24 of its
network, as the plan allocates it) and an IPv6 link-local address; routers, firewalls and
switches hold ARP rows for the other devices of their site and network, and LLDP rows for
each inventory link whose far end also speaks LLDP (cipher machines do not).  The walk's own
tables are dropped (:data:`probes.sim.view.DROPPED`) so nothing from the recorded device leaks in.

Deliberate discrepancies (``SimDevice.discrepancies``), switched by fault commands:
``unknown`` (an ARP row for an address no plan holds), ``duplicate`` (a neighbour's address
at a second MAC), ``mismatch`` (an interface address in another county's prefix) and, per
link, ``miscabled`` (LLDP at the a end names a device that is not the planned far end).
"""

from __future__ import annotations

import ipaddress
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from probes.common.inventory_model import Inventory
from probes.snmp import ber

if TYPE_CHECKING:
    from probes.sim.device import SimDevice

IP = (1, 3, 6, 1, 2, 1, 4)
IP_ADDR = IP + (20, 1)
IP_ADDRESS = IP + (34, 1)
IP_PREFIX = IP + (32, 1, 5)
ARP = IP + (22, 1)
ND = IP + (35, 1)
LLDP_LOC = (1, 0, 8802, 1, 1, 2, 1, 3, 7, 1)
LLDP_REM = (1, 0, 8802, 1, 1, 2, 1, 4, 1, 1)
ARP_ROLES = {"router", "firewall", "switch"}
LLDP_ROLES = {"router", "firewall", "switch"}
KINDS = ("unknown", "duplicate", "mismatch")


def mac_of(name: str, salt: str = "") -> bytes:
    """A stable, locally administered MAC for a device (or a stranger, with ``salt``)."""
    h = zlib.crc32(f"{name}{salt}".encode())
    return bytes([0x02, 0x34]) + h.to_bytes(4, "big")


@dataclass
class Plan:
    """What every device's tables are built from, computed once per inventory."""

    peers: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (site, network) -> devices
    prefixes: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # network -> [(site, cidr)]


_PLANS: dict[int, tuple[Inventory, Plan]] = {}


def plan_of(inv: Inventory) -> Plan:
    hit = _PLANS.get(id(inv))
    if hit is not None and hit[0] is inv:
        return hit[1]
    plan = Plan()
    for name in sorted(inv.devices):
        d = inv.devices[name]
        plan.peers.setdefault((d.site, d.network), []).append(name)
    for site in sorted(inv.sites.values(), key=lambda s: s.id):
        for network, cidr in site.prefixes:
            plan.prefixes.setdefault(network, []).append((site.id, cidr))
    _PLANS[id(inv)] = (inv, plan)
    return plan


def _addr_arcs(address: str) -> tuple[int, ...]:
    return tuple(ipaddress.ip_address(address).packed)


def _mask(plen: int) -> bytes:
    return ber.tlv(ber.IP_ADDRESS, ((0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF).to_bytes(4, "big"))


def _s(text: str | bytes) -> bytes:
    return ber.tlv(ber.OCTET_STRING, text.encode() if isinstance(text, str) else text)


class Builder:
    """Puts one device's address and LLDP rows into its view."""

    def __init__(self, dev: SimDevice, inv: Inventory) -> None:
        self.dev, self.inv, self.plan = dev, inv, plan_of(inv)
        self.v = dev.view

    def _if_address(self, index: int, address: str, plen: int, when: str | None = None) -> None:
        on = self._gate(when)
        arcs = _addr_arcs(address)
        v = self.v
        v.set(IP_ADDR + (1,) + arcs, on(ber.tlv(ber.IP_ADDRESS, bytes(arcs))))
        v.set(IP_ADDR + (2,) + arcs, on(ber.enc_int(index)))
        v.set(IP_ADDR + (3,) + arcs, on(_mask(plen)))
        self._ip_address(index, arcs, plen, on)

    def _ip_address(self, index: int, arcs: tuple[int, ...], plen: int, on) -> None:  # noqa: ANN001
        kind = 1 if len(arcs) == 4 else 2
        idx = (kind, len(arcs), *arcs)
        self.v.set(IP_ADDRESS + (3,) + idx, on(ber.enc_int(index)))
        self.v.set(IP_ADDRESS + (4,) + idx, on(ber.enc_int(1)))
        self.v.set(IP_ADDRESS + (5,) + idx, on(ber.enc_oid(IP_PREFIX + (index,) + idx + (plen,))))

    def _gate(self, when: str | None):  # noqa: ANN202 - returns a value wrapper
        """A row that is there always, or only while discrepancy ``when`` is switched on."""
        if when is None:
            return lambda value: value
        dev = self.dev
        return lambda value: (lambda now: value if when in dev.discrepancies else None)

    def _arp(self, index: int, address: str, mac: bytes, when: str | None = None) -> None:
        on = self._gate(when)
        arcs = _addr_arcs(address)
        self.v.set(ARP + (1, index) + arcs, on(ber.enc_int(index)))
        self.v.set(ARP + (2, index) + arcs, on(_s(mac)))
        self.v.set(ARP + (3, index) + arcs, on(ber.tlv(ber.IP_ADDRESS, bytes(arcs))))
        self.v.set(ARP + (4, index) + arcs, on(ber.enc_int(3)))

    def build(self) -> None:
        dev, d = self.dev, self.dev.device
        itfs = list(dev.interfaces.values())
        first = itfs[0].index if itfs else 1
        second = itfs[1].index if len(itfs) > 1 else first
        self._if_address(first, d.address, 24)
        ll = ipaddress.IPv6Address("fe80::") + int.from_bytes(mac_of(d.name)[2:], "big")
        self._ip_address(first, tuple(ll.packed), 64, lambda value: value)
        # the discrepancies, each switched on and off by its fault
        self._if_address(second, self._foreign_address(), 24, when="mismatch")
        if d.role in ARP_ROLES:
            peers = [p for p in self.plan.peers.get((d.site, d.network), []) if p != d.name]
            for p in peers:
                self._arp(first, self.inv.devices[p].address, mac_of(p))
            h = zlib.crc32(d.name.encode())
            stranger = f"10.250.{h % 250}.{1 + (h >> 8) % 250}"  # inside 10/8, in no site's plan
            self._arp(first, stranger, mac_of(d.name, "stranger"), when="unknown")
            if peers:
                self._arp(second, self.inv.devices[peers[0]].address, mac_of(d.name, "dup"), when="duplicate")
        if d.role in LLDP_ROLES:
            self._lldp()

    def _foreign_address(self) -> str:
        """An address in the management prefix of another site of the same network."""
        d = self.dev.device
        sites = self.plan.prefixes.get(d.network) or [("", "192.0.2.0/24")]
        others = [c for s, c in sites if s != d.site] or [sites[0][1]]
        net = ipaddress.ip_network(others[zlib.crc32(d.name.encode()) % len(others)])
        return str(net.network_address + 250)

    def _lldp(self) -> None:
        v, dev = self.v, self.dev
        n = 0
        for ifname, (link, is_a) in sorted(dev._ends.items()):  # noqa: SLF001 - the device's own links
            far = link.b if is_a else link.a
            fdev = self.inv.devices.get(far.device)
            itf = dev.interfaces.get(ifname)
            if fdev is None or itf is None or fdev.role not in LLDP_ROLES:
                continue
            n += 1
            port = itf.index
            v.set(LLDP_LOC + (2, port), ber.enc_int(5))
            v.set(LLDP_LOC + (3, port), _s(ifname))
            v.set(LLDP_LOC + (4, port), _s(ifname))
            idx = (0, port, n)
            wrong = self._wrong_far_end(far.device)
            key = f"miscabled:{link.id}"

            def pick(right: bytes, bad: bytes, key: str = key, is_a: bool = is_a):  # noqa: ANN202 - cell
                return lambda now: bad if is_a and key in dev.discrepancies else right

            v.set(LLDP_REM + (4,) + idx, ber.enc_int(4))
            v.set(LLDP_REM + (5,) + idx, pick(_s(mac_of(far.device)), _s(mac_of(wrong))))
            v.set(LLDP_REM + (6,) + idx, ber.enc_int(5))
            v.set(LLDP_REM + (7,) + idx, pick(_s(far.interface), _s("GigabitEthernet0/0/24")))
            v.set(LLDP_REM + (8,) + idx, pick(_s(far.interface), _s("GigabitEthernet0/0/24")))
            v.set(LLDP_REM + (9,) + idx, pick(_s(far.device), _s(wrong)))

    def _wrong_far_end(self, right: str) -> str:
        names = sorted(self.inv.devices)
        return names[(names.index(right) + 1) % len(names)]


def build(dev: SimDevice, inv: Inventory) -> None:
    Builder(dev, inv).build()


def demo_set(inv: Inventory, served: set[str]) -> list[tuple[str, str]]:
    """One discrepancy of each kind on served devices (``serve --discrepancies``, the demo):
    an unknown address and a duplicate on the first county's internal router, a mismatch on
    another county's firewall, a mis-cabled LLDP neighbour on a router-to-router link."""
    def county(d: str) -> bool:
        dev = inv.devices[d]
        return dev.network == "internal" and inv.sites[dev.site].kind == "county"

    routers = sorted(d for d in served if inv.devices[d].role == "router" and county(d))
    out: list[tuple[str, str]] = []
    if routers:
        out += [("addr-unknown", routers[0]), ("addr-duplicate", routers[0])]
        other = sorted(d for d in served if inv.devices[d].role == "firewall" and county(d)
                       and inv.devices[d].site != inv.devices[routers[0]].site)
        if other:
            out.append(("addr-mismatch", other[0]))
    links = sorted(lid for lid, lk in inv.links.items() if lk.a.device in served and lk.b.device in served
                   and inv.devices[lk.a.device].role == inv.devices[lk.b.device].role == "router")
    if links:
        out.append(("lldp-miscabled", links[0]))
    return out
