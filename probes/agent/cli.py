"""The agent's command line: ``agent.py`` in a copied agent, ``nms-agent`` when pip-installed.

``poll`` polls one device once (:mod:`probes.oneshot`); ``run`` runs the agent
(:mod:`probes.agent.run`); ``check-site`` checks one portal page once
(:mod:`probes.portals.cli`).
"""

from __future__ import annotations

import argparse
import sys

from probes import oneshot
from probes.agent import run as agent_run
from probes.portals import cli as portals_cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Provincial NMS probe agent")
    sub = parser.add_subparsers(dest="command", required=True)
    oneshot.register(sub)
    agent_run.register(sub)
    portals_cli.register(sub)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
