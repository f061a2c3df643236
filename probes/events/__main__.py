"""Run the event receivers on their own and print each event as a JSON line, until Ctrl-C:
a way to try the receivers before ``agent.py run`` starts them.

    python -m probes.events --inventory inventory.yaml --sim \\
        --trap-listen 127.0.0.1:10162 --syslog-listen 127.0.0.1:10514 [--agent NAME]

Secrets come from the environment or ``NMS_SECRETS_FILE`` / ``--secrets-file``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from probes.common.inventory import InventoryError, load_inventory
from probes.common.secrets import SecretError
from probes.events.model import Event
from probes.events.rules import RulesError
from probes.events.service import EventService, credentials


def _print(ev: Event) -> None:
    print(json.dumps(ev.as_dict(), ensure_ascii=False), flush=True)


async def _run(svc: EventService, args: argparse.Namespace) -> None:
    await svc.start(args.trap_listen, args.syslog_listen)
    print(f"listening: traps {args.trap_listen or '-'}, syslog {args.syslog_listen or '-'}", file=sys.stderr)
    try:
        await asyncio.Event().wait()
    finally:
        await svc.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m probes.events", description=__doc__.splitlines()[0])
    ap.add_argument("--inventory", default="inventory.yaml")
    ap.add_argument("--agent", help="only this agent's devices' credentials (default: all)")
    ap.add_argument("--sim", action="store_true", help="map the simulated 127.34.x.y addresses")
    ap.add_argument("--secrets-file")
    ap.add_argument("--trap-listen", help="host:port for SNMP notifications, e.g. 127.0.0.1:10162")
    ap.add_argument("--syslog-listen", help="host:port for syslog over UDP and TCP, e.g. 127.0.0.1:10514")
    args = ap.parse_args(argv)
    if not args.trap_listen and not args.syslog_listen:
        ap.error("give --trap-listen and/or --syslog-listen")
    try:
        inv = load_inventory(args.inventory)
        devices = [d.name for d in inv.devices_of_agent(args.agent)] if args.agent else None
        svc = EventService(inv, _print, credentials(inv, devices, args.secrets_file), sim=args.sim)
    except InventoryError as exc:
        print("\n".join(exc.errors), file=sys.stderr)
        return 2
    except (SecretError, RulesError, KeyError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_run(svc, args))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"error: cannot listen: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
