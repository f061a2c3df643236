"""Inventory changes without a restart: validated first, then audited with a diff.

``nms serve`` looks at ``inventory.yaml`` every few seconds (:func:`watch_loop`); ``nms
inventory reload`` does the same at once and names who ran it.  A file that does not
validate is refused with every ``file:line: field: problem`` (logged, printed by the
command) and the centre keeps running with the last valid inventory
(:func:`nms.auth.scope.site_tree` keeps it in memory, and after a restart reads the copy
below).  A valid change is one ``inventory.change`` row of the audit log: who (the user who
ran the command; for a change the watch found, the file's owner), a summary of what was
added, removed or changed per section, and a unified diff of the file (secrets are never
in the inventory, so the diff holds none).  The accepted text is kept in
``<data_dir>/inventory.accepted.yaml``: the base of the next diff.

Agents pick a change up at their next configuration poll (:mod:`nms.agentconfig`): the
centre answers from the same valid inventory.
"""

from __future__ import annotations

import argparse
import difflib
import fcntl
import getpass
import hashlib
import logging
import os
import pwd
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from nms import audit
from nms.auth.scope import ACCEPTED, load_accepted
from nms.config import Settings
from nms.leader import leader, ticks
from nms.schema import open_migrated
from probes.common.inventory import InventoryError, load_inventory
from probes.common.inventory_model import Inventory

log = logging.getLogger(__name__)

ACTION = "inventory.change"
MAX_DIFF = 64 * 1024  # characters of unified diff kept in one audit row
SECTIONS = ("sites", "devices", "links", "credentials", "agents", "portals")


@dataclass
class Outcome:
    """``first`` (no accepted copy yet), ``changed``, ``unchanged`` or ``refused`` (``errors``)."""

    status: Literal["first", "changed", "unchanged", "refused"]
    errors: list[str] = field(default_factory=list)
    changes: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    diff: str = ""
    audit_id: int | None = None


def accepted_path(settings: Settings) -> Path:
    return settings.data_dir / ACCEPTED


def changes(old: Inventory, new: Inventory) -> dict[str, dict[str, list[str]]]:
    """Per section, the names added, removed and changed (only sections that differ)."""
    out: dict[str, dict[str, list[str]]] = {}
    for section in SECTIONS:
        a, b = getattr(old, section), getattr(new, section)
        diff = {
            "added": sorted(set(b) - set(a)),
            "removed": sorted(set(a) - set(b)),
            "changed": sorted(k for k in set(a) & set(b) if _comparable(a[k]) != _comparable(b[k])),
        }
        if any(diff.values()):
            out[section] = {k: v for k, v in diff.items() if v}
    return out


def _comparable(entry: Any) -> dict[str, Any]:
    return {k: v for k, v in asdict(entry).items() if k != "line"}  # moving lines is no change


def text_diff(old: str, new: str, name: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), f"{name} (before)", f"{name} (after)"
    )
    text = "".join(lines)
    return text if len(text) <= MAX_DIFF else text[:MAX_DIFF] + "\n... (diff cut at 64 KiB)\n"


