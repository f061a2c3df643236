"""The poll result and the agent's batch as typed records: one definition for agent and centre.

The poller fills a :class:`PollResult` plugin by plugin; the scheduler builds one for a
poll that could not run.  What travels (spool, batch, centre) is :meth:`PollResult.to_dict`,
the JSON object of docs/profiles.md; the centre checks a batch against :class:`Batch`
(``nms.pipeline.validate_batch``), so what the agent writes and what the centre accepts
are the same models.  The parts of a poll are ``TypedDict`` s that allow further keys
(an interface row carries ``descr``, ``alias`` ... that only the pages read).

A plugin that fails after the device answered leaves the poll ``ok`` and names itself in
``failed`` (``[{"plugin", "error"}]``); its part of the result is simply absent.  Only a
device that does not answer (timeout, auth, identity) fails the whole poll.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, NotRequired

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from typing_extensions import TypedDict

from probes.common.validation import Counter, Flag, Num, Text, problem

LAST_PLAUSIBLE_TS = 4102444800  # 2100-01-01: later is not a clock running ahead but a unit error
FIRST_PLAUSIBLE_TS = 946684800  # 2000-01-01
MAX_SAMPLES = 20000
EPOCH_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
IfStatus = Literal["up", "down", "testing", "unknown", "dormant", "notPresent", "lowerLayerDown"]
_OPEN = ConfigDict(extra="allow", strict=True)


def _plausible(ts: float) -> float:
    if not FIRST_PLAUSIBLE_TS <= ts <= LAST_PLAUSIBLE_TS:
        raise problem(f"{ts:g} is not a plausible Unix time")
    return ts


def _epoch(epoch: str) -> str:
    if epoch and not EPOCH_RE.match(epoch):
        raise problem(f"expected 1-64 letters, digits, '-' or '_', got {epoch!r:.40}")
    return epoch


def _percent(v: float | None) -> float | None:
    if v is not None and not 0 <= v <= 100:
        raise problem(f"{v:g} is not between 0 and 100")
    return v


class Interface(TypedDict):
    """One interface row; counters are exact non-negative integers, rates and speed numbers."""

    __pydantic_config__ = _OPEN  # type: ignore[misc]
    name: Text
    index: NotRequired[Num | None]
    admin: NotRequired[IfStatus | None]
    oper: NotRequired[IfStatus | None]
    in_octets: NotRequired[Counter | None]
    out_octets: NotRequired[Counter | None]
    in_ucast_pkts: NotRequired[Counter | None]
    out_ucast_pkts: NotRequired[Counter | None]
    in_errors: NotRequired[Counter | None]
    out_errors: NotRequired[Counter | None]
    in_discards: NotRequired[Counter | None]
    out_discards: NotRequired[Counter | None]
    in_bps: NotRequired[Num | None]
    out_bps: NotRequired[Num | None]
    speed_bps: NotRequired[Num | None]


class Icmp(TypedDict):
    """The agent's ping of the device (added by the agent beside the SNMP poll)."""

    __pydantic_config__ = _OPEN  # type: ignore[misc]
    alive: Flag
    rtt_ms: NotRequired[Num | None]
    loss_pct: NotRequired[Annotated[Num | None, AfterValidator(_percent)]]


class Identity(TypedDict, total=False):
    __pydantic_config__ = _OPEN  # type: ignore[misc]
    uptime_s: Num | None


class Tunnel(TypedDict):
    __pydantic_config__ = _OPEN  # type: ignore[misc]
    state: Literal["up", "down", "unknown"]


class SdhBucket(TypedDict):
    """One 15-minute performance interval of an SDH port."""

    __pydantic_config__ = _OPEN  # type: ignore[misc]
    interval_end: Num
    es: NotRequired[Num | None]
    ses: NotRequired[Num | None]
    uas: NotRequired[Num | None]
    section: NotRequired[dict[str, Num | None] | None]
    line: NotRequired[dict[str, Num | None] | None]
    path: NotRequired[dict[str, Num | None] | None]


class SdhPort(TypedDict):
    __pydantic_config__ = _OPEN  # type: ignore[misc]
    ifIndex: Num
    section_status: NotRequired[list[str] | None]
    line_status: NotRequired[list[str] | None]
    path_status: NotRequired[list[str] | None]
    buckets: NotRequired[list[SdhBucket] | None]


class IfAddress(TypedDict):
    """An address configured on the device (ipAddrTable / ipAddressTable)."""

    __pydantic_config__ = _OPEN  # type: ignore[misc]
    address: Text
    plen: NotRequired[Num | None]
    if_index: NotRequired[Num | None]
    ifname: NotRequired[str | None]


