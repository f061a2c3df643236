"""Sender address -> inventory device, and the profile rules that give its messages meaning."""

from __future__ import annotations

from dataclasses import dataclass

from probes.common.inventory_model import Inventory
from probes.events.rules import Compiled, merged


@dataclass(frozen=True, slots=True)
class Source:
    device: str
    rules: Compiled


class SourceMap:
    """Who sent a packet: the device whose management address (or, with ``sim``, simulated
    127.34.x.y address) it came from.  A device with an explicit profile gets that
    profile's rules; ``auto`` (and unknown profiles) get every profile's rules at once."""

    def __init__(self, inventory: Inventory, rules: dict[str, Compiled], sim: bool = False) -> None:
        self.all_rules = merged(rules)
        self._by_addr: dict[str, Source] = {}
        for name in sorted(inventory.devices):
            dev = inventory.devices[name]
            src = Source(name, rules.get(dev.profile, self.all_rules))
            addr = inventory.sim_address(name) if sim else dev.address
            self._by_addr.setdefault(addr, src)

    def lookup(self, address: str) -> Source | None:
        if address.startswith("::ffff:"):
            address = address[7:]
        return self._by_addr.get(address)
