"""The agent's portal checks: one :class:`PortalJob` per portal of the inventory, probed on
its interval by the run loop (:mod:`probes.agent.run`) and spooled like a poll result.

Everything that needs no baseline is found here (down, slow, TLS, dark links, forbidden
words, redirects, the expected title and keywords); the approved baselines live at the
centre, which judges the rest (defaced, foreign sources, clones on the watched look-alike
URLs) from the page snapshots sent with the result (:mod:`probes.portals.result`).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from probes.common.inventory_model import Inventory, Portal
from probes.portals import detect
from probes.portals.baseline import Baseline
from probes.portals.check import check_site
from probes.portals.fetch import Limits
from probes.portals.lists import Lists
from probes.portals.page import split_masks
from probes.portals.result import MAX_FINDINGS, snapshot_id

PAGE_KINDS = (
    "down",
    "slow",
    "tls-invalid",
    "tls-expiring",
    "dark-link",
    "forbidden-word",
    "redirect-foreign",
)


@dataclass(frozen=True)
class PortalJob:
    """What the scheduler needs (name, site, interval, problem) and where to fetch."""

    name: str
    site: str
    interval_s: float
    portal: Portal
    urls: tuple[tuple[str, str], ...] = ()  # inventory URL -> URL actually fetched (simulator, tests)
    problem: str | None = None
    profile: str | None = None  # the scheduler's failed-result shape asks for it

    def where(self, url: str) -> str:
        return dict(self.urls).get(url, url)


def read_url_map(path: Path | None) -> dict[str, str]:
    """``--portal-map FILE``: JSON ``{inventory URL: URL to fetch}`` (the simulator writes one)."""
    if path is None:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"--portal-map {path}: {exc}") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise ValueError(f"--portal-map {path}: expected a JSON object of URL -> URL")
    return data


def jobs_for(inventory: Inventory, agent: str, interval, url_map: dict[str, str]) -> list[PortalJob]:
    """One job per portal this agent probes; ``interval`` scales the inventory's (test knob)."""
    out = []
    for p in sorted(inventory.portals_of_agent(agent), key=lambda p: p.id):
        urls = tuple((u, url_map[u]) for u in (p.url, *p.pages, *p.lookalikes) if u in url_map)
        out.append(PortalJob(p.id, p.site, interval(p.interval_s), p, urls))
    return out


def expectations(portal: Portal, title: str, text: str) -> list[dict]:
    """The inventory's expected title and keywords: missing ones mean the page was replaced."""
    out = []
    if portal.expect_title and portal.expect_title not in title:
        out.append(detect.finding("defaced", f"title {title!r} lacks {portal.expect_title!r}", title=title))
    missing = [k for k in portal.keywords if k not in text]
    if missing:
        out.append(detect.finding("defaced", f"expected text missing: {', '.join(missing)}", missing=missing))
    return out


class Prober:
    """Checks portals; remembers the last snapshot fingerprint sent per portal."""

    def __init__(self, limits: Limits | None = None, lists: Lists | None = None) -> None:
        self.limits = limits or Limits()
        self.lists = lists or Lists.load()
        self.sent: dict[str, str] = {}

    def budget_s(self, job: PortalJob) -> float:
        """Longest a check of ``job`` can take: each fetch is bounded by the limits' deadline."""
        p = job.portal
        return self.limits.total_s * (1 + len(p.pages) + len(p.lookalikes)) + 5.0

    async def check(self, job: PortalJob) -> dict[str, Any]:
        p = job.portal
        selectors, regexes = split_masks(p.masks)
        thresholds = detect.Thresholds(expect_status=p.expect_status)
        start, t0 = time.time(), time.monotonic()
        opts = {"lists": self.lists, "limits": self.limits, "thresholds": thresholds}
        res, fetched, page = await check_site(job.where(p.url), selectors=selectors, regexes=regexes, **opts)
        findings = list(res["findings"])
        snapshot = None
        if page is not None and fetched.status == p.expect_status:
            findings += expectations(p, page.title, page.text)
            snapshot = Baseline.learn(p.url, fetched.final_url, page, selectors, regexes)
        for url in p.pages:
            other, _, _ = await check_site(job.where(url), selectors=selectors, regexes=regexes, **opts)
            for f in other["findings"]:
                if f["kind"] in PAGE_KINDS:
                    f["detail"] = f"{url}: {f['detail']}"
                    f.setdefault("evidence", {})["page"] = url
                    findings.append(f)
        lookalikes = [await self.lookalike(job, url, selectors, regexes, opts) for url in p.lookalikes]
        out = {
            "portal": p.id,
            "ts": start,
            "ok": not findings,
            "url": p.url,
            "final_url": res["final_url"],
            "status": res["status"],
            "timings_ms": res["timings_ms"],
            "tls": res["tls"],
            "fingerprint": res["fingerprint"],
            "body_bytes": res["body"]["bytes"],
            "findings": findings[:MAX_FINDINGS],  # the centre refuses more (and the batch with it)
            "lookalikes": lookalikes,
            "duration_s": round(time.monotonic() - t0, 3),
        }
        if snapshot is not None:
            out.update(self.snapshot(p.url, snapshot))
        return out

    def snapshot(self, url: str, snap: Baseline) -> dict[str, Any]:
        """``snapshot_id`` always, the snapshot only when it is not the one last sent for ``url``."""
        body = asdict(snap)
        sid = snapshot_id(body)
        if self.sent.get(url) == sid:
            return {"snapshot_id": sid}
        self.sent[url] = sid
        return {"snapshot_id": sid, "snapshot": body}

    async def lookalike(self, job: PortalJob, url: str, selectors, regexes, opts) -> dict[str, Any]:
        """A watched look-alike URL: its page goes to the centre, which compares it with the
        approved baseline (a clone copies the real page, not today's possibly defaced one)."""
        res, fetched, page = await check_site(job.where(url), selectors=selectors, regexes=regexes, **opts)
        out = {
            "url": url,
            "final_url": res["final_url"],
            "status": res["status"],
            "fingerprint": res["fingerprint"],
        }
        if page is not None and res["status"] == 200:
            out.update(self.snapshot(url, Baseline.learn(url, fetched.final_url, page, selectors, regexes)))
        return out


def failed(job: PortalJob, error: str, ts: float) -> dict[str, Any]:
    """A check that did not finish (the scheduler's deadline, a bug): reported as ``down``."""
    finding = detect.finding("down", f"check did not finish: {error}")
    return {"portal": job.name, "ts": ts, "ok": False, "url": job.portal.url, "findings": [finding]}
