"""``nms ipam ...``: import/export the plan, check or carve a template, expire holds."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ipam import csvio, plan, store, workflow
from ipam.addresses import parse_prefix
from ipam.allocate import allocate, reindex
from ipam.errors import IpamError
from nms.config import Settings
from nms.schema import open_migrated
from probes.common.inventory import load_inventory

ACTOR = "cli"


def _db():
    return open_migrated(Settings())


def _import(args: argparse.Namespace) -> int:
    settings = Settings()
    known = set(load_inventory(settings.inventory_path).sites) if settings.inventory_path.exists() else None
    result = csvio.import_csv(_db(), Path(args.file).read_text(encoding="utf-8"), actor=args.actor,
                              known_sites=known, reason=args.reason)
    print(json.dumps(result))
    return 0


def _export(args: argparse.Namespace) -> int:
    text = csvio.export_csv(_db(), None)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _allocate(args: argparse.Namespace) -> int:
    db = _db()
    pool = store.find(db, store.space_id(db, args.space), parse_prefix(args.pool, "pool"))
    if pool is None:
        raise IpamError(f"pool {args.pool} not found in {args.space}", "pool")
    prefix, created = allocate(db, pool.id, actor=args.actor, plen=args.length, purpose=args.purpose,
                               site=args.site, idempotency_key=args.key, reason=args.reason)
    print(prefix.cidr if created else f"{prefix.cidr} (already allocated under this key)")
    return 0


def _plan(args: argparse.Namespace) -> int:
    db = _db()
    root = store.find(db, store.space_id(db, args.space), parse_prefix(args.root, "root"))
    if root is None:
        raise IpamError(f"root pool {args.root} not found in {args.space}", "root")
    template = plan.parse_template(json.loads(args.template), root.family)
    tree = load_inventory(Settings().inventory_path)
    if args.carve:
        result = plan.carve(db, root, tree, template, actor=args.actor)
    else:
        result = plan.check(db, root, tree, template)
    print(json.dumps(result.as_dict(), ensure_ascii=False, indent=1))
    return 0 if result.ok else 1


def _expire(args: argparse.Namespace) -> int:
    for cidr in workflow.expire_holds(_db(), actor=args.actor):
        print(f"expired {cidr}")
    return 0


def _reindex(_args: argparse.Namespace) -> int:
    print(json.dumps(reindex(_db())))
    return 0


def _run(func):
    def wrapped(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except IpamError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            for line in getattr(exc, "errors", [])[20:]:
                print(f"  {line}", file=sys.stderr)
            return 2

    return wrapped


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("ipam", help="IP address plan")
    sub = p.add_subparsers(dest="ipam_command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--actor", default=ACTOR, help="name recorded in the audit log")
    common.add_argument("--reason", default=None)

    s = sub.add_parser("import", parents=[common], help="import a plan CSV (all or nothing)")
    s.add_argument("file")
    s.set_defaults(func=_run(_import))
    s = sub.add_parser("export", help="export the plan as CSV")
    s.add_argument("--out")
    s.set_defaults(func=_run(_export))
    s = sub.add_parser("allocate", parents=[common], help="allocate the next free block of a pool")
    s.add_argument("--space", default="专网")
    s.add_argument("pool", help="the pool's CIDR")
    s.add_argument("length", type=int, help="prefix length to allocate")
    s.add_argument("--purpose", default="")
    s.add_argument("--site")
    s.add_argument("--key", help="idempotency key")
    s.set_defaults(func=_run(_allocate))
    s = sub.add_parser("plan", parents=[common], help="check (or --carve) a template under a root pool")
    s.add_argument("--space", default="专网")
    s.add_argument("root", help="root pool CIDR, e.g. fd34::/32")
    s.add_argument("template", help='JSON, e.g. \'{"city": 40, "county": 44, "department": 44}\'')
    s.add_argument("--carve", action="store_true")
    s.set_defaults(func=_run(_plan))
    s = sub.add_parser("expire", parents=[common], help="release held ranges whose hold ran out")
    s.set_defaults(func=_run(_expire))
    s = sub.add_parser("reindex", help="rebuild every pool's free-space index from the prefix tree")
    s.set_defaults(func=_run(_reindex))
