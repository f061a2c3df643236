"""Nothing here may contact an address outside loopback unless a real deployment opts in."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from probes.common.netguard import TargetNotAllowed, check_target

ROOT = Path(__file__).resolve().parent.parent
# Libraries that send packets to devices; a module using one must pass its targets through
# probes.common.netguard (directly, or through the module of its package that does).
DEVICE_CLIENTS = ("gufo.snmp", "pysnmp.hlapi", "netmiko", "icmplib", "gufo.ping")


@pytest.mark.parametrize("host", ["127.0.0.1", "127.34.0.1", "127.255.255.254", "::1", "localhost"])
def test_loopback_is_allowed(host, monkeypatch):
    monkeypatch.delenv("NMS_ALLOW_NETWORK", raising=False)
    assert check_target(host) == host


@pytest.mark.parametrize("host", ["10.34.1.1", "172.20.0.1", "192.168.1.1", "8.8.8.8", "2001:db8::1", "::"])
def test_everything_else_is_refused(host, monkeypatch):
    monkeypatch.delenv("NMS_ALLOW_NETWORK", raising=False)
    with pytest.raises(TargetNotAllowed, match="outside 127.0.0.0/8 and ::1"):
        check_target(host)


def test_a_name_is_refused_without_asking_dns(monkeypatch):
    """Resolving would itself send a query off the machine: names other than localhost are
    refused as they are (the resolver fails the test if anything calls it)."""
    import socket

    def no_dns(*args, **kwargs):
        raise AssertionError(f"resolver called with {args}")

    monkeypatch.delenv("NMS_ALLOW_NETWORK", raising=False)
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with pytest.raises(TargetNotAllowed, match="a name, not resolved"):
        check_target("portal.example.gov.cn")
    assert check_target("localhost") == "localhost"


def test_a_real_deployment_opts_in(monkeypatch):
    monkeypatch.setenv("NMS_ALLOW_NETWORK", "1")
    assert check_target("10.34.1.1") == "10.34.1.1"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_every_device_client_sits_behind_the_guard():
    """A module importing an SNMP/SSH/ICMP client lives in a package whose entry checks targets."""
    offenders = []
    for path in sorted(ROOT.glob("*/**/*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in ("tests", "bench", "env", "node_modules") or "sim" in rel.parts:
            continue
        used = [m for m in _imports(path) if m.startswith(DEVICE_CLIENTS)]
        if not used:
            continue
        package = path.parent
        guarded = any("check_target" in p.read_text(encoding="utf-8") for p in package.glob("*.py"))
        if not guarded:
            where = package.relative_to(ROOT)
            offenders.append(f"{rel}: imports {used} but nothing in {where} calls check_target")
    assert not offenders, "\n".join(offenders)
