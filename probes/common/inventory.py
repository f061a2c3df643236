"""Load and validate ``inventory.yaml`` into :class:`probes.common.inventory_model.Inventory`.

Loading is pure and all-or-nothing: it reads the file, collects *every* problem as
``file:line: field: problem`` and either returns a brand-new ``Inventory`` or raises
:class:`InventoryError` -- nothing that was loaded before is touched. Line numbers come
from the YAML nodes (composed with libyaml when available, so the 1,000-device file
loads in well under a second).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from probes.common.inventory_model import (
    DEVICE_ROLES,
    LINK_KINDS,
    NETWORKS,
    SITE_KINDS,
    AgentDef,
    CredentialRef,
    Device,
    Inventory,
    Link,
    LinkEnd,
    Site,
)
from probes.snmp.credential import VERSIONS, CredentialFieldError, auth_protocol, priv_protocol

__all__ = ["InventoryError", "load_inventory"]

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_CONSTRUCTOR = yaml.constructor.SafeConstructor()

TOP_LEVEL = ("version", "credentials", "sites", "devices", "links", "agents")
SUPPORTED_VERSION = 1
# China's bounding box (WGS-84), generous: Hainan/Nansha excluded, Heilongjiang/Xinjiang included.
LAT_RANGE = (18.0, 54.0)
LON_RANGE = (73.0, 136.0)
INTERVAL_RANGE = (10, 3600)
SNMP_VERSIONS = tuple(VERSIONS)
# Field names that would carry a secret value; the inventory must only name env vars.
SECRET_FIELDS = ("community", "auth_key", "priv_key", "password", "secret", "token", "key")

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_DEVICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CODE = re.compile(r"^\d{6}(-D\d{2,3})?$")


class InventoryError(Exception):
    """The inventory is invalid; ``errors`` lists every problem as ``file:line: field: problem``."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        super().__init__(f"{len(self.errors)} inventory error(s):\n" + "\n".join(self.errors))


def load_inventory(path: str | Path) -> Inventory:
    """Read, validate and return a new Inventory, or raise InventoryError listing every problem."""
    fname = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InventoryError([f"{fname}:0: file: cannot read: {exc.strerror or exc}"]) from None
    except UnicodeDecodeError as exc:
        raise InventoryError([f"{fname}:0: file: not UTF-8 text ({exc.reason})"]) from None
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        raise InventoryError([f"{fname}:{line}: yaml: {exc.problem or exc.context}"]) from None
    except yaml.YAMLError as exc:
        raise InventoryError([f"{fname}:0: yaml: {exc}"]) from None
    inv = _Validator(fname).run(root)
    inv.source = fname
    return inv


