"""Subject ids: the one grammar of what states, alerts and maintenance windows are about.

Rows and APIs keep a subject as (kind, text); the text of each kind is

==============  ===========================  ============================================
kind            text                         split
==============  ===========================  ============================================
device          ``<device>``
interface       ``<device>:<interface>``     at the first ``:`` (``Serial1/0:0`` keeps its ``:``)
tunnel          ``<device>><peer>``          at the first ``>`` (a peer is a device name or an
                                             address, an IPv6 one has ``:``)
link            ``<link id>``
site            ``<site>``
site_network    ``<site>/<network>``         at the last ``/`` (networks: internal, external)
agent           ``<agent>``
==============  ===========================  ============================================

Device names never hold ``:``, ``>`` or ``/`` (the inventory's name rule), so splitting at
the first separator is exact and ``Subject.parse(kind, str(s)) == s`` for every subject.
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("device", "interface", "link", "tunnel", "site", "site_network", "agent")
DEVICE_KINDS = ("device", "interface", "tunnel")  # subjects of one device (its name first)
_SEP = {"interface": ":", "tunnel": ">", "site_network": "/"}
_PART = {"interface": "interface", "tunnel": "peer", "site_network": "network"}


@dataclass(frozen=True, slots=True)
class Subject:
    """One subject: ``name`` is the device, link, site or agent; ``part`` the interface,
    tunnel peer or network of the kinds that have one (None otherwise)."""

    kind: str
    name: str
    part: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"subject kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        if not self.name:
            raise ValueError(f"{self.kind} subject: empty name")
        sep = _SEP.get(self.kind)
        if sep is None:
            if self.part is not None:
                raise ValueError(f"{self.kind} subject {self.name!r}: has no part ({self.part!r})")
            return
        if not self.part:
            raise ValueError(f"{self.kind} subject {self.name!r}: empty {_PART[self.kind]}")
        # the side the text is split on must not hold the separator (else parse would differ)
        if sep in (self.part if self.kind == "site_network" else self.name):
            raise ValueError(f"{self.kind} subject {str(self)!r}: {sep!r} inside the name")

    @classmethod
    def parse(cls, kind: str, text: str) -> Subject:
        """The subject of a stored (kind, text) pair; ValueError naming what is wrong."""
        sep = _SEP.get(kind)
        if sep is None:
            return cls(kind, text)
        name, found, part = text.rpartition(sep) if kind == "site_network" else text.partition(sep)
        if not found:
            raise ValueError(f"{kind} subject {text!r}: expected {_form(kind)}")
        return cls(kind, name, part)

    @classmethod
    def parse_ref(cls, ref: str) -> Subject:
        """``kind:text`` (an API's ``subject=`` argument, the audit log's subject)."""
        kind, found, text = ref.partition(":")
        if not found or not text:
            raise ValueError(f"subject {ref!r}: expected kind:id, e.g. device:hefei-int-rtr1")
        return cls.parse(kind, text)

    def __str__(self) -> str:
        return self.name if self.part is None else f"{self.name}{_SEP[self.kind]}{self.part}"

    @property
    def ref(self) -> str:
        """``kind:text``, the inverse of :meth:`parse_ref`."""
        return f"{self.kind}:{self}"

    @property
    def key(self) -> tuple[str, str]:
        """(kind, text) as rows store it."""
        return (self.kind, str(self))

    @property
    def device(self) -> str | None:
        """The one device a device, interface or tunnel subject belongs to (None for the rest)."""
        return self.name if self.kind in DEVICE_KINDS else None


def interface(device: str, name: str) -> str:
    """Text of an interface subject (no object built: called per interface per poll)."""
    return f"{device}{_SEP['interface']}{name}"


def tunnel(device: str, peer: str) -> str:
    """Text of a tunnel subject."""
    return f"{device}{_SEP['tunnel']}{peer}"


def site_network(site: str, network: str) -> str:
    """Text of a site network subject."""
    return f"{site}{_SEP['site_network']}{network}"


def device_of(kind: str, text: str) -> str | None:
    """:attr:`Subject.device` of a stored pair without building the object (per-batch loops)."""
    sep = _SEP.get(kind)
    if kind == "device":
        return text
    return text.partition(sep)[0] if kind in DEVICE_KINDS and sep else None


def _form(kind: str) -> str:
    return f"<{'site' if kind == 'site_network' else 'device'}>{_SEP[kind]}<{_PART[kind]}>"
