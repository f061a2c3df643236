"""Run one portal check against a loopback site, and learn baselines, in-process."""

from __future__ import annotations

import asyncio

from probes.portals.baseline import Baseline
from probes.portals.check import check_site
from probes.portals.detect import Thresholds
from probes.portals.fetch import Limits


def check(
    url: str, *, ca=None, total_s: float = 10.0, max_bytes: int = 5 << 20, thresholds=None, **kw
) -> dict:
    limits = Limits(total_s=total_s, max_bytes=max_bytes, ca_file=str(ca.pem) if ca else None)
    result, _, _ = asyncio.run(check_site(url, limits=limits, thresholds=thresholds or Thresholds(), **kw))
    return result


def learn(url: str, selectors=(), regexes=(), ca=None) -> Baseline:
    limits = Limits(ca_file=str(ca.pem) if ca else None)
    _, fetched, page = asyncio.run(check_site(url, limits=limits, selectors=selectors, regexes=regexes))
    assert page is not None, fetched.error
    return Baseline.learn(url, fetched.final_url, page, list(selectors), list(regexes))


def kinds(result: dict) -> list[str]:
    return sorted({f["kind"] for f in result["findings"]})


def found(result: dict, kind: str) -> list[dict]:
    return [f for f in result["findings"] if f["kind"] == kind]
