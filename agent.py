#!/usr/bin/env python3
"""Probe agent: ``agent.py poll`` polls one device once; ``agent.py run`` runs the agent;
``agent.py check-site`` checks one portal page once.

The logic lives in :mod:`probes.oneshot` and :mod:`probes.agent.run`; this file only
dispatches so that it can be copied to a node and run as a script.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(argv: list[str] | None = None) -> int:
    from probes import oneshot
    from probes.agent import run as agent_run
    from probes.portals import cli as portals_cli

    parser = argparse.ArgumentParser(prog="agent.py", description="Provincial NMS probe agent")
    sub = parser.add_subparsers(dest="command", required=True)
    oneshot.register(sub)
    agent_run.register(sub)
    portals_cli.register(sub)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
