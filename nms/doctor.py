"""``nms doctor``: check a centre's deployment and say what is wrong, one line per check.

Each line is ``ok``, ``warn`` or ``fail`` with what was checked and, if not ok, what to
do.  Exit status 1 when any check fails (for scripts, monitoring and the install test).
It only reads: no database or file is created or changed.
"""

from __future__ import annotations

import argparse
import os
import stat
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from nms import clockskew, schema, state
from nms.config import Settings
from nms.db import DATABASES, DatabaseErrors, memory, open_read_only, where
from nms.init import secret_variables, secrets_file, settings_from
from probes.common.inventory import InventoryError, load_inventory
from probes.common.inventory_model import Inventory
from probes.common.secrets import SecretError, read_secrets_file

# deploy/nginx/nms.conf's certificate and the CA of the agents' client certificates.
CLOCK_APART_S = 60.0  # an agent this far from the centre: a time-sync problem to fix
DEFAULT_TLS = ("/etc/nms/tls/centre.pem", "/etc/nms/tls/agents-ca.pem")


@dataclass(frozen=True)
class Check:
    level: str  # ok | warn | fail
    what: str
    detail: str

    def __str__(self) -> str:
        return f"{self.level:<4}  {self.what}: {self.detail}"


def check_inventory(path: Path) -> tuple[Check, Inventory | None]:
    try:
        inv = load_inventory(path)
    except FileNotFoundError:
        return Check("fail", "inventory", f"{path}: missing (set NMS_INVENTORY)"), None
    except InventoryError as exc:
        return Check("fail", "inventory", "\n      ".join([str(path) + ": invalid", *exc.errors])), None
    except OSError as exc:
        return Check("fail", "inventory", f"{path}: {exc}"), None
    detail = f"{path}: {len(inv.sites)} sites, {len(inv.devices)} devices, {len(inv.agents)} agents"
    return Check("ok", "inventory", detail), inv


def _owner_only(path: Path, what: str, mode_wanted: str) -> Check:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        return Check("fail", what, f"{path}: mode {mode:04o}, open to group/others (chmod {mode_wanted})")
    return Check("ok", what, f"{path}: mode {mode:04o}")


def check_data_dir(path: Path) -> Check:
    if not path.is_dir():
        return Check("fail", "data directory", f"{path}: missing (run `nms init`)")
    if not os.access(path, os.W_OK):
        return Check("fail", "data directory", f"{path}: not writable by this user")
    return _owner_only(path, "data directory", "700")


def expected_columns(name: str) -> dict[str, set[str]]:
    """Tables and columns a current database ``name`` has: made afresh in memory."""
    db = memory(name)
    schema.create_schema(db, name)
    return {t: set(db.columns(t)) for t in db.table_names()}


def check_database(settings: Settings, name: str) -> Check:
    """Reachable, undamaged, every schema step applied and every expected column there."""
    what, at = f"database {name}", where(settings, name)
    if not settings.database_url and not (settings.data_dir / f"{name}.db").exists():
        return Check("fail", what, f"{at}: missing (run `nms init`)")
    try:
        with closing(open_read_only(settings, name)) as db:
            if (ok := db.execute("PRAGMA quick_check").fetchone()[0]) != "ok":
                return Check("fail", what, f"{at}: damaged ({ok}); restore a backup (`nms restore`)")
            steps = schema.pending(db, name)
            have = {t: set(db.columns(t)) for t in db.table_names()}
    except DatabaseErrors as exc:
        return Check("fail", what, f"{at}: cannot reach or read it ({str(exc).strip()})")
    missing: list[str] = []
    for table, columns in expected_columns(name).items():
        missing += [table] if table not in have else [f"{table}.{c}" for c in sorted(columns - have[table])]
    if missing:
        shown = ", ".join(missing[:6]) + (" ..." if len(missing) > 6 else "")
        return Check("fail", what, f"{at}: not migrated, missing {shown} (run `nms init`)")
    if steps:
        shown = ", ".join(f"{c} v{v}" for c, v in steps[:6]) + (" ..." if len(steps) > 6 else "")
        return Check("fail", what, f"{at}: not migrated, schema steps not applied: {shown} (run `nms init`)")
    return Check("ok", what, f"{at}: reachable, migrated")


def check_secrets(settings: Settings, variables: list[str]) -> Iterator[Check]:
    path = secrets_file(settings)
    if not path.exists():
        level = "fail" if settings.secrets_path else "warn"
        yield Check(level, "secrets file", f"{path}: missing (run `nms init`, or set the variables)")
        return
    try:
        values = read_secrets_file(path)  # refuses a file open to group/others, naming the chmod
    except SecretError as exc:
        yield Check("fail", "secrets file", str(exc))
        return
    unset = [v for v in variables if not (os.environ.get(v) or values.get(v))]
    if unset:
        yield Check(
            "warn", "secrets file", f"{path}: not set here nor in the environment: {', '.join(unset)}"
        )
    else:
        yield Check(
            "ok", "secrets file", f"{path}: mode 0600, the {len(variables)} variable(s) named are set"
        )


