#!/usr/bin/env python3
"""The probe agent's installation, defined once: what an agent node gets of this project.

``python3 scripts/agent_dist.py DEST`` copies ``agent.py`` and ``probes/`` (without the
simulated province) into DEST and writes DEST/requirements.txt with the pinned versions of
the agent's third-party packages.  No ``nms/``, ``ipam/`` or ``dashboards/``: the agent
must run without the centre's code (tests/agent/test_install_without_centre.py proves it).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = ("agent.py",)
PACKAGES = ("probes",)
# The simulated province is for the demo and the tests, not for a node polling real devices.
LEAVE_OUT = ("probes/sim",)
# Distribution names as in requirements.txt (versions are taken from there).
REQUIREMENTS = (
    "gufo-snmp", "pysnmp", "PyYAML", "prometheus-client", "icmplib", "cryptography", "pydantic",
    "httpx", "selectolax", "charset-normalizer",
)


def _pins(root: Path) -> list[str]:
    pinned = {}
    for line in (root / "requirements.txt").read_text(encoding="utf-8").splitlines():
        if m := re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line.strip()):
            pinned[m.group(1).lower()] = line.strip()
    missing = [r for r in REQUIREMENTS if r.lower() not in pinned]
    if missing:
        raise SystemExit(f"agent_dist: {', '.join(missing)} not pinned in requirements.txt")
    return [pinned[r.lower()] for r in REQUIREMENTS]


def build(dest: Path, root: Path = ROOT) -> Path:
    """Copy the agent's files from ``root`` into ``dest`` (which must not exist yet)."""
    if dest.exists():
        raise SystemExit(f"agent_dist: {dest} exists; give a new directory")
    dest.mkdir(parents=True)
    for name in FILES:
        shutil.copy2(root / name, dest / name)
    leave_out = {(root / p).resolve() for p in LEAVE_OUT}

    def ignore(directory: str, names: list[str]) -> set[str]:
        here = Path(directory).resolve()
        return {n for n in names if n == "__pycache__" or here / n in leave_out}

    for pkg in PACKAGES:
        shutil.copytree(root / pkg, dest / pkg, ignore=ignore)
    (dest / "requirements.txt").write_text("\n".join(_pins(root)) + "\n", encoding="utf-8")
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="agent_dist.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", type=Path, help="directory to create (e.g. /opt/nms-agent)")
    args = parser.parse_args(argv)
    print(build(args.dest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
