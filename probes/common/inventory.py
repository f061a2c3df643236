"""Load and validate ``inventory.yaml`` into :class:`probes.common.inventory_model.Inventory`.

Loading is pure and all-or-nothing: it reads the file, collects *every* problem as
``file:line: field: problem`` and either returns a brand-new ``Inventory`` or raises
:class:`InventoryError` -- nothing that was loaded before is touched. Line numbers come
from the YAML nodes (:mod:`probes.common.yamlpos`, libyaml when available, so the
1,000-device file loads in well under a second).  What one field says about itself is
checked by its section's pydantic model (:mod:`probes.common.inventory_fields`); this
module walks the nodes and checks what entries say about each other.
"""

from __future__ import annotations

import gc
import ipaddress
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from probes.common import validation, yamlpos
from probes.common.inventory_fields import (
    NATIVE_ERRORS,
    AgentFields,
    CredentialFields,
    DeviceFields,
    LinkFields,
    SiteFields,
    SshCredentialFields,
    as_int,
    as_strlist,
    describe,
)
from probes.common.inventory_model import (
    NETWORKS,
    AgentDef,
    CredentialRef,
    Device,
    Inventory,
    Link,
    LinkEnd,
    Site,
    SshCredentialRef,
)
from probes.snmp.credential import CredentialFieldError, auth_protocol, priv_protocol

__all__ = ["InventoryError", "load_inventory"]

TOP_LEVEL = ("version", "credentials", "ssh_credentials", "sites", "devices", "links", "agents")
SUPPORTED_VERSION = 1
# Field names that would carry a secret value; the inventory must only name env vars.
SECRET_FIELDS = ("community", "auth_key", "priv_key", "password", "secret", "token", "key")


