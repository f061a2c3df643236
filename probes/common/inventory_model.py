"""The province's network as data: the dataclasses that ``inventory.yaml`` loads into.

Loading and validation live in :mod:`probes.common.inventory`; this module only says what a
site, device, link, credential reference and agent are, so every other part
(simulator, agent, centre, alerts, IPAM, dashboards) shares one vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

SiteKind = Literal["province", "city", "county", "department"]
DeviceRole = Literal["router", "firewall", "cipher", "switch", "server"]
LinkKind = Literal["sdh-stm1", "fibre-ge", "mstp", "ethernet", "ipsec"]
Network = Literal["internal", "external"]  # 专网 internal, 外网 external

SITE_KINDS = ("province", "city", "county", "department")
DEVICE_ROLES = ("router", "firewall", "cipher", "switch", "server")
LINK_KINDS = ("sdh-stm1", "fibre-ge", "mstp", "ethernet", "ipsec")
NETWORKS = ("internal", "external")


@dataclass(frozen=True)
class Site:
    id: str  # stable slug, e.g. "hefei", "hefei-feidong"
    name_zh: str
    name_pinyin: str
    code: str  # administrative division code, e.g. "340100"
    kind: SiteKind
    parent: str | None  # id of the parent site; None only for the province
    lat: float
    lon: float
    line: int = 0  # line in inventory.yaml, for error messages
    # management prefixes per network space: (("internal", "10.34.1.0/24"), ("external", ...))
    prefixes: tuple[tuple[Network, str], ...] = ()


@dataclass(frozen=True)
class Device:
    name: str
    site: str
    role: DeviceRole
    vendor: str  # huawei, h3c, ruijie, zte, hillstone, topsec, venustech, sangfor, cipher, ...
    model: str
    profile: str  # profile name or "auto"
    address: str  # management address as in the real network; never contacted from here
    credential: str  # name of an entry in Inventory.credentials
    interval_s: int = 60
    port: int = 161
    interfaces: tuple[str, ...] = ()
    tunnel_peers: tuple[str, ...] = ()  # device names this cipher/firewall must have tunnels to
    line: int = 0
    network: Network = "internal"  # address space of `address` (专网 internal / 外网 external)
    ssh_credential: str | None = None  # name of an Inventory.ssh_credentials entry (config backup)


@dataclass(frozen=True)
class LinkEnd:
    device: str
    interface: str


@dataclass(frozen=True)
class Link:
    id: str
    a: LinkEnd
    b: LinkEnd  # a is the end nearer the provincial centre
    kind: LinkKind
    capacity_bps: int
    circuit_id: str
    network: Network
    line: int = 0


@dataclass(frozen=True)
class CredentialRef:
    """Names a credential; the secret values come from env vars or the secrets file."""

    name: str
    version: Literal["v1", "v2c", "v3"]
    community_env: str | None = None  # v1/v2c: env var / secrets-file key holding the community
    user: str | None = None  # v3
    auth_proto: str | None = None  # MD5, SHA, SHA224, SHA256, SHA384, SHA512
    auth_key_env: str | None = None
    priv_proto: str | None = None  # DES, AES, AES192, AES256, AES192C, AES256C (Cisco/Blumenthal)
    priv_key_env: str | None = None
    line: int = 0


@dataclass(frozen=True)
class SshCredentialRef:
    """An SSH login for configuration backup: a username and *where* its secret is.

    ``password_env`` / ``enable_env`` name an environment variable or secrets-file key,
    ``key_file`` a private key file on the centre; the values never appear here.
    """

    name: str
    username: str
    password_env: str | None = None
    key_file: str | None = None
    enable_env: str | None = None  # env var / secrets-file key of the enable secret, if the device asks
    default: bool = False  # the login of every device that names no ``ssh_credential``
    line: int = 0


@dataclass(frozen=True)
class AgentDef:
    name: str
    sites: tuple[str, ...]  # site ids; each covers its own devices only (not the subtree)
    token_env: str  # env var holding this agent's token (the centre stores only a hash)
    line: int = 0


@dataclass
class Inventory:
    sites: dict[str, Site] = field(default_factory=dict)
    devices: dict[str, Device] = field(default_factory=dict)
    links: dict[str, Link] = field(default_factory=dict)
    credentials: dict[str, CredentialRef] = field(default_factory=dict)
    agents: dict[str, AgentDef] = field(default_factory=dict)
    ssh_credentials: dict[str, SshCredentialRef] = field(default_factory=dict)
    source: str = "inventory.yaml"
    # device name -> ordinal in sorted order; rebuilt when the device set changes
    _ordinals: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    def sim_address(self, device_name: str) -> str:
        """Loopback address the simulated province serves this device on (127.34.x.y).

        Stable: from the device's position in the sorted list of device names. Raises
        KeyError for an unknown device.
        """
        if self._ordinals.keys() != self.devices.keys():  # devices added/removed since last call
            self._ordinals = {name: i for i, name in enumerate(sorted(self.devices))}
        ordinal = self._ordinals[device_name]
        return f"127.34.{ordinal // 250}.{ordinal % 250 + 1}"

    def ssh_credential_for(self, device_name: str) -> SshCredentialRef | None:
        """The device's own ``ssh_credential``, else the default one, else None."""
        named = self.devices[device_name].ssh_credential
        if named is not None:
            return self.ssh_credentials.get(named)
        return next((c for c in self.ssh_credentials.values() if c.default), None)

    def children(self, site_id: str) -> list[Site]:
        return [s for s in self.sites.values() if s.parent == site_id]

    def ancestors(self, site_id: str) -> list[str]:
        """Site ids from the given site up to the province, inclusive."""
        out: list[str] = []
        cur: str | None = site_id
        while cur is not None:
            out.append(cur)
            cur = self.sites[cur].parent
        return out

    def subtree(self, site_id: str) -> set[str]:
        """The site and every site below it."""
        result = {site_id}
        frontier = [site_id]
        while frontier:
            cur = frontier.pop()
            for child in self.children(cur):
                if child.id not in result:
                    result.add(child.id)
                    frontier.append(child.id)
        return result

    def devices_of_agent(self, agent: str) -> list[Device]:
        sites = set(self.agents[agent].sites)
        return [d for d in self.devices.values() if d.site in sites]
