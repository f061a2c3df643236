"""``nms configs ...``: fetch now, run the schedule, show status, re-pin a host key."""

from __future__ import annotations

import argparse
import getpass
import sys
import threading

from nms.config import Settings
from nms.configs import job, store
from nms.configs.fetch import Limits
from nms.configs.targets import TargetsError, load_targets
from nms.leader import leader
from nms.schema import open_migrated


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _limits(args: argparse.Namespace) -> Limits:
    return Limits.of(args.parallel, args.deadline)


def _cmd_fetch(args: argparse.Namespace) -> int:
    settings = Settings()
    try:
        targets, problems = load_targets(settings, args.devices or None)
    except TargetsError as exc:
        for err in exc.errors:
            print(f"error: {err}", file=sys.stderr)
        return 2
    for name, why in sorted(problems.items()):
        print(f"{name}: skipped: {why}", file=sys.stderr)
    if not targets:
        print("no devices to fetch", file=sys.stderr)
        return 2 if problems else 0
    db = open_migrated(settings)
    def show(o: store.Outcome) -> None:
        version = f" v{o.version}" if o.version else ""
        print(f"{o.device}: {o.status}{version}" + (f" ({o.error})" if o.error else ""), flush=True)

    report = job.run(db, targets, _actor(), _limits(args), on_outcome=show)
    print(f"{len(report.outcomes)} devices in {report.wall_s:.1f}s: "
          f"{len(report.by_status('new'))} new, {len(report.by_status('changed'))} changed, "
          f"{len(report.by_status('unchanged'))} unchanged, {len(report.failed)} failed")
    return 1 if report.failed or problems else 0


def _cmd_status(args: argparse.Namespace) -> int:
    db = open_migrated(Settings())
    for row in store.status(db):
        print(f"{row['device']:<24} {row['last_result'] or '-':<10} v{row['last_version'] or '-':<4} "
              f"failures={row['consecutive_failures']} {row['last_error'] or ''}")
    return 0


def _cmd_schedule(args: argparse.Namespace) -> int:
    settings = Settings()
    db = open_migrated(settings)
    stop = threading.Event()
    lead = leader(settings, "config-backup")  # beside nms serve's schedule, never with it
    try:
        job.schedule(db, lambda: load_targets(settings, None)[0], args.interval, stop, _limits(args),
                     retry_s=args.retry, tick_s=args.tick, leading=lead.leading)
    except KeyboardInterrupt:
        stop.set()
    finally:
        lead.release()
    return 0


def _cmd_hostkey_reset(args: argparse.Namespace) -> int:
    db = open_migrated(Settings())
    if not store.reset_hostkey(db, args.device, _actor(), args.reason):
        print(f"{args.device}: no pinned host key", file=sys.stderr)
        return 1
    print(f"{args.device}: host key forgotten; the next fetch pins the key it presents")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("configs", help="configuration backup over SSH")
    sub = p.add_subparsers(dest="configs_command", required=True)

    def limits_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--parallel", type=int, default=8, help="logins at once (default 8)")
        sp.add_argument("--deadline", type=float, default=120.0, help="seconds per device (default 120)")

    f = sub.add_parser("fetch", help="fetch running configs now (all devices, or those named)")
    f.add_argument("devices", nargs="*", metavar="DEVICE")
    limits_args(f)
    f.set_defaults(func=_cmd_fetch)
    s = sub.add_parser("status", help="last fetch of every device")
    s.set_defaults(func=_cmd_status)
    sc = sub.add_parser("schedule", help="run the backup schedule until interrupted")
    sc.add_argument("--interval", type=float, default=86400.0, help="seconds between full rounds")
    sc.add_argument("--retry", type=float, default=300.0, help="first retry after a failure (doubles)")
    sc.add_argument("--tick", type=float, default=30.0, help="how often to look for due devices")
    limits_args(sc)
    sc.set_defaults(func=_cmd_schedule)
    h = sub.add_parser("hostkey-reset", help="forget a device's pinned SSH host key (after checking it)")
    h.add_argument("device")
    h.add_argument("--reason", required=True)
    h.set_defaults(func=_cmd_hostkey_reset)
