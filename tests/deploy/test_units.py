"""The shipped systemd units: hardened, their writable paths right, and valid to systemd itself."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.processes import ROOT

UNITS = {"nms.service": "/var/lib/nms", "nms-agent.service": "/var/lib/nms-agent"}
HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "CapabilityBoundingSet": "",
    "RestrictSUIDSGID": "yes",
    "UMask": "0077",
}


def directives(path: Path) -> dict[str, list[str]]:
    """``Key=value`` lines (continuations joined), every value of a repeated key kept."""
    out: dict[str, list[str]] = {}
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


@pytest.mark.parametrize("unit", sorted(UNITS))
def test_unit_is_hardened_and_writes_only_its_data(unit):
    d = directives(ROOT / "deploy" / unit)
    for key, value in HARDENING.items():
        if unit == "nms-agent.service" and key == "CapabilityBoundingSet":
            value = "CAP_NET_BIND_SERVICE"  # traps on 162 and syslog on 514; nothing else
        assert d.get(key) == [value], f"{unit}: {key}={value} expected, found {d.get(key)}"
    data = UNITS[unit]
    assert d["ReadWritePaths"] == [data]
    assert d["StateDirectory"] == [data.rsplit("/", 1)[1]] and d["StateDirectoryMode"] == ["0700"]
    assert d["User"] != ["root"] and d["User"]
    if unit == "nms.service":  # behind nginx on the same host, trusting it alone
        env = dict(e.split("=", 1) for e in d["Environment"])
        assert env["NMS_DATA_DIR"] == data and env["NMS_LISTEN_HOST"] == "127.0.0.1"
        assert env["NMS_TRUSTED_PROXY"] == "127.0.0.1"
    else:
        assert all(f" {opt} " in d["ExecStart"][0] for opt in ("--ca-file", "--cert-file", "--key-file"))
        start = d["ExecStart"][0]
        assert "--trap-listen 0.0.0.0:162" in start and "--syslog-listen 0.0.0.0:514" in start
        assert d["AmbientCapabilities"] == ["CAP_NET_BIND_SERVICE"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_accepts_the_units(tmp_path):
    stub = tmp_path / "nms"  # the venv's nms does not exist here: verify checks ExecStart is executable
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    for unit in UNITS:
        text = (ROOT / "deploy" / unit).read_text().replace("/opt/nms/venv/bin/nms", str(stub))
        (tmp_path / unit).write_text(text)
    paths = [str(tmp_path / u) for u in UNITS]
    verify = subprocess.run(["systemd-analyze", "verify", *paths], capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0 and not verify.stderr.strip(), verify.stderr
    for path in paths:
        security = subprocess.run(
            ["systemd-analyze", "security", "--offline=true", "--no-pager", path],
            capture_output=True,
            text=True,
            timeout=60,
        )
        m = re.search(r"Overall exposure level for \S+: ([\d.]+)", security.stdout)
        assert m, security.stdout + security.stderr
        assert float(m.group(1)) <= 2.5, f"{path}: exposure {m.group(1)}\n{security.stdout}"
