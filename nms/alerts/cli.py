"""``nms alerts ...``: run the evaluator and sender, check rule/channel files, list, test a channel."""

from __future__ import annotations

import argparse
import json
import sys
import time

from nms.alerts.channels import ChannelError, ConfigError, load_channels
from nms.alerts.outbox import Outbox
from nms.alerts.rules import RulesError, load_rules
from nms.alerts.runner import build_engine, load_channels_for, run_forever
from nms.alerts.store import list_alerts
from nms.config import Settings
from nms.db import connect
from nms.schema import migrate, open_migrated
from nms.timeseries import open_timeseries


def _run(args: argparse.Namespace) -> int:
    settings = Settings()
    migrate(settings)  # a command's start: the engine and outbox make no tables
    return run_forever(settings, args.interval)


def _check(args: argparse.Namespace) -> int:
    ok = True
    try:
        rs = load_rules(args.rules)
        print(f"{rs.source}: {len(rs.rules)} rules OK")
    except RulesError as exc:
        ok = False
        print("\n".join(exc.errors), file=sys.stderr)
    if args.channels:
        try:
            cfg = load_channels(args.channels)
            print(f"{cfg.source}: {len(cfg.channels)} channels, {len(cfg.groups)} recipient groups OK")
        except ConfigError as exc:
            ok = False
            print("\n".join(exc.errors), file=sys.stderr)
    return 0 if ok else 1


def _eval(args: argparse.Namespace) -> int:
    settings = Settings()
    engine = build_engine(settings)
    db, mdb = open_migrated(settings), connect(settings, "metrics")
    try:
        stats = engine.evaluate(db, metrics_db=open_timeseries(settings, mdb))
        if args.send and engine.channels is not None:
            Outbox(engine.channels).run_once(db)
    finally:
        db.conn.close()
        mdb.conn.close()
    print(json.dumps(stats.__dict__))
    return 0


def _list(args: argparse.Namespace) -> int:
    db = open_migrated(Settings())
    try:
        states = ("pending", "firing", "resolved") if args.all else ("pending", "firing")
        for a in list_alerts(db, states=states, suppressed=True, limit=args.limit):
            ts = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(a["started_ts"]))
            under = f" (under #{a['root_id']})" if a["root_id"] else ""
            print(f"#{a['id']} {ts} {a['state']:8} {a['severity']:8} {a['rule']:20} {a['summary']}{under}")
    finally:
        db.conn.close()
    return 0


def _test(args: argparse.Namespace) -> int:
    cfg = load_channels_for(Settings())
    if cfg is None or args.channel not in cfg.channels:
        print(f"channel {args.channel!r} not configured (NMS_ALERT_CHANNELS)", file=sys.stderr)
        return 2
    payload = {
        "alert_id": 0,
        "event": "test",
        "rule": "test",
        "severity": "info",
        "subject_kind": "device",
        "subject_id": "test",
        "summary": "NMS测试消息 test message",
        "started_ts": time.time(),
    }
    try:
        print(cfg.channels[args.channel].send(args.to or "", payload))
    except ChannelError as exc:
        print(f"failed: {exc}", file=sys.stderr)
        return 1
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("alerts", help="alert evaluation and notifications")
    sub = p.add_subparsers(dest="alerts_command", required=True)
    r = sub.add_parser("run", help="evaluate rules and send notifications until interrupted")
    r.add_argument("--interval", type=float, default=10.0, help="seconds between evaluations (default 10)")
    r.set_defaults(func=_run)
    c = sub.add_parser("check", help="validate a rules file (and a channels file)")
    c.add_argument("--rules", default=None, help="rules YAML (default: the shipped rules.yaml)")
    c.add_argument("--channels", default=None, help="channels YAML")
    c.set_defaults(func=_check)
    e = sub.add_parser("eval", help="evaluate once and print what happened")
    e.add_argument("--send", action="store_true", help="also attempt due notifications once")
    e.set_defaults(func=_eval)
    ls = sub.add_parser("list", help="list open alerts")
    ls.add_argument("--all", action="store_true", help="include resolved alerts")
    ls.add_argument("--limit", type=int, default=100)
    ls.set_defaults(func=_list)
    t = sub.add_parser("test-channel", help="send a test message through one channel")
    t.add_argument("channel")
    t.add_argument("--to", default=None, help="recipient (number, address or URL)")
    t.set_defaults(func=_test)
