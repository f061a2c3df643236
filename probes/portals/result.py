"""A portal check as it travels agent -> spool -> batch -> centre: one model for both ends.

A batch's ``samples`` carry poll results and portal results side by side; a portal
result is the one with a ``portal`` key (the centre splits them, ``nms.pipeline``).
``snapshot`` is the checked page reduced to what a baseline holds
(:class:`probes.portals.baseline.Baseline` as a dict), named by ``snapshot_id``; the agent
sends the id with every check and the snapshot itself when it differs from the last one
it sent, and the centre, which holds the
approved baselines, judges the baseline findings (defaced, foreign-script, ...) from it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from probes.common.validation import Flag, Num, Text, problem
from probes.result import _plausible

KINDS = (
    "down",
    "slow",
    "tls-invalid",
    "tls-expiring",
    "oversize",
    "defaced",
    "dark-link",
    "foreign-script",
    "foreign-iframe",
    "forbidden-word",
    "redirect-foreign",
    "clone",
)
MAX_FINDINGS = 50


def _kind(v: str) -> str:
    if v not in KINDS:
        raise problem(f"unknown finding {v!r} (expected one of: {', '.join(KINDS)})")
    return v


class Finding(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    kind: Annotated[str, AfterValidator(_kind)]
    detail: str
    evidence: dict[str, Any] = Field(default_factory=dict)


class PortalResult(BaseModel):
    """One portal, one check (docs/portals.md, "The portal result")."""

    model_config = ConfigDict(extra="allow", strict=True)

    portal: Text
    ts: Annotated[Num, AfterValidator(_plausible)]
    ok: Flag
    url: str
    status: int | None = None
    timings_ms: dict[str, Num | None] = Field(default_factory=dict)
    tls: dict[str, Any] | None = None
    fingerprint: str | None = None
    findings: Annotated[list[Finding], Field(max_length=MAX_FINDINGS)] = Field(default_factory=list)
    snapshot: dict[str, Any] | None = None
    snapshot_id: str | None = None
    duration_s: Num | None = None


def snapshot_id(snapshot: dict[str, Any]) -> str:
    """Names a snapshot by everything in it but when it was taken: the page fingerprint covers
    only the stable text, and a new script or hidden link must still read as a new page."""
    body = {k: v for k, v in snapshot.items() if k != "learned_at"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:32]


def is_portal(sample: Any) -> bool:
    return isinstance(sample, dict) and "portal" in sample
