"""Diff between any two stored versions, as shown to people (secrets masked)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from nms.configs import masking, store, vendors
from nms.db import Database


class VersionNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Diff:
    a: dict[str, Any]  # version rows without content
    b: dict[str, Any]
    lines: list[str]  # unified diff lines
    ignore_volatile: bool

    @property
    def changed(self) -> bool:
        return any(line[:1] in "+-" and not line.startswith(("+++", "---")) for line in self.lines)


def display_text(row: dict[str, Any], ignore_volatile: bool = False) -> str:
    spec = vendors.spec_for(row["device_type"])
    return masking.for_display(row["content"], spec.secrets, spec.volatile if ignore_volatile else ())


def diff_versions(db: Database, a_id: int, b_id: int, ignore_volatile: bool = True,
                  context: int = 3) -> Diff:
    rows = []
    for vid in (a_id, b_id):
        row = store.get_version(db, vid)
        if row is None:
            raise VersionNotFound(f"config version {vid} does not exist")
        rows.append(row)
    a, b = rows
    label = "{device} v{version} ({sha})"
    lines = list(difflib.unified_diff(
        display_text(a, ignore_volatile).split("\n"),
        display_text(b, ignore_volatile).split("\n"),
        fromfile=label.format(device=a["device"], version=a["version"], sha=a["sha256"][:12]),
        tofile=label.format(device=b["device"], version=b["version"], sha=b["sha256"][:12]),
        n=context, lineterm="",
    ))
    meta = [{k: v for k, v in r.items() if k != "content"} for r in rows]
    return Diff(meta[0], meta[1], lines, ignore_volatile)
