"""Command line of the simulated province: ``serve``, ``fault``, ``status``.

    python -m probes.sim serve --inventory inventory.yaml [--port 1161] [--control-port N]
                               [--devices GLOB ...] [--wan-delay-ms auto|0|N]
                               [--wan-proxy CENTRE_URL [--wan-proxy-base-port N]]
                               [--ssh-port N [--ssh-key-dir DIR]]
    python -m probes.sim fault --control URL ACTION [ARGS...] [--es N --ses N]
    python -m probes.sim status --control URL
    python -m probes.sim send-trap --to HOST:PORT (--device NAME | --from ADDR --community C)
                                   OID [OID TYPE VALUE]...
    python -m probes.sim send-syslog --to HOST:PORT [--tcp] (--device NAME | --from ADDR) TEXT

``serve --trap-target [AGENT=]HOST:PORT --syslog-target [AGENT=]HOST:PORT`` makes every
fault send the traps and syslog lines real devices would (:mod:`probes.sim.notify`).
``serve --ssh-port N`` makes the routers and firewalls answer SSH on 127.34.x.y:N with their
running configurations (:mod:`probes.sim.sshfleet`); ``fault config-change DEVICE`` changes one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import time

from probes.common.inventory import InventoryError, load_inventory
from probes.common.secrets import SecretError
from probes.sim import addressing
from probes.sim.control import ControlError, get_status, send_fault, serve_control
from probes.sim.errors import SimError
from probes.sim.notify import parse_target
from probes.sim.province import SimulatedProvince
from probes.sim.send import add_parsers
from probes.sim.send import run as run_send
from probes.sim.wan import WanProxies

FAULTS = {
    "device-down": "DEVICE", "device-up": "DEVICE", "reboot": "DEVICE",
    "if-down": "DEVICE IFNAME", "if-up": "DEVICE IFNAME",
    "link-down": "LINK_ID", "link-up": "LINK_ID",
    "sdh-los": "DEVICE IFNAME", "sdh-clear": "DEVICE IFNAME",
    "sdh-errors": "DEVICE IFNAME --es N --ses N",
    "tunnel-down": "DEVICE PEER", "tunnel-up": "DEVICE PEER",
    "slow": "DEVICE SECONDS (0 clears)", "clear-all": "",
    "config-change": "DEVICE [LINE...] (adds a line to its running config)",
    "addr-unknown": "DEVICE", "addr-unknown-clear": "DEVICE",
    "addr-duplicate": "DEVICE", "addr-duplicate-clear": "DEVICE",
    "addr-mismatch": "DEVICE", "addr-mismatch-clear": "DEVICE",
    "lldp-miscabled": "LINK_ID", "lldp-miscabled-clear": "LINK_ID",
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m probes.sim", description="Simulated province (SNMP agents)")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="serve every inventory device on 127.34.x.y")
    s.add_argument("--inventory", required=True, help="inventory.yaml")
    s.add_argument("--port", type=int, default=1161, help="UDP port shared by all devices (0: pick one)")
    s.add_argument("--control-port", type=int, default=0, help="HTTP control port on 127.0.0.1 (0: pick one)")
    s.add_argument("--devices", action="append", default=[], metavar="GLOB", help="only these devices")
    s.add_argument("--wan-delay-ms", default="auto", help="auto (by site kind), 0, or milliseconds")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--discrepancies", action="store_true",
                   help="start with one address-plan discrepancy of each kind (clear-all removes them)")
    s.add_argument("--wan-proxy", metavar="CENTRE_URL",
                   help="forward each city agent to the centre over its simulated uplink (probes.sim.wan)")
    s.add_argument("--wan-proxy-base-port", type=int, default=0, metavar="N",
                   help="forwarder of the i-th city agent (sorted) on N+i (0: free ports)")
    s.add_argument("--trap-target", action="append", default=[], metavar="[AGENT=]HOST:PORT",
                   help="faults make the devices send traps here (AGENT= for one agent's devices)")
    s.add_argument("--ssh-port", type=int, metavar="N",
                   help="routers and firewalls answer SSH on 127.34.x.y:N (0: pick one; default: no SSH)")
    s.add_argument("--ssh-key-dir", metavar="DIR",
                   help="keep the devices' SSH host keys here (default: new keys at every start)")
    s.add_argument("--syslog-target", action="append", default=[], metavar="[AGENT=]HOST:PORT",
                   help="faults make the devices send vendor-format syslog (UDP) here")

    add_parsers(sub)
    f = sub.add_parser("fault", help="inject or clear a fault",
                       epilog="actions: " + "; ".join(f"{k} {v}".strip() for k, v in FAULTS.items()))
    f.add_argument("--control", required=True, help="control URL printed by serve, http://127.0.0.1:N")
    f.add_argument("action", choices=sorted(FAULTS))
    f.add_argument("args", nargs="*")
    f.add_argument("--es", type=int, default=0, help="sdh-errors: errored seconds")
    f.add_argument("--ses", type=int, default=0, help="sdh-errors: severely errored seconds")
    st = sub.add_parser("status", help="devices served, request counts, current faults")
    st.add_argument("--control", required=True)
    return p


async def _serve(args: argparse.Namespace) -> int:
    t0 = time.time()
    switched: list[tuple[str, str]] = []
    try:
        inv = load_inventory(args.inventory)
        delay = args.wan_delay_ms
        if delay != "auto":
            try:
                if float(delay) < 0:
                    raise ValueError
            except ValueError:
                raise ValueError(f"--wan-delay-ms: expected auto, 0 or milliseconds, got {delay!r}") from None
        province = SimulatedProvince(inv, port=args.port, devices=args.devices, wan_delay=delay,
                                     seed=args.seed)
        if args.trap_target or args.syslog_target:
            province.start_events(dict(map(parse_target, args.trap_target)),
                                  dict(map(parse_target, args.syslog_target)))
        await province.start_async()
        if args.ssh_port is not None:
            province.start_ssh(args.ssh_port, args.ssh_key_dir)
        switched = addressing.demo_set(inv, set(province.devices)) if args.discrepancies else []
        for action, target in switched:
            province.fault(action, target)
        wan = {}
        if args.wan_proxy:
            wan = await WanProxies(province, args.wan_proxy, args.wan_proxy_base_port).start_async()
    except InventoryError as exc:
        print("\n".join(exc.errors), file=sys.stderr)
        return 2
    except (SimError, SecretError, ValueError, OSError) as exc:
        print(f"probes.sim serve: {exc}", file=sys.stderr)
        return 2
    server = await serve_control(province, args.control_port)
    cport = server.sockets[0].getsockname()[1]
    ready = {"ready": True, "devices": len(province.devices), "port": province.port,
             "control": f"http://127.0.0.1:{cport}", "startup_s": round(time.time() - t0, 2)}
    if args.wan_proxy:
        ready["wan_proxy"] = wan
    if province.ssh is not None:
        ready["ssh"] = {"port": province.ssh.port, "devices": len(province.ssh.devices)}
    if switched:
        ready["discrepancies"] = [f"{a} {t}" for a, t in switched]
    print(json.dumps(ready), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    if province.wan is not None:
        await province.wan.stop_async()
    await province.stop_async()
    if province.ssh is not None:
        province.ssh.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.cmd == "serve":
        return asyncio.run(_serve(args))
    if args.cmd in ("send-trap", "send-syslog"):
        return run_send(args)

    try:
        if args.cmd == "fault":
            out = send_fault(args.control, args.action, *args.args, es=args.es, ses=args.ses)
        else:
            out = get_status(args.control)
    except ControlError as exc:
        print(f"probes.sim {args.cmd}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
