"""``nms user ...``, ``nms token ...`` and ``nms bootstrap``: accounts from the command line.

Secrets are printed once on stdout and never logged; a password can instead come
from an environment variable (``--password-env``), so it never shows in ``ps``.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time

from nms.auth import passwords, tokens, users
from nms.auth.roles import ROLES
from nms.config import Settings
from nms.db import Database
from nms.schema import open_migrated
from probes.common.inventory import load_inventory
from probes.common.inventory_model import Inventory


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    user = subparsers.add_parser("user", help="accounts of people").add_subparsers(
        dest="user_cmd", required=True
    )
    add = user.add_parser("add", help="create an account (password shown once unless --password-env)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--site", required=True, help="site id from inventory.yaml the role is bound to")
    add.add_argument("--password-env", metavar="VAR", help="take the password from this environment variable")
    add.add_argument("--reason")
    add.set_defaults(func=_user_add)
    lst = user.add_parser("list", help="list accounts")
    lst.set_defaults(func=_user_list)
    for op in ("disable", "enable"):
        p = user.add_parser(op, help=f"{op} an account")
        p.add_argument("name")
        p.add_argument("--reason")
        p.set_defaults(func=_user_toggle, op=op)
    pw = user.add_parser("password", help="reset a password (random, shown once, unless --password-env)")
    pw.add_argument("name")
    pw.add_argument("--password-env", metavar="VAR")
    pw.add_argument("--reason")
    pw.set_defaults(func=_user_password)

    token = subparsers.add_parser("token", help="API tokens").add_subparsers(dest="token_cmd", required=True)
    create = token.add_parser("create", help="create a token (printed once)")
    who = create.add_mutually_exclusive_group(required=True)
    who.add_argument("--agent", metavar="NAME")
    who.add_argument("--user", metavar="NAME")
    who.add_argument("--kiosk", action="store_true", help="read-only wall display token")
    create.add_argument("--expires", type=float, metavar="DAYS")
    create.add_argument("--site", help="kiosk: site the wall shows (default: whole province)")
    create.add_argument("--label")
    create.set_defaults(func=_token_create)
    revoke = token.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("id", type=int)
    revoke.add_argument("--reason")
    revoke.set_defaults(func=_token_revoke)
    tl = token.add_parser("list", help="list tokens (never their values)")
    tl.set_defaults(func=_token_list)

    boot = subparsers.add_parser("bootstrap", help="create the first administrator")
    boot.add_argument("--name", default="admin")
    boot.add_argument("--site", help="default: the root of the site tree in inventory.yaml")
    boot.set_defaults(func=_bootstrap)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no passwd entry in a container
        return "cli"


def _db() -> tuple[Settings, Database]:
    settings = Settings()
    return settings, open_migrated(settings)


def _tree(settings: Settings) -> Inventory | None:
    if not settings.inventory_path.exists():
        print(f"warning: {settings.inventory_path} missing; site ids are not checked", file=sys.stderr)
        return None

    return load_inventory(settings.inventory_path)


def _check_site(settings: Settings, site: str) -> None:
    tree = _tree(settings)
    if tree is not None and site not in tree.sites:
        raise users.AccountError(f"site {site!r} is not in {settings.inventory_path}")


def _password_from(var: str | None) -> tuple[str, bool]:
    """(password, generated?)"""
    if var is None:
        return users.random_password(), True
    value = os.environ.get(var)
    if not value:
        raise users.AccountError(f"--password-env {var}: the variable is not set or empty")
    return value, False


def _fail(exc: Exception) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return 2


def _user_add(args: argparse.Namespace) -> int:
    settings, db = _db()
    try:
        _check_site(settings, args.site)
        password, generated = _password_from(args.password_env)
        users.create(db, args.name, args.role, args.site, password, actor=_actor(), reason=args.reason)
    except ValueError as exc:
        return _fail(exc)
    print(f"created {args.name} ({args.role} at {args.site})")
    if generated:
        print(f"password (shown once): {password}")
    return 0


def _user_list(args: argparse.Namespace) -> int:
    _settings, db = _db()
    for u in users.list_users(db):
        print(f"{u.name}\t{u.role}\t{u.site}\t{'disabled' if u.disabled else 'enabled'}")
    return 0


def _user_toggle(args: argparse.Namespace) -> int:
    _settings, db = _db()
    try:
        users.update(db, args.name, disabled=args.op == "disable", actor=_actor(), reason=args.reason)
    except ValueError as exc:
        return _fail(exc)
    print(f"{args.op}d {args.name}")
    return 0


def _user_password(args: argparse.Namespace) -> int:
    _settings, db = _db()
    try:
        password, generated = _password_from(args.password_env)
        revoked = passwords.set_password(
            db, args.name, password, actor=_actor(), reason=args.reason or "reset from the CLI"
        )
    except ValueError as exc:
        return _fail(exc)
    print(f"password of {args.name} replaced; their sessions are ended, {len(revoked)} API token(s) revoked")
    if generated:
        print(f"password (shown once): {password}")
    return 0


def _token_create(args: argparse.Namespace) -> int:
    settings, db = _db()
    kind, subject = (
        ("agent", args.agent) if args.agent else ("user", args.user) if args.user else ("kiosk", None)
    )
    try:
        if args.site is not None:
            if kind != "kiosk":
                raise tokens.TokenError("--site applies to kiosk tokens only")
            _check_site(settings, args.site)
        token, raw = tokens.create(
            db,
            kind,
            subject,
            actor=_actor(),
            site=args.site,
            expires_days=args.expires,
            label=args.label,
            tree=_tree(settings),  # files the audit row under the token's reach
        )
    except ValueError as exc:
        return _fail(exc)
    print(
        f"token #{token.id} ({kind}{' ' + subject if subject else ''}) created; shown once:", file=sys.stderr
    )
    print(raw)
    return 0


def _token_revoke(args: argparse.Namespace) -> int:
    settings, db = _db()
    try:
        tokens.revoke(db, args.id, actor=_actor(), reason=args.reason, tree=_tree(settings))
    except ValueError as exc:
        return _fail(exc)
    print(f"revoked token #{args.id}")
    return 0


def _token_list(args: argparse.Namespace) -> int:
    _settings, db = _db()
    now = time.time()
    for t in tokens.list_tokens(db):
        state = "revoked" if t.revoked_ts else "active" if t.active(now) else "expired"
        print(f"{t.id}\t{t.kind}\t{t.subject or ''}\t{t.site or ''}\t{state}\t{t.label or ''}")
    return 0


def first_administrator(
    settings: Settings, db: Database, name: str, site: str | None
) -> tuple[str, str | None]:
    """Create the first administrator (``nms bootstrap``, ``nms init``): (site, password to show).

    The password comes from ``NMS_ADMIN_PASSWORD`` (then nothing is shown) or is random and
    returned to be printed once; only its hash is stored.  ``ValueError`` if one exists.
    """
    if any(u.role == "administrator" for u in users.list_users(db)):
        raise users.AccountError("an administrator already exists; use `nms user add`")
    if site is None:
        tree = _tree(settings)
        roots = [s.id for s in tree.sites.values() if s.parent is None] if tree else []
        if len(roots) != 1:
            raise users.AccountError("cannot find the root of the site tree; pass --site")
        site = roots[0]
    else:
        _check_site(settings, site)
    env = os.environ.get("NMS_ADMIN_PASSWORD")
    password = env or users.random_password()
    users.create(
        db, name, "administrator", site, password, actor=_actor(), reason="bootstrap: first administrator"
    )
    return site, None if env else password


def _bootstrap(args: argparse.Namespace) -> int:
    settings, db = _db()
    try:
        site, password = first_administrator(settings, db, args.name, args.site)
    except ValueError as exc:
        return _fail(exc)
    print(f"created administrator {args.name} at {site}")
    if password:
        print(f"password (shown once): {password}")
    return 0