# ---------------------------------------------------------------------------- helpers


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _describe(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    value = _scalar(node)
    if value is None:
        return "null"
    return f"{type(value).__name__} {value!r}"


def _scalar(node: ScalarNode) -> Any:
    ctor = _CONSTRUCTOR.yaml_constructors.get(node.tag)
    if ctor is None:
        return node.value
    try:
        return ctor(_CONSTRUCTOR, node)
    except (ValueError, TypeError, yaml.YAMLError):
        return node.value  # e.g. "!!int abc": keep the text and let the field's type check report it


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

    def check_keys(self, e: _Entry, allowed: tuple[str, ...], required: tuple[str, ...]) -> None:
        for key, (knode, _) in e.fields.items():
            if key in SECRET_FIELDS or key.endswith(("_key", "_password", "_secret", "_token")):
                self.err(
                    _line(knode),
                    f"{e.label}.{key}",
                    f"secret given inline; secrets must come from the environment or the secrets "
                    f"file: name the variable in {key}_env",
                )
            elif key not in allowed:
                self.err(_line(knode), f"{e.label}.{key}", "unknown field")
        for key in required:
            if key not in e.fields:
                self.err(e.line, f"{e.label}.{key}", "required field missing")

    def get(self, e: _Entry, key: str, kind: str, default: Any = None) -> Any:
        """Typed field value; on a type error records it and returns None."""
        if key not in e.fields:
            return default
        node = e.fields[key][1]
        conv = _KINDS[kind]
        ok, value = conv(node)
        if not ok:
            self.err(_line(node), f"{e.label}.{key}", f"expected {_KIND_NAMES[kind]}, got {_describe(node)}")
            return None
        return value

    def unknown(self, section: str, ref: str, known: dict[str, Any]) -> bool:
        """True when `ref` names no valid entry of `section`; only undeclared names need an error."""
        return ref not in known and ref not in self.declared.get(section, ())

    def line_of(self, e: _Entry, key: str) -> int:
        return _line(e.fields[key][1]) if key in e.fields else e.line

    def check_env(self, e: _Entry, key: str, value: str | None) -> None:
        if value is not None and not _ENV_NAME.match(value):
            self.err(
                self.line_of(e, key), f"{e.label}.{key}", f"{value!r} is not an environment variable name"
            )

    def choice(self, e: _Entry, key: str, value: str | None, allowed: tuple[str, ...]) -> bool:
        if value is None:
            return False
        if value not in allowed:
            self.err(
                self.line_of(e, key),
                f"{e.label}.{key}",
                f"unknown {key} {value!r} (expected one of: {', '.join(allowed)})",
            )
            return False
        return True

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
            ok, version = _as_int(vnode)
            if not ok or version != SUPPORTED_VERSION:
                self.err(_line(vnode), "version", f"unsupported version {vnode.value!r} (expected 1)")

        inv = Inventory()
        self.credentials(self.entries(root, "credentials", "name"), inv)
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
        fields = (
            "name",
            "version",
            "community_env",
            "user",
            "auth_proto",
            "auth_key_env",
            "priv_proto",
            "priv_key_env",
        )
        for e in entries:
            self.check_keys(e, fields, ("name", "version"))
            name = self.get(e, "name", "name")
            version = self.get(e, "version", "str")
            vals = {k: self.get(e, k, "str") for k in fields[2:]}
            for k in ("community_env", "auth_key_env", "priv_key_env"):
                self.check_env(e, k, vals[k])
            ok = self.choice(e, "version", version, SNMP_VERSIONS)
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

    def sites(self, entries: list[_Entry], inv: Inventory) -> None:
        allowed = ("id", "name_zh", "name_pinyin", "code", "kind", "parent", "lat", "lon", "prefixes")
        codes: dict[str, int] = {}
        for e in entries:
            self.check_keys(e, allowed, ("id", "name_zh", "code", "kind", "parent", "lat", "lon"))
            sid = self.get(e, "id", "slug")
            name_zh = self.get(e, "name_zh", "str")
            pinyin = self.get(e, "name_pinyin", "str", "")
            code = self.get(e, "code", "code")
            kind = self.get(e, "kind", "str")
            parent = self.get(e, "parent", "optstr")
            lat = self.get(e, "lat", "float")
            lon = self.get(e, "lon", "float")
            prefixes = self.prefixes(e)
            kind_ok = self.choice(e, "kind", kind, SITE_KINDS)
            if code is not None:
                if not _CODE.match(code):
                    self.err(
                        self.line_of(e, "code"),
                        f"{e.label}.code",
                        f"{code!r} is not a division code (6 digits, or 6 digits and -Dnn)",
                    )
                elif code in codes:
                    self.err(
                        self.line_of(e, "code"),
                        f"{e.label}.code",
                        f"duplicate division code {code!r} (first at line {codes[code]})",
                    )
                else:
                    codes[code] = self.line_of(e, "code")
            if lat is not None and not LAT_RANGE[0] <= lat <= LAT_RANGE[1]:
                self.err(
                    self.line_of(e, "lat"),
                    f"{e.label}.lat",
                    f"{lat} is outside China (latitude {LAT_RANGE[0]:g}..{LAT_RANGE[1]:g})",
                )
            if lon is not None and not LON_RANGE[0] <= lon <= LON_RANGE[1]:
                self.err(
                    self.line_of(e, "lon"),
                    f"{e.label}.lon",
                    f"{lon} is outside China (longitude {LON_RANGE[0]:g}..{LON_RANGE[1]:g})",
                )
            if kind_ok and "parent" in e.fields:
                if kind == "province" and parent is not None:
                    self.err(
                        self.line_of(e, "parent"), f"{e.label}.parent", "the province has no parent (null)"
                    )
                if kind != "province" and _is_null(e.fields["parent"][1]):
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
            ok, items = _as_strlist(vnode)
            if not ok:
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
        allowed = (
            "name",
            "site",
            "role",
            "vendor",
            "model",
            "profile",
            "network",
            "address",
            "credential",
            "interval_s",
            "port",
            "interfaces",
            "tunnel_peers",
        )
        addresses: dict[tuple[str, str], tuple[str, int]] = {}
        peers: list[tuple[_Entry, str, tuple[str, ...]]] = []
        for e in entries:
            self.check_keys(e, allowed, ("name", "site", "role", "vendor", "model", "address", "credential"))
            name = self.get(e, "name", "name")
            site = self.get(e, "site", "str")
            role = self.get(e, "role", "str")
            vendor = self.get(e, "vendor", "str")
            model = self.get(e, "model", "str")
            profile = self.get(e, "profile", "str", "auto")
            network = self.get(e, "network", "str", "internal")
            address = self.get(e, "address", "str")
            cred = self.get(e, "credential", "str")
            interval = self.get(e, "interval_s", "int", 60)
            port = self.get(e, "port", "int", 161)
            ifaces = self.get(e, "interfaces", "strlist", ())
            tunnel_peers = self.get(e, "tunnel_peers", "strlist", ())
            good = all(
                v is not None
                for v in (
                    name,
                    site,
                    role,
                    vendor,
                    model,
                    profile,
                    network,
                    address,
                    cred,
                    interval,
                    port,
                    ifaces,
                    tunnel_peers,
                )
            )
            if site is not None and site not in inv.sites:
                if self.unknown("sites", site, inv.sites):
                    self.err(self.line_of(e, "site"), f"{e.label}.site", f"unknown site {site!r}")
                good = False
            good &= self.choice(e, "role", role, DEVICE_ROLES)
            good &= self.choice(e, "network", network, NETWORKS)
            if cred is not None and cred not in inv.credentials:
                if self.unknown("credentials", cred, inv.credentials):
                    self.err(
                        self.line_of(e, "credential"), f"{e.label}.credential", f"unknown credential {cred!r}"
                    )
                good = False
            if address is not None:
                try:
                    address = str(ipaddress.ip_address(address))
                except ValueError:
                    self.err(
                        self.line_of(e, "address"), f"{e.label}.address", f"{address!r} is not an IP address"
                    )
                    good = False
            if interval is not None and not INTERVAL_RANGE[0] <= interval <= INTERVAL_RANGE[1]:
                self.err(
                    self.line_of(e, "interval_s"),
                    f"{e.label}.interval_s",
                    f"{interval} is out of range ({INTERVAL_RANGE[0]}..{INTERVAL_RANGE[1]} seconds)",
                )
                good = False
            if port is not None and not 1 <= port <= 65535:
                self.err(self.line_of(e, "port"), f"{e.label}.port", f"{port} is out of range (1..65535)")
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
            inv.devices[name] = Device(
                name=name,
                site=site,
                role=role,
                vendor=vendor,
                model=model,
                profile=profile,
                address=address,
                credential=cred,
                interval_s=interval,
                port=port,
                interfaces=tuple(ifaces),
                tunnel_peers=tuple(tunnel_peers),
                line=e.line,
                network=network,
            )
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
        allowed = ("id", "a", "b", "kind", "capacity_bps", "network", "circuit_id")
        used: dict[tuple[str, str], tuple[str, int]] = {}
        for e in entries:
            self.check_keys(e, allowed, ("id", "a", "b", "kind", "capacity_bps", "network"))
            lid = self.get(e, "id", "name")
            kind = self.get(e, "kind", "str")
            cap = self.get(e, "capacity_bps", "int")
            network = self.get(e, "network", "str")
            circuit = self.get(e, "circuit_id", "str", "-")
            ends = [self.link_end(e, side, inv) for side in ("a", "b")]
            good = all(v is not None for v in (lid, kind, cap, network, circuit, *ends))
            good &= self.choice(e, "kind", kind, LINK_KINDS)
            good &= self.choice(e, "network", network, NETWORKS)
            if cap is not None and cap <= 0:
                self.err(
                    self.line_of(e, "capacity_bps"),
                    f"{e.label}.capacity_bps",
                    f"capacity must be positive, got {cap}",
                )
                good = False
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
            self.check_keys(e, ("name", "sites", "token_env"), ("name", "sites", "token_env"))
            name = self.get(e, "name", "name")
            sites = self.get(e, "sites", "strlist")
            token_env = self.get(e, "token_env", "str")
            self.check_env(e, "token_env", token_env)
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


# ---------------------------------------------------------------------------- scalar kinds


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and _scalar(node) is None


def _as_str(node: Node) -> tuple[bool, Any]:
    if isinstance(node, ScalarNode):
        v = _scalar(node)
        if isinstance(v, str) and v.strip():
            return True, v
    return False, None


def _as_optstr(node: Node) -> tuple[bool, Any]:
    return (True, None) if _is_null(node) else _as_str(node)


def _as_slug(node: Node) -> tuple[bool, Any]:
    ok, v = _as_str(node)
    return (True, v) if ok and _SLUG.match(v) else (False, None)


def _as_name(node: Node) -> tuple[bool, Any]:
    ok, v = _as_str(node)
    return (True, v) if ok and _DEVICE_NAME.match(v) else (False, None)


def _as_code(node: Node) -> tuple[bool, Any]:
    if isinstance(node, ScalarNode):
        v = _scalar(node)
        if isinstance(v, int) and not isinstance(v, bool):
            return True, str(v)
    return _as_str(node)


def _as_int(node: Node) -> tuple[bool, Any]:
    if isinstance(node, ScalarNode):
        v = _scalar(node)
        if isinstance(v, bool):
            return False, None
        if isinstance(v, int):
            return True, v
        if isinstance(v, float) and v.is_integer():
            return True, int(v)
    return False, None


def _as_float(node: Node) -> tuple[bool, Any]:
    if isinstance(node, ScalarNode):
        v = _scalar(node)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return True, float(v)
    return False, None


def _as_strlist(node: Node) -> tuple[bool, Any]:
    if _is_null(node):
        return True, []
    if not isinstance(node, SequenceNode):
        return False, None
    out = []
    for item in node.value:
        ok, v = _as_str(item)
        if not ok:
            return False, None
        out.append(v)
    return True, out


_KINDS: dict[str, Callable[[Node], tuple[bool, Any]]] = {
    "str": _as_str,
    "optstr": _as_optstr,
    "slug": _as_slug,
    "name": _as_name,
    "code": _as_code,
    "int": _as_int,
    "float": _as_float,
    "strlist": _as_strlist,
}
_KIND_NAMES = {
    "str": "a non-empty string",
    "optstr": "a string or null",
    "slug": "a lowercase ASCII id (a-z, 0-9, -)",
    "name": "an ASCII name (A-Z, a-z, 0-9, ., _, -)",
    "code": "a division code string",
    "int": "an integer",
    "float": "a number",
    "strlist": "a list of strings",
}
