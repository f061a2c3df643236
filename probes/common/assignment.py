"""One agent's assignment: what the centre hands an agent (``GET /api/v1/agents/<name>/config``).

The centre builds it from its inventory (:func:`assignment_of`); a stand-alone agent builds
the same from its own ``--inventory``, so both run one code path.  It holds, for that agent
only: its sites, its devices (address, port, interval, profile, credential name, ...), the
credential *references* those devices use (variable names, SNMPv3 user and protocols) and
per device what the agent could not work out without other agents' devices: the addresses
of its expected tunnel peers, whether it ends a WAN circuit, its simulated address.

No secret value ever travels: communities and SNMPv3 keys stay in each node's secrets file
or environment (``probes.common.secrets``), as with a local inventory.  The agent validates
an answer whole (:func:`decode`, pydantic, every field checked) and refuses a corrupt or
truncated one; ``ETag`` is the SHA-256 of the exact body, so the agent also checks that what
it read is what the centre sent.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from probes.common import topology, validation
from probes.common.inventory_fields import CredentialFields, PortalFields
from probes.common.inventory_model import AgentDef, CredentialRef, Device, Inventory, Portal, Site

__all__ = ["FORMAT", "Assignment", "AssignmentError", "assignment_of", "decode", "encode", "etag_of"]

FORMAT = 1
WAN_LINK_KINDS = ("sdh-stm1", "mstp")
Name = Annotated[str, Field(min_length=1, max_length=200)]
_STRICT = ConfigDict(extra="forbid", frozen=True)


class AssignmentError(ValueError):
    """An answer that is not a valid assignment for this agent; the message names the field."""


class AssignedSite(BaseModel):
    model_config = _STRICT
    id: Name
    name_zh: str
    name_pinyin: str
    code: str
    kind: Literal["province", "city", "county", "department"]
    parent: str | None
    lat: float
    lon: float
    prefixes: tuple[tuple[Literal["internal", "external"], str], ...] = ()


# A credential reference: names of variables, never their values (the inventory's own model).
AssignedCredential = CredentialFields
# A portal this agent probes (docs/portals.md), checked by the inventory's own model.
AssignedPortal = PortalFields


class AssignedDevice(BaseModel):
    model_config = _STRICT
    name: Name
    site: Name
    role: Literal["router", "firewall", "cipher", "switch", "server"]
    vendor: str
    model: str
    profile: str
    address: Name
    credential: Name
    interval_s: Annotated[int, Field(gt=0)]
    port: Annotated[int, Field(ge=1, le=65535)]
    network: Literal["internal", "external"] = "internal"
    interfaces: tuple[str, ...] = ()
    tunnel_peers: tuple[str, ...] = ()  # those among this agent's own devices
    expected_peers: tuple[str, ...] = ()  # addresses of the tunnel peers, as the device reports them
    wan_end: bool = False  # ends a carrier circuit: pinged more often
    wan_interfaces: tuple[str, ...] = ()  # its interfaces at those circuits' ends (reachability probe)
    # where the simulated province serves it (used with --sim-port only)
    sim_address: Annotated[str, Field(pattern=r"^(127\.34\.\d{1,3}\.\d{1,3})?$")] = ""


class Assignment(BaseModel):
    model_config = _STRICT
    format: Literal[1]
    agent: Name
    token_env: str
    agent_sites: tuple[Name, ...]
    sites: tuple[AssignedSite, ...]
    credentials: tuple[AssignedCredential, ...]
    devices: tuple[AssignedDevice, ...]
    portals: tuple[AssignedPortal, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Assignment:
        """Every reference resolves inside the assignment; names are unique."""
        creds = {c.name for c in self.credentials}
        sites = {s.id for s in self.sites}
        names: set[str] = set()
        for i, d in enumerate(self.devices):
            if d.name in names:
                raise ValueError(f"devices[{i}].name: duplicate device {d.name!r}")
            names.add(d.name)
            if d.credential not in creds:
                raise ValueError(f"devices[{i}].credential: {d.credential!r} is not in credentials")
            if d.site not in self.agent_sites:
                raise ValueError(f"devices[{i}].site: {d.site!r} is not one of this agent's sites")
        missing = [s for s in self.agent_sites if s not in sites]
        if missing:
            raise ValueError(f"agent_sites: {missing[0]!r} is not in sites")
        return self

    def inventory(self) -> Inventory:
        """The agent's part of the inventory (its sites, devices, credentials and itself)."""
        inv = Inventory(source=f"centre assignment of {self.agent}")
        inv.sites = {s.id: Site(**s.model_dump()) for s in self.sites}
        inv.credentials = {c.name: CredentialRef(**c.model_dump()) for c in self.credentials}
        extra = ("expected_peers", "wan_end", "wan_interfaces", "sim_address")
        inv.devices = {d.name: Device(**d.model_dump(exclude=set(extra))) for d in self.devices}
        inv.agents = {self.agent: AgentDef(self.agent, self.agent_sites, self.token_env)}
        inv.portals = {p.id: Portal(**_tuples(p.model_dump())) for p in self.portals}
        # sim_address() counts devices of the whole inventory; give it the centre's answer
        inv._ordinals = {d.name: _ordinal(d.sim_address) for d in self.devices if d.sim_address}
        return inv


