"""Findings judged against the approved baseline, which the centre holds (not the agent).

The agent found what needs no baseline; here the page's snapshot is compared with the
approved one by the same code ``agent.py check-site --baseline`` uses
(:mod:`probes.portals.detect`), so the two can never disagree.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from probes.portals import detect
from probes.portals.baseline import Baseline, compare
from probes.portals.sites import host_of, same_site, site_of

_FIELDS = {f.name for f in fields(Baseline)}


def baseline_of(data: dict[str, Any]) -> Baseline:
    """A snapshot or stored baseline as a :class:`Baseline` (unknown keys ignored)."""
    return Baseline(**{k: v for k, v in data.items() if k in _FIELDS})


def judge(
    result: dict[str, Any],
    snap: Baseline | None,
    base: Baseline | None,
    lookalikes: list[tuple[str, Baseline]] = (),
) -> list[dict[str, Any]]:
    """The result's findings with the baseline's verdicts: defaced, foreign scripts and
    iframes, clones added; hidden links and redirects the approved page had too dropped.
    ``lookalikes``: (fetched URL, page) of the watched look-alike URLs that answered."""
    findings = [dict(f) for f in result.get("findings") or ()]
    if base is None:
        return findings
    for url, page in lookalikes:
        findings += detect.clone(page, base, url, detect.Thresholds())[1]  # type: ignore[arg-type]
    if snap is None:
        return findings
    out = []
    for f in findings:
        if f["kind"] == "dark-link" and f.get("evidence", {}).get("links"):
            links = [
                lk
                for lk in f["evidence"]["links"]
                if str(lk.get("why", "")).startswith("listed")
                or host_of(lk.get("url", "")) not in base.hidden_link_hosts
            ]
            if not links:
                continue
            f["evidence"] = {**f["evidence"], "links": links}
        final_site = site_of(host_of(result.get("final_url") or ""))
        if f["kind"] == "redirect-foreign" and final_site == base.final_site:
            continue
        out.append(f)
    if result.get("status") is not None and not any(f["kind"] == "down" for f in out):
        out += detect.defaced(compare(base, snap), base, detect.Thresholds())  # type: ignore[arg-type]
    site = host_of(result.get("final_url") or result.get("url") or "")
    for kind, now, known in (
        ("foreign-script", snap.script_hosts, base.script_hosts),
        ("foreign-iframe", snap.iframe_hosts, base.iframe_hosts),
    ):
        new = [h for h in now if not same_site(h, site) and h not in known]
        if new:
            out.append(detect.finding(kind, f"new third-party source {new[0]}", hosts=new))
    return out
