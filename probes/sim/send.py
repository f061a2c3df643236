"""``python -m probes.sim send-trap`` / ``send-syslog``: one arbitrary trap or syslog line,
as a device of the inventory (its simulated address and credential) or from any loopback
address, to try a receiver or a profile's ``traps:``/``syslog:`` block by hand.

    python -m probes.sim send-trap --to 127.0.0.1:10162 --inventory inventory.yaml \\
        --device hefei-int-rtr1 1.3.6.1.6.3.1.1.5.3 1.3.6.1.2.1.2.2.1.1.7 i 7
    python -m probes.sim send-syslog --to 127.0.0.1:10514 --from 127.0.0.1 --tcp \\
        --encoding gbk '%%01IFNET/4/LINK_STATE(l)[1]:...'

Varbinds are net-snmp's ``OID TYPE VALUE`` triples (i u c C t s x o a n).  A v3 trap goes
out from the engine ``80001f8804`` + ``sim-cli-<device>`` with engine time from the wall
clock, so successive sends stay inside the receiver's time window.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time

from probes.common.inventory import InventoryError, load_inventory
from probes.common.secrets import SecretError, resolve
from probes.sim.notify import LOCAL7, parse_target, syslog_3164, trap_pdu, v2c_message, varbind
from probes.snmp import ber
from probes.snmp.usm import UsmEngine, UsmUser

TYPES = {"i": ber.INTEGER, "u": ber.GAUGE32, "c": ber.COUNTER32, "C": ber.COUNTER64, "t": ber.TIMETICKS}


def add_parsers(sub: argparse._SubParsersAction) -> None:
    for name, helptext in (("send-trap", "send one SNMPv2-Trap (v2c, or v3 as the device's credential says)"),
                           ("send-syslog", "send one RFC 3164 syslog line over UDP or TCP")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--to", required=True, metavar="HOST:PORT", help="the receiver (loopback only)")
        p.add_argument("--inventory", default="inventory.yaml")
        p.add_argument("--device", help="send as this inventory device (its 127.34.x.y address, credential)")
        p.add_argument("--from", dest="source", default="127.0.0.1", help="source address without --device")
        if name == "send-trap":
            p.add_argument("--community", help="v2c community without --device")
            p.add_argument("trap_oid")
            p.add_argument("varbinds", nargs="*", metavar="OID TYPE VALUE")
        else:
            p.add_argument("--tcp", action="store_true", help="TCP with octet-counting framing (RFC 6587)")
            p.add_argument("--severity", type=int, default=4, choices=range(8))
            p.add_argument("--facility", type=int, default=LOCAL7, choices=range(24))
            p.add_argument("--encoding", default="utf-8", help="e.g. gbk, as many Chinese devices send")
            p.add_argument("text")


def encode_value(kind: str, text: str) -> bytes:
    """One net-snmp ``TYPE VALUE`` as a TLV; ValueError says what is wrong."""
    if kind in TYPES:
        return ber.enc_int(int(text), TYPES[kind])
    if kind == "s":
        return ber.tlv(ber.OCTET_STRING, text.encode())
    if kind == "x":
        return ber.tlv(ber.OCTET_STRING, bytes.fromhex(text.replace(":", "").replace(" ", "")))
    if kind == "o":
        return ber.enc_oid(ber.parse_oid_text(text))
    if kind == "a":
        return ber.tlv(ber.IP_ADDRESS, socket.inet_aton(text))
    if kind == "n":
        return ber.NULL_TLV
    raise ValueError(f"varbind type {kind!r}: expected one of i u c C t s x o a n")


def trap_varbinds(items: list[str]) -> list[bytes]:
    if len(items) % 3:
        raise ValueError("varbinds: expected OID TYPE VALUE triples")
    return [varbind(ber.parse_oid_text(items[k]), encode_value(items[k + 1], items[k + 2]))
            for k in range(0, len(items), 3)]


def _device(args: argparse.Namespace):  # noqa: ANN202 - (address, Credential | None)
    if not args.device:
        return args.source, None

    inv = load_inventory(args.inventory)
    if args.device not in inv.devices:
        raise ValueError(f"--device: no device {args.device!r} in {args.inventory}")
    dev = inv.devices[args.device]
    return inv.sim_address(dev.name), resolve(inv.credentials[dev.credential])


def trap_message(args: argparse.Namespace, cred, pdu: bytes, request_id: int) -> bytes:  # noqa: ANN001
    if cred is None or cred.version != "v3":
        community = args.community or (cred.community if cred is not None else None)
        if not community:
            raise ValueError("a v2c trap needs --community (or --device with a v2c credential)")
        return v2c_message(community, pdu)

    engine_id = bytes.fromhex("80001f8804") + b"sim-cli-" + args.device.encode()[:20]
    user = UsmUser.create(cred, engine_id)
    etime = int(time.time()) & 0x7FFFFFFF
    return UsmEngine(engine_id, lambda: 1, lambda: etime, [user]).notification(request_id, user.name, pdu)


def run(args: argparse.Namespace) -> int:
    try:
        _, (host, port) = parse_target(args.to)
        source, cred = _device(args)
        if args.cmd == "send-trap":
            request_id = int(time.time() * 1000) % 2**31
            pdu = trap_pdu(request_id, int(time.monotonic() * 100), ber.parse_oid_text(args.trap_oid),
                           trap_varbinds(args.varbinds))
            send_udp(trap_message(args, cred, pdu, request_id), source, (host, port))
        else:
            line = syslog_3164(args.facility, args.severity, args.device or "sim", args.text, time.time(),
                               args.encoding)
            if args.tcp:
                with socket.create_connection((host, port), timeout=10, source_address=(source, 0)) as s:
                    s.sendall(f"{len(line)} ".encode() + line)
            else:
                send_udp(line, source, (host, port))
    except InventoryError as exc:
        print("\n".join(exc.errors), file=sys.stderr)
        return 2
    except (ValueError, LookupError, SecretError, ber.BerError) as exc:
        print(f"probes.sim {args.cmd}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"probes.sim {args.cmd}: cannot send to {args.to}: {exc}", file=sys.stderr)
        return 1
    return 0


def send_udp(data: bytes, source: str, target: tuple[str, int]) -> None:
    with socket.socket(socket.AF_INET6 if ":" in target[0] else socket.AF_INET, socket.SOCK_DGRAM) as s:
        if ":" not in target[0]:
            s.bind((source, 0))
        s.sendto(data, target)