def check_tls(path: Path, now: float, warn_days: float) -> Check:
    what = f"TLS {path}"
    try:
        certs = x509.load_pem_x509_certificates(path.read_bytes())
    except OSError as exc:
        return Check("fail", what, f"cannot read ({exc.strerror or exc})")
    except ValueError as exc:
        return Check("fail", what, f"not a PEM certificate ({exc})")
    leaf = certs[0]
    end = leaf.not_valid_after_utc.timestamp()
    until = leaf.not_valid_after_utc.strftime("%Y-%m-%d %H:%M UTC")
    days = (end - now) / 86400
    if days <= 0:
        return Check("fail", what, f"expired on {until}: agents and browsers refuse it")
    if leaf.not_valid_before_utc.timestamp() > now:
        return Check("fail", what, f"not valid before {leaf.not_valid_before_utc:%Y-%m-%d %H:%M UTC}")
    if days < warn_days:
        return Check("warn", what, f"expires in {days:.0f} day(s), on {until}: renew it")
    return Check("ok", what, f"valid until {until} ({days:.0f} days)")


def check_agents(settings: Settings, inv: Inventory | None, now: float, silent_s: float) -> Iterator[Check]:
    """Agents heard from recently, and no agent's clock running ahead (nms.clockskew)."""
    if inv is None or (not settings.database_url and not (settings.data_dir / "centre.db").exists()):
        return
    try:
        with closing(open_read_only(settings, "centre")) as db:
            heard = state.last_batch_by_agent(db)
            skewed = clockskew.open_refusals(db)
            clocks = [c for c in clockskew.agent_clocks(db) if now - c.seen_at <= silent_s]
    except DatabaseErrors:
        return  # unreachable or unmigrated: the database's own check says so
    for name in sorted(inv.agents):
        if name not in heard:
            yield Check("warn", f"agent {name}", "never heard from")
        elif now - heard[name] > silent_s:
            yield Check("warn", f"agent {name}", f"silent for {(now - heard[name]) / 60:.0f} min")
        else:
            yield Check("ok", f"agent {name}", f"last batch {now - heard[name]:.0f} s ago")
    for k in skewed:
        yield Check(
            "fail",
            f"clock of agent {k.agent}",
            f"{k.ahead_s:.0f} s ahead of the centre's (more than {k.max_skew_s:.0f} s): its batches are "
            "refused; fix its time sync (NTP/chrony), then run it with --requeue-dead-letters",
        )
    apart = [c for c in clocks if abs(c.skew_s) >= CLOCK_APART_S and c.agent not in {k.agent for k in skewed}]
    for c in apart:
        yield Check(
            "warn",
            f"clock of agent {c.agent}",
            f"{abs(c.skew_s) / 60:.1f} min {'ahead of' if c.skew_s > 0 else 'behind'} the centre's when it"
            " last fetched its configuration: its samples are restamped, but fix its time sync (NTP/chrony)",
        )
    if inv.agents and not skewed and not apart:
        yield Check("ok", "clocks", f"agents' clocks within {CLOCK_APART_S:.0f} s of the centre's")


def checks(
    settings: Settings,
    tls: list[Path],
    now: float | None = None,
    warn_days: float = 21,
    silent_s: float = 600,
) -> list[Check]:
    now = time.time() if now is None else now
    inv_check, inv = check_inventory(settings.inventory_path)
    out = [inv_check, check_data_dir(settings.data_dir)]
    out += [check_database(settings, name) for name in DATABASES]
    out += check_secrets(settings, secret_variables(settings) if inv else [])
    key = settings.data_dir / "secret_key"
    if key.exists():
        out.append(_owner_only(key, "session key", "600"))
    out += [check_tls(p, now, warn_days) for p in tls]
    out += check_agents(settings, inv, now, silent_s)
    return out


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    tls = [Path(p) for p in args.tls] if args.tls else [Path(p) for p in DEFAULT_TLS if os.path.exists(p)]
    results = checks(settings, tls, warn_days=args.tls_warn_days, silent_s=args.agent_silent_min * 60)
    for c in results:
        print(c)
    failed = sum(c.level == "fail" for c in results)
    warned = sum(c.level == "warn" for c in results)
    print(f"{len(results)} checks: {failed} failed, {warned} warnings")
    return 1 if failed else 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("doctor", help="check this centre's deployment", description=__doc__)
    p.add_argument("--data-dir", help="default NMS_DATA_DIR")
    p.add_argument("--secrets-file", help="default NMS_SECRETS_FILE or <data dir>/secrets.env")
    p.add_argument(
        "--tls",
        action="append",
        metavar="CERT",
        help=f"certificate file to check (repeatable; default {', '.join(DEFAULT_TLS)} if present)",
    )
    p.add_argument("--tls-warn-days", type=float, default=21.0, help="warn when a certificate expires sooner")
    p.add_argument("--agent-silent-min", type=float, default=10.0, help="warn about agents silent this long")
    p.set_defaults(func=run)