class InventoryError(Exception):
    """The inventory is invalid; ``errors`` lists every problem as ``file:line: field: problem``."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        super().__init__(f"{len(self.errors)} inventory error(s):\n" + "\n".join(self.errors))


def load_inventory(path: str | Path) -> Inventory:
    """Read, validate and return a new Inventory, or raise InventoryError listing every problem."""
    fname = str(path)
    collecting = gc.isenabled()
    gc.disable()  # tens of thousands of acyclic nodes: the cycle collector would cost a third
    try:
        root = yamlpos.compose(yamlpos.read(path))
        inv = _Validator(fname).run(root)
    except yamlpos.YamlError as exc:
        raise InventoryError([f"{fname}:{exc.line}: {exc.message}"]) from None
    finally:
        if collecting:
            gc.enable()
    inv.source = fname
    return inv


# ---------------------------------------------------------------------------- helpers

_line = yamlpos.line
_scalar = yamlpos.scalar


def _value(node: Node, depth: int = 0) -> Any:
    """A field's value from its node, as ``yaml.safe_load`` would give it; fields are flat, so
    anything nested deeper than a few levels (a recursive alias) reads as an empty list."""
    if isinstance(node, ScalarNode):
        return _scalar(node)
    if depth > 3:
        return []
    if isinstance(node, SequenceNode):
        return [_value(item, depth + 1) for item in node.value]
    if isinstance(node, MappingNode):
        return {
            _scalar(k) if isinstance(k, ScalarNode) else None: _value(v, depth + 1) for k, v in node.value
        }
    return None


def _describe(node: Node) -> str:
    return describe(_value(node))


_ADAPTERS: dict[tuple[type, str], TypeAdapter] = {}


def _field_adapter(model: type[BaseModel], name: str) -> TypeAdapter:
    """One field of a model on its own, for the good fields of an entry that has a bad one."""
    key = (model, name)
    if key not in _ADAPTERS:
        info = model.model_fields[name]
        kind = Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
        _ADAPTERS[key] = TypeAdapter(kind)  # type: ignore[arg-type]
    return _ADAPTERS[key]


class _Entry:
    """One mapping from the YAML with its fields, label for messages and line."""

    def __init__(self, node: MappingNode, label: str) -> None:
        self.node = node
        self.label = label
        self.line = _line(node)
        self.fields: dict[str, tuple[Node, Node]] = {}


class _Validator:
    """Walks the composed YAML, converts it into model objects and collects errors."""

    def __init__(self, fname: str) -> None:
        self.fname = fname
        self.errors: list[tuple[int, str]] = []
        # names declared in each section, valid or not: a reference to an entry that is itself
        # invalid is not reported again (its own error says what is wrong)
        self.declared: dict[str, set[str]] = {}
        self.prefix_lines: dict[tuple[str, str, str], int] = {}  # (site label, network, cidr) -> line

    def err(self, line: int, field: str, problem: str) -> None:
        self.errors.append((line, f"{self.fname}:{line}: {field}: {problem}"))

    # ------------------------------------------------------------------ generic field access

    def entries(self, root: dict[str, tuple[Node, Node]], section: str, key_field: str) -> list[_Entry]:
        if section not in root:
            return []
        _, node = root[section]
        if isinstance(node, ScalarNode) and _scalar(node) is None:
            return []
        if not isinstance(node, SequenceNode):
            self.err(_line(node), section, f"expected a list, got {_describe(node)}")
            return []
        out = []
        declared = self.declared.setdefault(section, set())
        for i, item in enumerate(node.value):
            if not isinstance(item, MappingNode):
                self.err(_line(item), f"{section}[{i}]", f"expected a mapping, got {_describe(item)}")
                continue
            label = f"{section}[{i}]"
            for knode, vnode in item.value:
                if (
                    isinstance(knode, ScalarNode)
                    and knode.value == key_field
                    and isinstance(vnode, ScalarNode)
                ):
                    if vnode.value:
                        label = f"{section}[{vnode.value}]"
                        declared.add(vnode.value)
                    break
            fields = self.mapping(item, label)
            entry = _Entry(item, label)
            entry.fields = fields
            out.append(entry)
        return out

    def mapping(self, node: MappingNode, label: str) -> dict[str, tuple[Node, Node]]:
        out: dict[str, tuple[Node, Node]] = {}
        for knode, vnode in node.value:
            key = _scalar(knode) if isinstance(knode, ScalarNode) else None
            if not isinstance(key, str):
                self.err(_line(knode), label, f"keys must be strings, got {_describe(knode)}")
                continue
            if key in out:
                self.err(
                    _line(knode), f"{label}.{key}", f"duplicate key (first at line {_line(out[key][0])})"
                )
                continue
            out[key] = (knode, vnode)
        return out

    def fields(self, e: _Entry, model: type[BaseModel]) -> dict[str, Any]:
        """The entry's fields checked by its section's model; a field in error reads as None.

        Every problem is recorded on the line of its field (the entry's line for a missing
        one); a field that looks like an inline secret is refused before the model sees it.
        """
        raw: dict[str, Any] = {}
        for key, (knode, vnode) in e.fields.items():
            if key in SECRET_FIELDS or key.endswith(("_key", "_password", "_secret", "_token")):
                self.err(
                    yamlpos.line(knode),
                    f"{e.label}.{key}",
                    f"secret given inline; secrets must come from the environment or the secrets "
                    f"file: name the variable in {key}_env",
                )
            else:
                raw[key] = _value(vnode)
        try:
            return dict(model.model_validate(raw).__dict__)
        except ValidationError as exc:
            bad = set()
            for err in exc.errors(include_url=False):
                loc, key = err["loc"], err["loc"][0] if err["loc"] else None
                info = model.model_fields.get(str(key))
                if err["type"] in NATIVE_ERRORS and info is not None and info.description:
                    text = f"expected {info.description}, got {describe(err['input'])}"
                else:
                    text = validation.message(err)
                    loc = (*loc, *((err.get("ctx") or {}).get("at") or ()))
                self.err(self.line_of(e, str(key)), validation.path(loc, e.label), text)
                bad.add(key)
        out: dict[str, Any] = {}
        for name, info in model.model_fields.items():
            if name in bad or (name not in raw and info.is_required()):
                out[name] = None
            elif name in raw:
                out[name] = _field_adapter(model, name).validate_python(raw[name])
            else:
                out[name] = info.get_default(call_default_factory=True)
        return out

    def unknown(self, section: str, ref: str, known: dict[str, Any]) -> bool:
        """True when `ref` names no valid entry of `section`; only undeclared names need an error."""
        return ref not in known and ref not in self.declared.get(section, ())

    def line_of(self, e: _Entry, key: str) -> int:
        return _line(e.fields[key][1]) if key in e.fields else e.line

    def protocol(self, e: _Entry, key: str, value: str) -> None:
        """An SNMPv3 protocol name from the one table of names (:mod:`probes.snmp.credential`)."""
        try:
            auth_protocol(value) if key == "auth_proto" else priv_protocol(value)
        except CredentialFieldError as exc:
            self.err(self.line_of(e, key), f"{e.label}.{key}", exc.problem)

    # ------------------------------------------------------------------ sections

    def run(self, root_node: Node | None) -> Inventory:
        if root_node is None:
            self.err(1, "inventory", "file is empty")
            self.raise_if_errors()
        if not isinstance(root_node, MappingNode):
            self.err(
                _line(root_node), "inventory", f"expected a mapping at top level, got {_describe(root_node)}"
            )
            self.raise_if_errors()
        root = self.mapping(root_node, "inventory")
        for key, (knode, _) in root.items():
            if key not in TOP_LEVEL:
                self.err(_line(knode), key, f"unknown top-level key (expected: {', '.join(TOP_LEVEL)})")
        for key in ("version", "sites", "devices"):
            if key not in root:
                self.err(_line(root_node), key, "required top-level key missing")
        if "version" in root:
            vnode = root["version"][1]
            if as_int(_value(vnode)) != SUPPORTED_VERSION:
                self.err(_line(vnode), "version", f"unsupported version {vnode.value!r} (expected 1)")

        inv = Inventory()
        self.credentials(self.entries(root, "credentials", "name"), inv)
        self.ssh_credentials(self.entries(root, "ssh_credentials", "name"), inv)
        self.sites(self.entries(root, "sites", "id"), inv)
        self.devices(self.entries(root, "devices", "name"), inv)
        self.links(self.entries(root, "links", "id"), inv)
        self.agents(self.entries(root, "agents", "name"), inv)
        self.raise_if_errors()
        return inv

    def raise_if_errors(self) -> None:
        if self.errors:
            self.errors.sort(key=lambda t: t[0])
            raise InventoryError([msg for _, msg in self.errors])

    def credentials(self, entries: list[_Entry], inv: Inventory) -> None:
        for e in entries:
            vals = self.fields(e, CredentialFields)
            name, version = vals.pop("name"), vals.pop("version")
            ok = version is not None
            if ok and version in ("v1", "v2c") and not {"community_env", "community"} & e.fields.keys():
                self.err(e.line, f"{e.label}.community_env", f"required for SNMP {version}")
            if ok and version == "v3":
                if "user" not in e.fields:
                    self.err(e.line, f"{e.label}.user", "required for SNMPv3")
                if vals["auth_proto"] is not None:
                    self.protocol(e, "auth_proto", vals["auth_proto"])
                    if not {"auth_key_env", "auth_key"} & e.fields.keys():
                        self.err(e.line, f"{e.label}.auth_key_env", "required when auth_proto is set")
                if vals["priv_proto"] is not None:
                    self.protocol(e, "priv_proto", vals["priv_proto"])
                    if vals["auth_proto"] is None:
                        self.err(
                            self.line_of(e, "priv_proto"),
                            f"{e.label}.priv_proto",
                            "privacy needs authentication: set auth_proto too",
                        )
                    if not {"priv_key_env", "priv_key"} & e.fields.keys():
                        self.err(e.line, f"{e.label}.priv_key_env", "required when priv_proto is set")
            if name is None:
                continue
            if name in inv.credentials:
                self.err(
                    self.line_of(e, "name"),
                    f"{e.label}.name",
                    f"duplicate credential name {name!r} (first at line {inv.credentials[name].line})",
                )
                continue
            inv.credentials[name] = CredentialRef(name=name, version=version or "v2c", line=e.line, **vals)

    def ssh_credentials(self, entries: list[_Entry], inv: Inventory) -> None:
        default: SshCredentialRef | None = None
        for e in entries:
            vals = self.fields(e, SshCredentialFields)
            name = vals.pop("name")
            if not {"password_env", "key_file"} & e.fields.keys():
                self.err(e.line, f"{e.label}.password_env", "needs password_env or key_file")
            if name is None or vals["username"] is None:
                continue
            if name in inv.ssh_credentials:
                self.err(
                    self.line_of(e, "name"),
                    f"{e.label}.name",
                    f"duplicate ssh credential name {name!r} "
                    f"(first at line {inv.ssh_credentials[name].line})",
                )
                continue
            if vals["default"] and default is not None:
                self.err(
                    self.line_of(e, "default"),
                    f"{e.label}.default",
                    f"only one ssh credential can be the default ({default.name!r} at line {default.line})",
                )
                continue
            ref = SshCredentialRef(name=name, line=e.line, **vals)
            inv.ssh_credentials[name] = ref
            default = ref if ref.default else default

    def sites(self, entries: list[_Entry], inv: Inventory) -> None:
        codes: dict[str, int] = {}
        for e in entries:
            v = self.fields(e, SiteFields)
            sid, name_zh, pinyin, code, kind = v["id"], v["name_zh"], v["name_pinyin"], v["code"], v["kind"]
            parent, lat, lon = v["parent"], v["lat"], v["lon"]
            prefixes = self.prefixes(e)
            kind_ok = kind is not None
            if code is not None:
                if code in codes:
                    self.err(
                        self.line_of(e, "code"),
                        f"{e.label}.code",
                        f"duplicate division code {code!r} (first at line {codes[code]})",
                    )
                else:
                    codes[code] = self.line_of(e, "code")
            if kind_ok and "parent" in e.fields:
                if kind == "province" and parent is not None:
                    self.err(
                        self.line_of(e, "parent"), f"{e.label}.parent", "the province has no parent (null)"
                    )
                if kind != "province" and _value(e.fields["parent"][1]) is None:
                    self.err(self.line_of(e, "parent"), f"{e.label}.parent", f"a {kind} needs a parent site")
            if sid is None or name_zh is None or code is None or not kind_ok or lat is None or lon is None:
                continue
            if sid in inv.sites:
                self.err(
                    self.line_of(e, "id"),
                    f"{e.label}.id",
                    f"duplicate site id {sid!r} (first at line {inv.sites[sid].line})",
                )
                continue
            inv.sites[sid] = Site(
                id=sid,
                name_zh=name_zh,
                name_pinyin=pinyin or "",
                code=code,
                kind=kind,
                parent=parent,
                lat=lat,
                lon=lon,
                line=e.line,
                prefixes=prefixes,
            )
        parent_lines = {site.id: site.line for site in inv.sites.values()}
        for e in entries:
            if "id" in e.fields and isinstance(e.fields["id"][1], ScalarNode):
                parent_lines[e.fields["id"][1].value] = self.line_of(e, "parent")
        for site in inv.sites.values():
            if site.parent is not None and self.unknown("sites", site.parent, inv.sites):
                self.err(
                    parent_lines.get(site.id, site.line),
                    f"sites[{site.id}].parent",
                    f"unknown site {site.parent!r}",
                )
        self.cycles(inv, parent_lines)
        provinces = [s for s in inv.sites.values() if s.kind == "province"]
        for extra in provinces[1:]:
            self.err(
                extra.line,
                f"sites[{extra.id}].kind",
                f"only one province site allowed (first is {provinces[0].id!r} at line {provinces[0].line})",
            )
        self.overlaps(inv)

    def overlaps(self, inv: Inventory) -> None:
        """Management prefixes of different sites must not overlap within one network space."""
        for net in NETWORKS:
            items = sorted(
                (
                    (ipaddress.ip_network(cidr), site.id)
                    for site in inv.sites.values()
                    for n, cidr in site.prefixes
                    if n == net
                ),
                key=lambda t: (t[0].version, t[0]),
            )
            # sorted by (version, address, prefixlen): an overlap always touches the widest earlier prefix
            widest: tuple[Any, str] | None = None
            for prefix, sid in items:
                if widest and widest[0].version == prefix.version and prefix.subnet_of(widest[0]):
                    label = f"sites[{sid}]"
                    self.err(
                        self.prefix_lines.get((label, net, str(prefix)), inv.sites[sid].line),
                        f"{label}.prefixes.{net}",
                        f"{prefix} overlaps {widest[0]} of site {widest[1]!r}",
                    )
                    continue
                widest = (prefix, sid)

    def in_site_prefixes(self, e: _Entry, inv: Inventory, site: str, network: str, address: str) -> bool:
        """A device's management address must lie in its site's prefixes for that network, if listed."""
        prefixes = [ipaddress.ip_network(c) for n, c in inv.sites[site].prefixes if n == network]
        ip = ipaddress.ip_address(address)
        if not prefixes or any(ip in p for p in prefixes):
            return True
        self.err(
            self.line_of(e, "address"),
            f"{e.label}.address",
            f"{address} is outside site {site!r}'s {network} prefixes ({', '.join(map(str, prefixes))})",
        )
        return False

    def prefixes(self, e: _Entry) -> tuple[tuple[str, str], ...]:
        if "prefixes" not in e.fields:
            return ()
        node = e.fields["prefixes"][1]
        if not isinstance(node, MappingNode):
            self.err(
                _line(node),
                f"{e.label}.prefixes",
                f"expected a mapping network: [CIDR, ...], got {_describe(node)}",
            )
            return ()
        out: list[tuple[str, str]] = []
        for net, (knode, vnode) in self.mapping(node, f"{e.label}.prefixes").items():
            label = f"{e.label}.prefixes.{net}"
            if net not in NETWORKS:
                self.err(
                    _line(knode), label, f"unknown network {net!r} (expected one of: {', '.join(NETWORKS)})"
                )
                continue
            items = as_strlist(_value(vnode))
            if items is None:
                self.err(_line(vnode), label, f"expected a list of CIDR prefixes, got {_describe(vnode)}")
                continue
            for item_node, cidr in zip(vnode.value, items, strict=True):
                try:
                    out.append((net, str(ipaddress.ip_network(cidr, strict=True))))
                    self.prefix_lines[(e.label, net, out[-1][1])] = _line(item_node)
                except ValueError as exc:
                    why = "has host bits set" if "host bits" in str(exc) else "is not a CIDR prefix"
                    self.err(_line(item_node), label, f"{cidr!r} {why}")
        return tuple(out)

    def cycles(self, inv: Inventory, parent_lines: dict[Any, int]) -> None:
        reported: set[str] = set()
        for start in inv.sites:
            path: list[str] = []
            cur: str | None = start
            while cur is not None and cur in inv.sites and cur not in path:
                path.append(cur)
                cur = inv.sites[cur].parent
            if cur is not None and cur in path:
                cycle = path[path.index(cur) :]
                if not reported.intersection(cycle):
                    reported.update(cycle)
                    first = min(cycle, key=lambda s: inv.sites[s].line)
                    ring = cycle[cycle.index(first) :] + cycle[: cycle.index(first)] + [first]
                    self.err(
                        parent_lines.get(first, inv.sites[first].line),
                        f"sites[{first}].parent",
                        f"parent cycle: {' -> '.join(ring)}",
                    )

    def devices(self, entries: list[_Entry], inv: Inventory) -> None:
        addresses: dict[tuple[str, str], tuple[str, int]] = {}
        peers: list[tuple[_Entry, str, tuple[str, ...]]] = []
        for e in entries:
            v = self.fields(e, DeviceFields)
            name, site, network, address = v["name"], v["site"], v["network"], v["address"]
            cred, ifaces, tunnel_peers = v["credential"], v["interfaces"], v["tunnel_peers"]
            good = all(x is not None for k, x in v.items() if k != "ssh_credential")
            if site is not None and site not in inv.sites:
                if self.unknown("sites", site, inv.sites):
                    self.err(self.line_of(e, "site"), f"{e.label}.site", f"unknown site {site!r}")
                good = False
            ssh_cred = v["ssh_credential"]
            if ssh_cred is not None and self.unknown("ssh_credentials", ssh_cred, inv.ssh_credentials):
                self.err(self.line_of(e, "ssh_credential"), f"{e.label}.ssh_credential",
                         f"unknown ssh credential {ssh_cred!r}")
            if cred is not None and cred not in inv.credentials:
                if self.unknown("credentials", cred, inv.credentials):
                    self.err(
                        self.line_of(e, "credential"), f"{e.label}.credential", f"unknown credential {cred!r}"
                    )
                good = False
            if ifaces:
                seen: set[str] = set()
                for i in ifaces:
                    if i in seen:
                        self.err(
                            self.line_of(e, "interfaces"),
                            f"{e.label}.interfaces",
                            f"interface {i!r} listed twice",
                        )
                    seen.add(i)
            if not good:
                continue
            if name in inv.devices:
                self.err(
                    self.line_of(e, "name"),
                    f"{e.label}.name",
                    f"duplicate device name {name!r} (first at line {inv.devices[name].line})",
                )
                continue
            key = (network, address)
            if key in addresses:
                other, oline = addresses[key]
                self.err(
                    self.line_of(e, "address"),
                    f"{e.label}.address",
                    f"duplicate {network} address {address} (also device {other!r} at line {oline})",
                )
                continue
            addresses[key] = (name, e.line)
            if not self.in_site_prefixes(e, inv, site, network, address):
                continue
            v["interfaces"], v["tunnel_peers"] = tuple(ifaces), tuple(tunnel_peers)
            inv.devices[name] = Device(**v, line=e.line)
            peers.append((e, name, tuple(tunnel_peers)))
        for e, name, tps in peers:
            for peer in tps:
                if peer == name:
                    self.err(
                        self.line_of(e, "tunnel_peers"),
                        f"{e.label}.tunnel_peers",
                        "a device cannot be its own tunnel peer",
                    )
                elif self.unknown("devices", peer, inv.devices):
                    self.err(
                        self.line_of(e, "tunnel_peers"), f"{e.label}.tunnel_peers", f"unknown device {peer!r}"
                    )

    def links(self, entries: list[_Entry], inv: Inventory) -> None:
        used: dict[tuple[str, str], tuple[str, int]] = {}
        for e in entries:
            v = self.fields(e, LinkFields)
            lid, kind, cap, network = v["id"], v["kind"], v["capacity_bps"], v["network"]
            circuit = v["circuit_id"]
            ends = [self.link_end(e, side, inv) for side in ("a", "b")]
            good = all(x is not None for x in (lid, kind, cap, network, circuit, *ends))
            if not good:
                continue
            if lid in inv.links:
                self.err(
                    self.line_of(e, "id"),
                    f"{e.label}.id",
                    f"duplicate link id {lid!r} (first at line {inv.links[lid].line})",
                )
                continue
            clash = False
            for side, end in zip(("a", "b"), ends, strict=True):
                k = (end.device, end.interface)
                if k in used:
                    self.err(
                        self.line_of(e, side),
                        f"{e.label}.{side}",
                        f"interface {end.interface!r} of {end.device!r} is already used by link "
                        f"{used[k][0]!r} (line {used[k][1]})",
                    )
                    clash = True
            if clash:
                continue
            for end in ends:
                used[(end.device, end.interface)] = (lid, e.line)
            inv.links[lid] = Link(
                id=lid,
                a=ends[0],
                b=ends[1],
                kind=kind,
                capacity_bps=cap,
                circuit_id=circuit,
                network=network,
                line=e.line,
            )

    def link_end(self, e: _Entry, side: str, inv: Inventory) -> LinkEnd | None:
        """A link end: "device:interface" or {device: ..., interface: ...}."""
        if side not in e.fields:
            return None
        node = e.fields[side][1]
        label = f"{e.label}.{side}"
        dev = iface = None
        if isinstance(node, ScalarNode) and isinstance(_scalar(node), str) and ":" in node.value:
            dev, _, iface = node.value.partition(":")
        elif isinstance(node, MappingNode):
            m = self.mapping(node, label)
            d, i = m.get("device"), m.get("interface")
            if d and i and isinstance(d[1], ScalarNode) and isinstance(i[1], ScalarNode):
                dev, iface = str(d[1].value), str(i[1].value)
        if not dev or not iface:
            self.err(_line(node), label, f'expected "device:interface", got {_describe(node)}')
            return None
        if dev not in inv.devices:
            if self.unknown("devices", dev, inv.devices):
                self.err(_line(node), label, f"unknown device {dev!r}")
            return None
        if iface not in inv.devices[dev].interfaces:
            self.err(_line(node), label, f"device {dev!r} has no interface {iface!r}")
            return None
        return LinkEnd(device=dev, interface=iface)

    def agents(self, entries: list[_Entry], inv: Inventory) -> None:
        covered: dict[str, tuple[str, int]] = {}
        for e in entries:
            v = self.fields(e, AgentFields)
            name, sites, token_env = v["name"], v["sites"], v["token_env"]
            good = all(v is not None for v in (name, sites, token_env))
            for sid in sites or ():
                if sid not in inv.sites:
                    if self.unknown("sites", sid, inv.sites):
                        self.err(self.line_of(e, "sites"), f"{e.label}.sites", f"unknown site {sid!r}")
                    good = False
                elif sid in covered:
                    other, oline = covered[sid]
                    self.err(
                        self.line_of(e, "sites"),
                        f"{e.label}.sites",
                        f"site {sid!r} is already covered by agent {other!r} (line {oline})",
                    )
                    good = False
            if not good:
                continue
            if name in inv.agents:
                self.err(
                    self.line_of(e, "name"),
                    f"{e.label}.name",
                    f"duplicate agent name {name!r} (first at line {inv.agents[name].line})",
                )
                continue
            for sid in sites:
                covered[sid] = (name, e.line)
            inv.agents[name] = AgentDef(name=name, sites=tuple(sites), token_env=token_env, line=e.line)