def assignment_of(inventory: Inventory, agent: str) -> Assignment:
    """The assignment of ``agent`` (a KeyError if the inventory has no such agent)."""
    adef = inventory.agents[agent]
    expected = topology.build(inventory).peers
    wan = wan_interfaces(inventory)
    devices = sorted(inventory.devices_of_agent(agent), key=lambda d: d.name)
    mine = {d.name for d in devices}
    used = sorted({d.credential for d in devices if d.credential in inventory.credentials})
    sites = [inventory.sites[s] for s in adef.sites if s in inventory.sites]
    return Assignment(
        format=FORMAT,
        agent=agent,
        token_env=adef.token_env,
        agent_sites=tuple(s.id for s in sites),
        sites=tuple(AssignedSite(**_fields(AssignedSite, s)) for s in sites),
        credentials=tuple(
            AssignedCredential(**_fields(AssignedCredential, inventory.credentials[c])) for c in used
        ),
        devices=tuple(
            AssignedDevice(
                **{
                    **_fields(AssignedDevice, d),
                    "tunnel_peers": tuple(p for p in d.tunnel_peers if p in mine),  # same order each time
                },
                expected_peers=tuple(inventory.devices[p].address for p in expected.get(d.name, ())),
                wan_end=d.name in wan,
                wan_interfaces=tuple(sorted(wan.get(d.name, ()))),
                sim_address=inventory.sim_address(d.name),
            )
            for d in devices
            if d.credential in inventory.credentials
        ),
        portals=tuple(
            AssignedPortal(
                **{k: list(v) if isinstance(v, tuple) else v for k, v in _fields(AssignedPortal, p).items()}
            )
            for p in sorted(inventory.portals_of_agent(agent), key=lambda p: p.id)
        ),
    )


def _tuples(fields: dict[str, object]) -> dict[str, object]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}


def _ordinal(sim_address: str) -> int:
    """127.34.x.y -> the position Inventory.sim_address gave it (x * 250 + y - 1)."""
    parts = sim_address.split(".")
    return int(parts[2]) * 250 + int(parts[3]) - 1


def _fields(model: type[BaseModel], obj: object) -> dict[str, object]:
    """The attributes of an inventory dataclass that the model has a field for."""
    return {k: getattr(obj, k) for k in model.model_fields if hasattr(obj, k)}


def wan_ends(inventory: Inventory) -> set[str]:
    """Devices at an end of a carrier circuit (SDH, MSTP, a leased metro line): pinged more often."""
    return set(wan_interfaces(inventory))


def wan_interfaces(inventory: Inventory) -> dict[str, set[str]]:
    """{device: its interfaces at a carrier circuit's end}: what the fast reachability probe reads."""
    out: dict[str, set[str]] = {}
    for link in inventory.links.values():
        if link.kind in WAN_LINK_KINDS or link.circuit_id not in ("", "-"):
            for end in (link.a, link.b):
                out.setdefault(end.device, set()).add(end.interface)
    return out


def encode(assignment: Assignment) -> bytes:
    """Canonical JSON (sorted keys): the same assignment always gives the same bytes and ETag."""
    return json.dumps(
        assignment.model_dump(mode="json"), ensure_ascii=False, sort_keys=True, separators=(",", ":")
    ).encode("utf-8")


def etag_of(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def decode(body: bytes, agent: str, etag: str | None = None) -> Assignment:
    """Parse and validate an answer for ``agent``; raise :class:`AssignmentError` naming what is wrong.

    ``etag`` (the answer's, quotes and ``W/`` allowed) must be the SHA-256 of ``body``:
    a body cut short or altered on the way is refused even when it still parses.
    """
    if etag is not None:
        want = etag.removeprefix("W/").strip('"')
        if want != etag_of(body):
            raise AssignmentError(
                f"body of {len(body)} bytes does not match its ETag (truncated or altered on the way)"
            )
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise AssignmentError(f"not valid JSON ({exc})") from None
    try:
        assignment = Assignment.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        where = validation.path(err["loc"], "config")
        raise AssignmentError(f"{where}: {validation.message(err)}{more}") from None
    if assignment.agent != agent:
        raise AssignmentError(f"agent: the answer is for {assignment.agent!r}, not {agent!r}")
    return assignment
