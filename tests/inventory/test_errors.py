"""Bad inventories: every problem is reported as exactly `file:line: field: problem`, nothing is kept."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from probes.common.inventory import InventoryError, load_inventory

BASE = """\
version: 1
credentials:
  - {name: v2, version: v2c, community_env: NMS_SNMP_COMMUNITY}
sites:
  - {id: anhui, name_zh: 安徽省, code: "340000", kind: province, parent: null, lat: 31.86, lon: 117.28}
  - {id: hefei, name_zh: 合肥市, code: "340100", kind: city, parent: anhui, lat: 31.82, lon: 117.23}
devices:
  - {name: p-rtr, site: anhui, role: router, vendor: huawei, model: NE40E, address: 10.34.0.1, credential: v2, interfaces: [Pos1/0/0]}
  - {name: h-rtr, site: hefei, role: router, vendor: huawei, model: NE40E, address: 10.34.1.1, credential: v2, interfaces: [Pos1/0/0]}
links:
  - {id: sdh-hefei, a: "p-rtr:Pos1/0/0", b: "h-rtr:Pos1/0/0", kind: sdh-stm1, capacity_bps: 155520000, network: internal}
agents:
  - {name: province, token_env: T_P, sites: [anhui, hefei]}
"""  # noqa: E501

HEFEI = (
    '  - {id: hefei, name_zh: 合肥市, code: "340100", kind: city, parent: anhui, lat: 31.82, lon: 117.23}\n'
)
P_RTR_END = "credential: v2, interfaces: [Pos1/0/0]}\n  - {name: h-rtr"
LINK2 = "kind: sdh-stm1, capacity_bps: 1, network: internal}\nagents:\n"
SYNTAX = "did not find expected ',' or ']'" if yaml.__with_libyaml__ else "expected ',' or ']', but got '}'"

# name: (text to replace in BASE, replacement, expected errors with {f} standing for the file)
CASES: dict[str, tuple[str, str, list[str]]] = {
    "yaml-syntax": ("hefei]}", "hefei}", [f"{{f}}:13: yaml: {SYNTAX}"]),
    "unknown-top-level-key": (
        "[anhui, hefei]}\n",
        "[anhui, hefei]}\nextras: 1\n",
        [
            "{f}:14: extras: unknown top-level key "
            "(expected: version, credentials, ssh_credentials, sites, devices, links, agents)"
        ],
    ),
    "missing-field": (
        "model: NE40E, address: 10.34.1.1",
        "address: 10.34.1.1",
        ["{f}:9: devices[h-rtr].model: required field missing"],
    ),
    "wrong-type-float": (
        "lat: 31.82",
        "lat: north",
        ["{f}:6: sites[hefei].lat: expected a number, got str 'north'"],
    ),
    "wrong-type-int": (
        "capacity_bps: 155520000",
        "capacity_bps: fast",
        ["{f}:11: links[sdh-hefei].capacity_bps: expected an integer, got str 'fast'"],
    ),
    "unknown-parent": (
        "parent: anhui,",
        "parent: anhwei,",
        ["{f}:6: sites[hefei].parent: unknown site 'anhwei'"],
    ),
    "parent-cycle": (
        HEFEI,
        HEFEI
        + '  - {id: c1, name_zh: 甲, code: "340101", kind: county, parent: c2, lat: 31.8, lon: 117.2}\n'
        + '  - {id: c2, name_zh: 乙, code: "340102", kind: county, parent: c1, lat: 31.8, lon: 117.2}\n',
        ["{f}:7: sites[c1].parent: parent cycle: c1 -> c2 -> c1"],
    ),
    "duplicate-site-id": (
        HEFEI,
        HEFEI + HEFEI.replace('"340100"', '"340200"'),
        ["{f}:7: sites[hefei].id: duplicate site id 'hefei' (first at line 6)"],
    ),
    "duplicate-division-code": (
        HEFEI,
        HEFEI + HEFEI.replace("id: hefei", "id: wuhu"),
        ["{f}:7: sites[wuhu].code: duplicate division code '340100' (first at line 6)"],
    ),
    "duplicate-device-name": (
        "name: h-rtr, site: hefei",
        "name: p-rtr, site: hefei",
        [
            "{f}:9: devices[p-rtr].name: duplicate device name 'p-rtr' (first at line 8)",
            "{f}:11: links[sdh-hefei].b: unknown device 'h-rtr'",
        ],
    ),
    "duplicate-address": (
        "address: 10.34.1.1",
        "address: 10.34.0.1",
        [
            "{f}:9: devices[h-rtr].address: duplicate internal address 10.34.0.1 "
            "(also device 'p-rtr' at line 8)"
        ],
    ),
    "bad-address": (
        "address: 10.34.1.1",
        "address: 10.34.1.999",
        ["{f}:9: devices[h-rtr].address: '10.34.1.999' is not an IP address"],
    ),
    "bad-cidr": (
        "lon: 117.23}",
        "lon: 117.23, prefixes: {internal: [10.34.1.0/33], external: [172.20.1.1/24]}}",
        [
            "{f}:6: sites[hefei].prefixes.internal: '10.34.1.0/33' is not a CIDR prefix",
            "{f}:6: sites[hefei].prefixes.external: '172.20.1.1/24' has host bits set",
        ],
    ),
    "device-unknown-site": (
        "site: hefei,",
        "site: hefie,",
        ["{f}:9: devices[h-rtr].site: unknown site 'hefie'"],
    ),
    "device-unknown-credential": (
        "10.34.1.1, credential: v2",
        "10.34.1.1, credential: v3",
        ["{f}:9: devices[h-rtr].credential: unknown credential 'v3'"],
    ),
    "device-unknown-role": (
        "hefei, role: router",
        "hefei, role: modem",
        [
            "{f}:9: devices[h-rtr].role: unknown role 'modem' "
            "(expected one of: router, firewall, cipher, switch, server)"
        ],
    ),
    "link-missing-device": (
        'b: "h-rtr:',
        'b: "x-rtr:',
        ["{f}:11: links[sdh-hefei].b: unknown device 'x-rtr'"],
    ),
    "link-unlisted-interface": (
        'b: "h-rtr:Pos1/0/0"',
        'b: "h-rtr:Pos2/0/0"',
        ["{f}:11: links[sdh-hefei].b: device 'h-rtr' has no interface 'Pos2/0/0'"],
    ),
    "link-capacity-not-positive": (
        "capacity_bps: 155520000",
        "capacity_bps: 0",
        ["{f}:11: links[sdh-hefei].capacity_bps: capacity must be positive, got 0"],
    ),
    "link-unknown-kind": (
        "kind: sdh-stm1",
        "kind: sdh-stm4",
        [
            "{f}:11: links[sdh-hefei].kind: unknown kind 'sdh-stm4' "
            "(expected one of: sdh-stm1, fibre-ge, mstp, ethernet, ipsec)"
        ],
    ),
    "link-unknown-network": (
        "network: internal}",
        "network: dmz}",
        ["{f}:11: links[sdh-hefei].network: unknown network 'dmz' (expected one of: internal, external)"],
    ),
    "duplicate-link-id": (
        "agents:\n",
        '  - {id: sdh-hefei, a: "p-rtr:Pos1/0/0", b: "h-rtr:Pos1/0/0", ' + LINK2,
        ["{f}:12: links[sdh-hefei].id: duplicate link id 'sdh-hefei' (first at line 11)"],
    ),
    "interface-used-twice": (
        "agents:\n",
        '  - {id: sdh-2, a: "p-rtr:Pos1/0/0", b: "h-rtr:Pos1/0/0", ' + LINK2,
        [
            "{f}:12: links[sdh-2].a: interface 'Pos1/0/0' of 'p-rtr' "
            "is already used by link 'sdh-hefei' (line 11)",
            "{f}:12: links[sdh-2].b: interface 'Pos1/0/0' of 'h-rtr' "
            "is already used by link 'sdh-hefei' (line 11)",
        ],
    ),
    "inline-community": (
        "community_env: NMS_SNMP_COMMUNITY}",
        "community: public}",
        [
            "{f}:3: credentials[v2].community: secret given inline; secrets must come from the environment "
            "or the secrets file: name the variable in community_env"
        ],
    ),
    "inline-v3-auth-key": (
        "NMS_SNMP_COMMUNITY}\n",
        "NMS_SNMP_COMMUNITY}\n  - {name: v3, version: v3, user: u, auth_proto: SHA256, auth_key: s3cret, "
        "priv_proto: AES, priv_key_env: P}\n",
        [
            "{f}:4: credentials[v3].auth_key: secret given inline; secrets must come from the environment "
            "or the secrets file: name the variable in auth_key_env"
        ],
    ),
    "unknown-priv-proto": (
        "NMS_SNMP_COMMUNITY}\n",
        "NMS_SNMP_COMMUNITY}\n  - {name: v3, version: v3, user: u, auth_proto: SHA256, auth_key_env: A, "
        "priv_proto: AES512, priv_key_env: P}\n",
        [
            "{f}:4: credentials[v3].priv_proto: unknown protocol 'AES512' (accepted: DES, AES (AES128), "
            "AES-192 (AES192C), AES-256 (AES256C); case, '-' and '_' do not matter)"
        ],
    ),
    "agent-unknown-site": (
        "sites: [anhui, hefei]",
        "sites: [anhui, hefei, wuhu]",
        ["{f}:13: agents[province].sites: unknown site 'wuhu'"],
    ),
    "site-covered-twice": (
        "hefei]}\n",
        "hefei]}\n  - {name: hefei, token_env: T_H, sites: [hefei]}\n",
        ["{f}:14: agents[hefei].sites: site 'hefei' is already covered by agent 'province' (line 13)"],
    ),
    "coordinates-outside-china": (
        "lon: 117.23",
        "lon: 17.23",
        ["{f}:6: sites[hefei].lon: 17.23 is outside China (longitude 73..136)"],
    ),
    "interval-out-of-range": (
        P_RTR_END,
        P_RTR_END.replace("v2, interfaces", "v2, interval_s: 5, interfaces"),
        ["{f}:8: devices[p-rtr].interval_s: 5 is out of range (10..3600 seconds)"],
    ),
    "unknown-tunnel-peer": (
        P_RTR_END,
        P_RTR_END.replace("[Pos1/0/0]}", "[Pos1/0/0], tunnel_peers: [ghost]}"),
        ["{f}:8: devices[p-rtr].tunnel_peers: unknown device 'ghost'"],
    ),
    "unknown-field": (
        "model: NE40E, address: 10.34.1.1",
        "model: NE40E, colour: red, address: 10.34.1.1",
        ["{f}:9: devices[h-rtr].colour: unknown field"],
    ),
    "duplicate-key": (
        "kind: city,",
        "kind: city, kind: county,",
        ["{f}:6: sites[hefei].kind: duplicate key (first at line 6)"],
    ),
    "unsupported-version": (
        "version: 1",
        "version: 2",
        ["{f}:1: version: unsupported version '2' (expected 1)"],
    ),
    "overlapping-prefixes": (
        "lon: 117.28}\n" + HEFEI,
        "lon: 117.28, prefixes: {internal: [10.34.0.0/16]}}\n"
        + HEFEI.replace("}\n", ", prefixes: {internal: [10.34.1.0/24]}}\n"),
        ["{f}:6: sites[hefei].prefixes.internal: 10.34.1.0/24 overlaps 10.34.0.0/16 of site 'anhui'"],
    ),
    "address-outside-site-prefix": (
        "lon: 117.23}",
        "lon: 117.23, prefixes: {internal: [10.34.2.0/24, 'fd00:34::/64']}}",
        [
            "{f}:9: devices[h-rtr].address: 10.34.1.1 is outside site 'hefei''s internal prefixes "
            "(10.34.2.0/24, fd00:34::/64)"
        ],
    ),
    "two-provinces": (
        HEFEI,
        HEFEI
        + HEFEI.replace("hefei", "jiangsu")
        .replace("340100", "320000")
        .replace("kind: city, parent: anhui", "kind: province, parent: null"),
        ["{f}:7: sites[jiangsu].kind: only one province site allowed (first is 'anhui' at line 5)"],
    ),
    "explicit-tags-are-data-not-code": (
        "lat: 31.82",
        "lat: !!python/object/apply:os.system [echo pwned]",
        ["{f}:6: sites[hefei].lat: expected a number, got a list"],
    ),
    "ssh-credentials": (
        "sites:\n",
        "ssh_credentials:\n"
        "  - {name: ssh1, username: netops, password_env: NMS_SSH_PW, default: true}\n"
        "  - {name: ssh2, username: lab, default: true}\n"
        "  - {name: ssh3, username: x, password: hunter2, password_env: P}\n"
        "sites:\n",
        [
            "{f}:6: ssh_credentials[ssh2].password_env: needs password_env or key_file",
            "{f}:6: ssh_credentials[ssh2].default: only one ssh credential can be the default "
            "('ssh1' at line 5)",
            "{f}:7: ssh_credentials[ssh3].password: secret given inline; secrets must come from the "
            "environment or the secrets file: name the variable in password_env",
        ],
    ),
    "unknown-ssh-credential": (
        "address: 10.34.1.1, credential: v2",
        "address: 10.34.1.1, ssh_credential: lab, credential: v2",
        ["{f}:9: devices[h-rtr].ssh_credential: unknown ssh credential 'lab'"],
    ),
    "several-errors-collected": (
        "address: 10.34.1.1",
        "address: nowhere, interval_s: 99999",
        [
            "{f}:9: devices[h-rtr].address: 'nowhere' is not an IP address",
            "{f}:9: devices[h-rtr].interval_s: 99999 is out of range (10..3600 seconds)",
        ],
    ),
}


def test_base_fixture_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(BASE, encoding="utf-8")
    inv = load_inventory(path)
    assert sorted(inv.devices) == ["h-rtr", "p-rtr"]
    assert inv.links["sdh-hefei"].b.device == "h-rtr"


def test_ssh_credentials_default_and_own(tmp_path: Path) -> None:
    """A device's own ``ssh_credential`` wins; the others take the default; no secret is read."""
    path = tmp_path / "inventory.yaml"
    text = BASE.replace("sites:\n", "ssh_credentials:\n"
                        "  - {name: netops, username: netops, password_env: NMS_SSH_PW, default: true}\n"
                        "  - {name: lab, username: lab, key_file: /etc/nms/lab_ed25519}\nsites:\n")
    path.write_text(text.replace("address: 10.34.1.1, credential: v2",
                                 "address: 10.34.1.1, ssh_credential: lab, credential: v2"), encoding="utf-8")
    inv = load_inventory(path)
    assert inv.ssh_credential_for("h-rtr").name == "lab"
    assert inv.ssh_credential_for("p-rtr").name == "netops"
    assert inv.ssh_credentials["netops"].password_env == "NMS_SSH_PW"


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_reports_exact_error_and_keeps_previous(case: str, tmp_path: Path) -> None:
    old, new, expected = CASES[case]
    assert BASE.count(old) == 1, "fixture edit must be unambiguous"
    path = tmp_path / "inventory.yaml"
    path.write_text(BASE, encoding="utf-8")
    previous = load_inventory(path)
    snapshot = copy.deepcopy(previous)

    path.write_text(BASE.replace(old, new), encoding="utf-8")
    result = None
    with pytest.raises(InventoryError) as info:
        result = load_inventory(path)

    assert info.value.errors == [e.format(f=path) for e in expected]
    assert result is None  # no partial object escapes
    assert previous == snapshot  # what was loaded before is untouched
    assert str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert info.value.errors == [f"{path}:0: file: cannot read: No such file or directory"]


def test_top_level_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert info.value.errors == [f"{path}:1: inventory: expected a mapping at top level, got a list"]


def test_mangled_input_only_ever_raises_inventory_error(tmp_path: Path) -> None:
    """Delete or overwrite each character in turn: the loader reports, it never crashes."""
    path = tmp_path / "inventory.yaml"
    outcomes = {"ok": 0, "error": 0}
    for i in range(len(BASE)):
        replacement = ("", ":", "[")[i % 3]  # one mangling per position keeps this quick
        path.write_text(BASE[:i] + replacement + BASE[i + 1 :], encoding="utf-8")
        try:
            load_inventory(path)
            outcomes["ok"] += 1
        except InventoryError as exc:
            assert exc.errors and all(e.startswith(f"{path}:") for e in exc.errors)
            outcomes["error"] += 1
    assert outcomes["error"] > len(BASE) // 2  # most mangling is caught


def test_recursive_alias_is_an_error_not_a_hang(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(BASE.replace("agents:\n", "agents: &loop\n  - *loop\nx:\n"), encoding="utf-8")
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert all(e.startswith(f"{path}:") for e in info.value.errors)
