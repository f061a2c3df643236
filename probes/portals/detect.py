"""Findings from one fetch and page, each with its evidence.

General rules, not fitted to any page: a defacement is judged by how much of the
approved stable text (everything outside masks and lists) is gone or new, never by
particular words; a dark link by how it is hidden and where it points.
"""

from __future__ import annotations

from dataclasses import dataclass

from probes.portals.baseline import Baseline, Comparison, similarity
from probes.portals.fetch import Fetched
from probes.portals.lists import Lists
from probes.portals.page import Page, hosts
from probes.portals.sites import host_of, same_site, site_of

MAX_EVIDENCE = 10


@dataclass(frozen=True)
class Thresholds:
    slow_ms: float = 3000.0
    expiring_days: int = 14
    deface_share: float = 0.5  # share of the approved stable text removed or added
    deface_min_chars: int = 30  # ...and at least this many characters
    clone_similarity: float = 0.5
    cloaking_similarity: float = 0.8  # below this, the crawler is shown another page
    expect_status: int = 200


def finding(kind: str, detail: str, **evidence) -> dict:
    return {"kind": kind, "detail": detail, **({"evidence": evidence} if evidence else {})}


def transport(f: Fetched, t: Thresholds) -> list[dict]:
    """down, slow, redirect-foreign, tls-invalid, tls-expiring, oversize."""
    out = []
    if f.error:
        out.append(finding("down", f.error, status=f.status))
    elif f.status != t.expect_status:
        out.append(finding("down", f"HTTP {f.status}, expected {t.expect_status}", status=f.status))
    if f.timings_ms.get("total", 0) > t.slow_ms and not f.error:
        out.append(
            finding("slow", f"{f.timings_ms['total']:.0f} ms > {t.slow_ms:.0f} ms", timings_ms=f.timings_ms)
        )
    start = host_of(f.url)
    led_to = [h["url"] for h in f.hops] + ([f.final_url] if f.final_url != f.url else [])
    foreign = [u for u in led_to if not same_site(host_of(u), start)]
    if foreign:
        out.append(finding("redirect-foreign", f"{f.url} redirects to {foreign[0]}", hops=f.hops))
    if f.tls and not f.tls["valid"]:
        out.append(
            finding("tls-invalid", f"certificate not accepted: {f.tls['error']}", subject=f.tls["subject"])
        )
    if f.tls and f.tls["days_left"] <= t.expiring_days:
        left = f.tls["days_left"]
        what = f"expired {-left} days ago" if f.tls["expired"] else f"expires in {left} days"
        out.append(
            finding("tls-expiring", f"certificate {what} ({f.tls['not_after']})", subject=f.tls["subject"])
        )
    if f.truncated:
        out.append(finding("oversize", f"body cut at {len(f.body)} bytes (the page is larger)"))
    return out


def content(page: Page, lists: Lists, base_url: str, base: Baseline | None) -> list[dict]:
    """dark-link, foreign-script, foreign-iframe, forbidden-word."""
    out = []
    site = host_of(base_url)
    known_hidden = set(base.hidden_link_hosts) if base else set()
    dark = []
    for link in page.links:
        bad = lists.bad_domain(link.url)
        host = host_of(link.url)
        if bad:
            dark.append(
                {"url": link.url, "text": link.text, "why": f"listed domain {bad}", "hidden": link.hidden}
            )
        elif link.hidden and host and not same_site(host, site) and host not in known_hidden:
            dark.append({"url": link.url, "text": link.text, "why": link.hidden})
    if dark:
        out.append(
            finding(
                "dark-link",
                f"{len(dark)} dark link(s), first {dark[0]['url']} ({dark[0]['why']})",
                links=dark[:MAX_EVIDENCE],
            )
        )
    away = [(how, url) for how, url in page.redirects if host_of(url) and not same_site(host_of(url), site)]
    if away:
        how, url = away[0]
        out.append(finding("redirect-foreign", f"the page sends visitors to {url} ({how})", redirects=away))
    if page.hidden_writes:
        out.append(
            finding("dark-link", "a script writes hidden markup", scripts=page.hidden_writes[:MAX_EVIDENCE])
        )
    if base is not None:
        for kind, urls, known in (
            ("foreign-script", page.scripts, base.script_hosts),
            ("foreign-iframe", page.iframes, base.iframe_hosts),
        ):
            new = [h for h in hosts(urls) if not same_site(h, site) and h not in known]
            if new:
                srcs = [u for u in urls if host_of(u) in new]
                out.append(
                    finding(kind, f"new third-party source {new[0]}", hosts=new, urls=srcs[:MAX_EVIDENCE])
                )
    if words := lists.words_in(page.text):
        out.append(
            finding("forbidden-word", "the page publishes " + ", ".join(words[:MAX_EVIDENCE]), words=words)
        )
    return out


def defaced(cmp: Comparison, base: Baseline, t: Thresholds) -> list[dict]:
    size = max(1, sum(map(len, base.content)))
    share = max(cmp.added, cmp.removed) / size
    big = share >= t.deface_share and max(cmp.added, cmp.removed) >= t.deface_min_chars
    if cmp.title_changed or big or cmp.new_overlays:
        why = (
            "title changed"
            if cmp.title_changed
            else f"{share:.0%} of the approved text changed"
            if big
            else f"a new overlay covers the page: {cmp.new_overlays[0][:80]!r}"
        )
        return [
            finding(
                "defaced",
                f"{why} (similarity {cmp.similarity:.2f})",
                similarity=cmp.similarity,
                added_chars=cmp.added,
                overlays=cmp.new_overlays,
                removed_chars=cmp.removed,
                diff=cmp.diff,
            )
        ]
    return []


def clone(page: Page, real: Baseline, url: str, t: Thresholds) -> tuple[float, list[dict]]:
    """Similarity of a look-alike page to the real portal's approved page."""
    sim = round(similarity([real.title, *real.content, *sorted(real.churn)], _whole(page))[0], 3)
    if sim >= t.clone_similarity and site_of(host_of(url)) != real.final_site:
        return sim, [
            finding("clone", f"{url} serves content {sim:.0%} similar to {real.url}", similarity=sim)
        ]
    return sim, []


def _whole(page: Page) -> list[str]:
    return [page.title, *page.content, *sorted(page.churn)]


def cloaking(page: Page, crawler: Page, lists: Lists, base_url: str, t: Thresholds) -> list[dict]:
    """What the page shows a search engine's crawler and not a visitor: hacked-site SEO spam."""
    site = host_of(base_url)
    shown = {lk.url for lk in page.links}
    extra = [lk.url for lk in crawler.links if lk.url not in shown and not same_site(host_of(lk.url), site)]
    words = sorted(set(lists.words_in(crawler.text)) - set(lists.words_in(page.text)))
    sim = round(similarity(_whole(page), _whole(crawler))[0], 3)
    if extra or words or sim < t.cloaking_similarity:
        what = f"{len(extra)} foreign link(s)" if extra else f"other content (similarity {sim:.2f})"
        return [
            finding(
                "dark-link",
                f"crawlers are shown {what} that visitors are not",
                similarity=sim,
                links=extra[:MAX_EVIDENCE],
                words=words,
            )
        ]
    return []
