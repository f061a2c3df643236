"""Addresses as fixed-width big-endian integers, so SQLite orders them like numbers.

Every network and last address is stored as a 16-byte big-endian BLOB (IPv4 in the
low 4 bytes); with the family column beside it, ``ORDER BY network`` is address order
and containment is a range scan on an index.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass

from ipam.errors import BadInput

BITS = {4: 32, 6: 128}


def encode(value: int) -> bytes:
    return value.to_bytes(16, "big")


def decode(blob: bytes) -> int:
    return int.from_bytes(blob, "big")


def to_text(value: int, family: int) -> str:
    return str(ipaddress.IPv4Address(value) if family == 4 else ipaddress.IPv6Address(value))


@dataclass(frozen=True)
class Block:
    """A CIDR block as integers: the unit everything in IPAM is made of."""

    family: int
    network: int
    plen: int

    @property
    def bits(self) -> int:
        return BITS[self.family]

    @property
    def size(self) -> int:
        return 1 << (self.bits - self.plen)

    @property
    def last(self) -> int:
        return self.network + self.size - 1

    @property
    def cidr(self) -> str:
        return f"{to_text(self.network, self.family)}/{self.plen}"

    def contains(self, other: Block) -> bool:
        return self.family == other.family and self.network <= other.network and other.last <= self.last

    def overlaps(self, other: Block) -> bool:
        return self.family == other.family and self.network <= other.last and other.network <= self.last

    def __str__(self) -> str:
        return self.cidr


def parse_prefix(text: object, field: str = "prefix") -> Block:
    """Parse a CIDR strictly: host bits set is an error, not something to fix silently."""
    if not isinstance(text, str) or "/" not in text:
        raise BadInput(field, f"expected a CIDR such as 10.34.0.0/16 or 2001:db8::/32, got {text!r}")
    try:
        net = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError as exc:
        raise BadInput(field, f"not a valid CIDR {text!r}: {exc}") from None
    if int(net.network_address) != int(ipaddress.ip_interface(text.strip()).ip):
        raise BadInput(field, f"{text!r} has host bits set; did you mean {net}?")
    return Block(net.version, int(net.network_address), net.prefixlen)


def parse_address(text: object, field: str = "address") -> tuple[int, int]:
    """(family, integer) of a single address."""
    try:
        addr = ipaddress.ip_address(str(text).strip())
    except ValueError:
        raise BadInput(field, f"not a valid IP address: {text!r}") from None
    return addr.version, int(addr)


def parse_plen(value: object, family: int, field: str = "prefix_length") -> int:
    if isinstance(value, str) and value.lstrip("/").isdigit():
        value = int(value.lstrip("/"))
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= BITS[family]:
        raise BadInput(field, f"expected a prefix length 0..{BITS[family]} for IPv{family}, got {value!r}")
    return value


def plen_for_hosts(hosts: object, family: int, field: str = "hosts") -> int:
    """Smallest block holding ``hosts`` usable addresses (IPv4 loses network and broadcast)."""
    if not isinstance(hosts, int) or isinstance(hosts, bool) or hosts < 1:
        raise BadInput(field, f"expected a positive number of hosts, got {hosts!r}")
    need = hosts + 2 if family == 4 else hosts
    plen = BITS[family] - max(0, math.ceil(math.log2(need)))
    if family == 6:
        plen = min(plen, 64)  # IPv6 LANs are /64 at the smallest
    if plen < 0:
        raise BadInput(field, f"{hosts} hosts is more than IPv{family} holds")
    return plen


def align_up(value: int, size: int) -> int:
    return (value + size - 1) // size * size


def split_range(low: int, high: int, family: int) -> list[Block]:
    """The fewest CIDR blocks exactly covering [low, high] (a free gap, say)."""
    bits = BITS[family]
    out: list[Block] = []
    while low <= high:
        # largest block aligned at ``low`` that does not pass ``high``
        size = low & -low if low else 1 << bits
        while size > high - low + 1:
            size >>= 1
        out.append(Block(family, low, bits - (size.bit_length() - 1)))
        low += size
    return out
