"""``agent.py poll``: poll one device once and print the poll result.

Exit status: 0 when the device answered, 1 when the poll failed (the JSON still says
why), 2 for bad arguments.  Never a traceback for device problems.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

from probes.poller import Poller
from probes.snmp import Target
from probes.snmp.credential import Credential, CredentialFieldError, accepted_names


def register(subparsers) -> None:
    p = subparsers.add_parser("poll", help="poll one device once and print the result")
    p.add_argument("--target", required=True, help="HOST:PORT (port defaults to 161)")
    p.add_argument("--community", help="SNMPv1/v2c community")
    p.add_argument("--snmp-version", choices=["1", "2c"], default="2c")
    p.add_argument("--v3-user", help="SNMPv3 user name")
    p.add_argument("--auth-proto", help=accepted_names("auth_proto"))
    p.add_argument("--auth-key-env", help="environment variable holding the auth passphrase")
    p.add_argument("--priv-proto", help=accepted_names("priv_proto"))
    p.add_argument("--priv-key-env", help="environment variable holding the privacy passphrase")
    p.add_argument(
        "--key-extension",
        choices=["blumenthal", "reeder", "cisco"],
        help="AES-192/256 key extension (default blumenthal, or reeder if --priv-proto says so; "
        "cisco = reeder, used by Cisco and many vendors)",
    )
    p.add_argument("--profile", default="auto", help="profile name or auto")
    p.add_argument("--peer", action="append", default=[], help="expected tunnel peer (repeatable)")
    p.add_argument("--timeout", type=float, default=2.0)
    p.add_argument("--retries", type=int, default=1)
    p.add_argument("--impl", choices=["auto", "gufo", "pysnmp"], default="auto")
    p.add_argument("--json", action="store_true", help="print the JSON poll result (default: summary)")
    p.set_defaults(func=run)


class UsageError(ValueError):
    pass


# the option that sets each credential field
_FLAGS = {"auth_proto": "auth-proto", "priv_proto": "priv-proto", "auth_key": "auth-key-env",
          "priv_key": "priv-key-env", "user": "v3-user", "key_extension": "key-extension"}


def parse_target(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        return text, 161
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--target {text!r}: port must be 1..65535")
    return host, int(port)


def build_credential(args: argparse.Namespace) -> Credential:
    if args.v3_user:

        def secret(env: str | None, what: str) -> str | None:
            if not env:
                return None
            if env not in os.environ:
                raise UsageError(f"--{what}-key-env: environment variable {env} is not set")
            return os.environ[env]

        try:
            return Credential(
                version="v3",
                user=args.v3_user,
                auth_proto=args.auth_proto,
                priv_proto=args.priv_proto,
                auth_key=secret(args.auth_key_env, "auth"),
                priv_key=secret(args.priv_key_env, "priv"),
                key_extension=args.key_extension,
            )
        except CredentialFieldError as exc:
            raise UsageError(f"--{_FLAGS.get(exc.field, exc.field)}: {exc.problem}") from None
    if not args.community:
        raise UsageError("give --community or --v3-user")
    return Credential(version=args.snmp_version, community=args.community)


def run(args: argparse.Namespace) -> int:
    try:
        host, port = parse_target(args.target)
        cred = build_credential(args)
    except ValueError as exc:
        print(f"agent.py poll: {exc}", file=sys.stderr)
        return 2
    target = Target(
        host=host, port=port, credential=cred, timeout=args.timeout, retries=args.retries, name=args.target
    )

    async def go() -> dict:
        poller = Poller(
            max_in_flight=1, impl=args.impl, budget_s=max(5.0, args.timeout * (args.retries + 1) * 8)
        )
        return await poller.poll(target, args.profile, args.peer)

    result = asyncio.run(go())
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        _summary(result)
    if not result["ok"]:
        print(f"agent.py poll: {args.target}: {result['error']}", file=sys.stderr)
        return 1
    return 0


def _summary(r: dict) -> None:
    ident = r.get("identity") or {}
    print(
        f"{r['device']}: {'ok' if r['ok'] else 'FAILED ' + str(r['error'])} profile={r['profile']} "
        f"{ident.get('sysName', '')} ({len(r['interfaces'])} interfaces) in {r['duration_s']} s"
    )
    for f in r.get("failed") or ():
        print(f"  partly polled: {f['plugin']} failed: {f['error']}")
    for k, v in (r.get("health") or {}).items():
        print(f"  {k}: {v}")
    for row in r["interfaces"]:
        print(
            f"  {row['index']:>6} {str(row.get('name'))[:24]:24} {str(row.get('oper')):8} "
            f"{row.get('speed_bps')} in={row.get('in_octets')} out={row.get('out_octets')}"
        )
    for t in r.get("tunnels") or []:
        print(f"  tunnel {t['peer']} {t['state']} {t.get('name') or ''}")