@contextmanager
def _locked(settings: Settings) -> Iterator[None]:
    """One checker at a time (``nms serve``'s watch and ``nms inventory reload``)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.data_dir / "inventory.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _write_accepted(settings: Settings, text: bytes) -> None:
    path = accepted_path(settings)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    with os.fdopen(fd, "wb") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def check(
    settings: Settings, actor: str, *, reason: str | None = None, source_ip: str | None = None
) -> Outcome:
    """Validate ``settings.inventory_path``; accept and audit it if it changed since the last time."""
    path = settings.inventory_path
    with _locked(settings):
        try:
            text = path.read_bytes()
        except OSError as exc:
            return Outcome("refused", [f"{path}: cannot read: {exc.strerror or exc}"])
        accepted = accepted_path(settings)
        old_text = accepted.read_bytes() if accepted.exists() else None
        if old_text == text:
            return Outcome("unchanged")
        try:
            new = load_inventory(path)
        except InventoryError as exc:
            return Outcome("refused", exc.errors)
        if path.read_bytes() != text:  # written to while we read it: the next look will see it whole
            return Outcome("unchanged")
        old = load_accepted(settings) if old_text is not None else None
        outcome = Outcome("first" if old is None else "changed")
        if old is not None and old_text is not None:
            outcome.changes = changes(old, new)
            outcome.diff = text_diff(old_text.decode("utf-8", "replace"), text.decode("utf-8"), path.name)
        after = {
            "sha256": hashlib.sha256(text).hexdigest(),
            "devices": len(new.devices),
            "changes": outcome.changes,
            "diff": outcome.diff,
        }
        before = {"sha256": hashlib.sha256(old_text).hexdigest()} if old_text is not None else None
        db = open_migrated(settings)
        try:
            outcome.audit_id = audit.record(
                db,
                actor,
                ACTION,
                str(path),
                before=before,
                after=after,
                reason=reason or ("first inventory accepted" if old is None else "inventory changed"),
                source_ip=source_ip,
            )
        finally:
            db.conn.close()
        _write_accepted(settings, text)
        return outcome


def file_owner(path: Path) -> str:
    """Who a change found by the watch is put down to: the file's owner (``uid:N`` if unnamed)."""
    try:
        uid = path.stat().st_uid
    except OSError:
        return "unknown"
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid:{uid}"


def report(outcome: Outcome, path: Path) -> None:
    """Log one outcome (a refusal with every error, a change with its summary)."""
    if outcome.status == "refused":
        log.error(
            "inventory %s refused, the centre keeps the last valid one:\n%s", path, "\n".join(outcome.errors)
        )
    elif outcome.status in ("changed", "first"):
        log.info("inventory %s accepted (%s): %s", path, outcome.status, outcome.changes or "first copy")


def watch_loop(settings: Settings, every_s: float, stop: threading.Event) -> None:
    """Check the file when its mtime or size moved (and once at start); refusals logged once each.

    Only the process leading ``inventory-watch`` checks (it audits and writes the accepted copy).
    """
    seen: tuple[float, int] | None = None
    refused: tuple[float, int] | None = None
    for _ in ticks(leader(settings, "inventory-watch"), stop, every_s, first_wait=False):
        try:
            st = settings.inventory_path.stat()
            now = (st.st_mtime, st.st_size)
        except OSError:
            now = None
        if now is not None and now != seen:
            try:
                outcome = check(
                    settings,
                    f"file:{file_owner(settings.inventory_path)}",
                    reason="inventory.yaml changed (noticed by nms serve)",
                )
            except Exception:
                log.exception("inventory check failed; will retry")
            else:
                if outcome.status != "refused" or refused != now:
                    report(outcome, settings.inventory_path)
                refused = now if outcome.status == "refused" else None
                seen = now


# ---- nms inventory reload ---------------------------------------------------------------------


def _reload(args: argparse.Namespace) -> int:
    settings = Settings()
    actor = os.environ.get("SUDO_USER") or getpass.getuser()
    outcome = check(settings, actor, reason=args.reason or "nms inventory reload")
    path = settings.inventory_path
    if outcome.status == "refused":
        print("\n".join(outcome.errors), file=sys.stderr)
        print(
            f"nms inventory reload: {path} refused; the centre keeps running with the last valid one",
            file=sys.stderr,
        )
        return 1
    if outcome.status == "unchanged":
        print(f"nms inventory reload: {path} unchanged since it was last accepted")
        return 0
    print(f"nms inventory reload: {path} accepted (audit #{outcome.audit_id})")
    for section, kinds in outcome.changes.items():
        for kind, names in kinds.items():
            print(f"  {section} {kind}: {', '.join(names)}")
    print("  the running centre serves it now; agents take it at their next configuration poll (1 min)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("inventory", help="inventory.yaml: validate and accept a change")
    sub = p.add_subparsers(dest="inventory_command", required=True)
    r = sub.add_parser(
        "reload",
        help="validate inventory.yaml now; if valid and changed, audit the change (with a diff)",
    )
    r.add_argument("--reason", help="why it changed, for the audit log")
    r.set_defaults(func=_reload)
