#!/usr/bin/env python3
"""Probe agent: ``agent.py poll`` polls one device once; ``agent.py run`` runs the agent;
``agent.py check-site`` checks one portal page once.

The command line lives in :mod:`probes.agent.cli` (also installed as ``nms-agent``); this
file only puts its own directory on ``sys.path`` so that it can be copied to a node and
run as a script.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(argv: list[str] | None = None) -> int:
    from probes.agent.cli import main as cli

    return cli(argv)


if __name__ == "__main__":
    sys.exit(main())
