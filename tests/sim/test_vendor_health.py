"""Demo-level check: every inventory vendor reports CPU and memory from the simulator.

One simulated device per vendor/model of the shipped inventory is polled with
``agent.py poll --json`` (a real subprocess, real SNMP on loopback). What each must
report comes from the "Vendor health sources" table of docs/profiles.md, so the
documentation and the demo cannot drift apart: a cell "not in recording" means the
value must be absent, any other cell means it must be there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from probes.common.inventory import load_inventory
from probes.sim import SimulatedProvince
from probes.snmp import Credential

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "profiles.md"
GAP = "not in recording"
ENV = {"VH_COMMUNITY": "vendor-health-community", "VH_AUTH": "vendor-health-auth-1",
       "VH_PRIV": "vendor-health-priv-1"}


def health_table() -> list[dict[str, str]]:
    """Rows of docs/profiles.md "Vendor health sources" as dicts keyed by column name."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("### Vendor health sources"))
    rows: list[list[str]] = []
    for line in lines[start + 1:]:
        if line.startswith("#"):
            break
        if line.startswith("|") and not line.startswith("|---"):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    header, *body = rows
    return [dict(zip(header, r, strict=True)) for r in body]


def expected() -> dict[tuple[str, str], dict[str, str]]:
    out = {}
    for row in health_table():
        for model in row["models"].split(", "):
            out[(row["vendor"], model)] = row
    return out


@pytest.fixture(scope="module")
def province():
    inv = load_inventory(ROOT / "inventory.yaml")
    first: dict[tuple[str, str], str] = {}
    for name, dev in sorted(inv.devices.items()):
        first.setdefault((dev.vendor, dev.model), name)
    creds = {"v2c-default": Credential(community=ENV["VH_COMMUNITY"]),
             "v3-secure": Credential("v3", user="nmsmon", auth_proto="SHA256", auth_key=ENV["VH_AUTH"],
                                     priv_proto="AES", priv_key=ENV["VH_PRIV"])}
    sim = SimulatedProvince(inv, port=0, devices=sorted(first.values()), credentials=creds).start()
    yield inv, first, sim
    sim.stop()


def _poll_cmd(target: str, credential: str) -> list[str]:
    cmd = [sys.executable, str(ROOT / "agent.py"), "poll", "--target", target, "--json", "--timeout", "3"]
    if credential == "v2c-default":
        return cmd + ["--community", ENV["VH_COMMUNITY"]]
    return cmd + ["--v3-user", "nmsmon", "--auth-proto", "SHA-256", "--auth-key-env", "VH_AUTH",
                  "--priv-proto", "AES", "--priv-key-env", "VH_PRIV"]


def test_table_covers_every_inventory_vendor_and_model(province):
    inv, first, _sim = province
    table = expected()
    assert set(first) == set(table), (sorted(set(first) - set(table)), sorted(set(table) - set(first)))


def test_every_vendor_reports_cpu_and_memory_in_the_demo(province):
    inv, first, sim = province
    table = expected()
    procs = {}
    for key, name in first.items():
        host, port = sim.address(name)
        procs[key] = subprocess.Popen(_poll_cmd(f"{host}:{port}", inv.devices[name].credential),
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                      cwd=ROOT, env={**os.environ, **ENV})
    problems, lines = [], []
    for key, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, f"{key}: {err}"
        result = json.loads(out)
        row = table[key]
        lines.append(f"{key[0]:10} {key[1]:18} {result['profile']:15} {result['health']} "
                     f"sessions={result['sessions']}")
        if result["profile"] != row["profile"]:
            problems.append(f"{key}: profile {result['profile']}, table says {row['profile']}")
        for field, column in (("cpu_pct", "CPU"), ("mem_pct", "memory")):
            want = not row[column].startswith(GAP)
            if (field in result["health"]) != want:
                problems.append(f"{key}: {field} {'missing' if want else 'present'} ({row[column]})")
            elif want and not 0 <= result["health"][field] <= 100:
                problems.append(f"{key}: {field} = {result['health'][field]} is not a percentage")
        want_sessions = row["sessions"] not in ("-",) and not row["sessions"].startswith(GAP)
        if (result["sessions"] is not None) != want_sessions:
            problems.append(f"{key}: sessions {result['sessions']} but the table says {row['sessions']!r}")
    print("\n".join(lines))
    assert not problems, "\n".join(problems)