class Neighbour(TypedDict):
    """An ARP or IPv6 neighbour row: an address the device reached at a MAC."""

    __pydantic_config__ = _OPEN  # type: ignore[misc]
    address: Text
    mac: Text
    if_index: NotRequired[Num | None]
    ifname: NotRequired[str | None]


class LldpNeighbour(TypedDict):
    """An LLDP remote system seen on one local port."""

    __pydantic_config__ = _OPEN  # type: ignore[misc]
    local_port: Text
    remote_name: NotRequired[str | None]
    remote_port: NotRequired[str | None]
    remote_chassis: NotRequired[str | None]


class AddressTables(TypedDict):
    """The ``addresses`` part: read once per address interval (absent in the polls between)."""

    __pydantic_config__ = _OPEN  # type: ignore[misc]
    interface: list[IfAddress]
    arp: list[Neighbour]
    lldp: list[LldpNeighbour]
    rows: NotRequired[Counter]
    bad: NotRequired[Counter]


class PluginFailure(TypedDict):
    """A plugin that failed while the device answered: the rest of the poll stands."""

    __pydantic_config__ = ConfigDict(strict=True)  # type: ignore[misc]
    plugin: Text
    error: str


class PollResult(BaseModel):
    """One device, one poll.  ``failed_plugin`` says which plugin was running when the whole
    poll failed; it is for logs and tests and does not travel (the wire carries ``error``)."""

    model_config = ConfigDict(strict=True)

    device: Text
    ts: Annotated[Num, AfterValidator(_plausible)]
    ok: Flag
    error: str | None = None
    duration_s: Num | None = 0.0
    profile: str | None = None
    identity: Identity | None = Field(default_factory=dict)  # type: ignore[arg-type]
    interfaces: list[Interface] | None = Field(default_factory=list)
    health: dict[str, Num | None] | None = Field(default_factory=dict)
    sessions: Num | None = None
    tunnels: list[Tunnel] | None = Field(default_factory=list)
    sdh: list[SdhPort] | None = Field(default_factory=list)
    failed: list[PluginFailure] = Field(default_factory=list)
    icmp: Icmp | None = None
    # taken out of turn to check what the device said on its own (a trap, a syslog line) or what
    # the fast reachability probe saw: the second witness, so the centre needs no second poll
    confirm: str | None = None
    addresses: AddressTables | None = None
    failed_plugin: str | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _names_unique(self) -> PollResult:
        """The centre keys interfaces by name, so a name may appear once."""
        seen: set[str] = set()
        for i, itf in enumerate(self.interfaces or ()):
            if itf["name"] in seen:
                raise problem(f"{itf['name']!r} appears twice", "interfaces", i, "name")
            seen.add(itf["name"])
        return self

    def fail(self, error: str, plugin: str | None = None) -> None:
        """A failed poll reports no data at all: half a device's tables would read as a change."""
        self.ok, self.error, self.failed_plugin = False, error, plugin
        self.identity, self.interfaces, self.health = {}, [], {}  # type: ignore[typeddict-item]
        self.sessions, self.tunnels, self.sdh, self.failed = None, [], [], []
        self.addresses = None

    def part_failed(self, plugin: str, error: str) -> None:
        """``plugin`` could not read its part; the device answered, so the poll stays ok."""
        self.failed.append({"plugin": plugin, "error": error})

    def to_dict(self) -> dict[str, Any]:
        """The JSON object on the wire (docs/profiles.md, "The poll result")."""
        out = {
            "device": self.device,
            "ts": self.ts,
            "ok": self.ok,
            "error": self.error,
            "duration_s": self.duration_s,
            "profile": self.profile,
            "identity": self.identity,
            "interfaces": self.interfaces,
            "health": self.health,
            "sessions": self.sessions,
            "tunnels": self.tunnels,
            "sdh": self.sdh,
            "failed": self.failed,
        }
        if self.icmp is not None:
            out["icmp"] = self.icmp
        if self.confirm is not None:
            out["confirm"] = self.confirm
        if self.addresses is not None:
            out["addresses"] = self.addresses
        return out


class Batch(BaseModel):
    """What an agent POSTs to ``/api/v1/ingest``: its spool's ``epoch``, a ``seq`` and results."""

    model_config = ConfigDict(strict=True)

    agent: Text
    epoch: Annotated[str, AfterValidator(_epoch)] = ""
    seq: Counter
    samples: list[PollResult]
    # traps and syslog (probes.events.model.Event.as_dict); the centre checks each one itself
    events: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_SAMPLES)
