"""One portal check: fetch, read, compare, find.  Returns the JSON-ready result."""

from __future__ import annotations

import hashlib

from probes.portals import detect
from probes.portals.baseline import Baseline, compare
from probes.portals.decode import decode
from probes.portals.fetch import CRAWLER_AGENT, Fetched, Limits, fetch
from probes.portals.lists import Lists
from probes.portals.page import Masks, Page, parse
from probes.portals.sites import host_of, site_of


async def check_site(
    url: str,
    *,
    baseline: Baseline | None = None,
    clone_of: Baseline | None = None,
    selectors: list[str] = (),
    regexes: list[str] = (),
    lists: Lists | None = None,
    limits: Limits | None = None,
    thresholds: detect.Thresholds | None = None,
    as_crawler: bool = False,
) -> tuple[dict, Fetched, Page | None]:
    """Check ``url``; masks are the baseline's plus ``selectors``/``regexes``.

    ``as_crawler`` fetches the page a second time as a search engine's crawler and
    reports what only the crawler is shown (a second request per check, hence opt-in).
    """
    lists = lists or Lists.load()
    limits = limits or Limits()
    thresholds = thresholds or detect.Thresholds()
    if baseline is not None:
        selectors = [*baseline.mask_selectors, *(s for s in selectors if s not in baseline.mask_selectors)]
        regexes = [*baseline.mask_regexes, *(r for r in regexes if r not in baseline.mask_regexes)]
    masks = Masks(selectors, regexes)
    f = await fetch(url, limits)
    findings = detect.transport(f, thresholds)
    if baseline is not None and site_of(host_of(f.final_url)) == baseline.final_site:
        findings = [x for x in findings if x["kind"] != "redirect-foreign"]  # the approved redirect
    result = {
        "ok": False,
        "url": url,
        "final_url": f.final_url,
        "status": f.status,
        "redirects": len(f.hops[1:]),
        "timings_ms": f.timings_ms,
        "tls": {k: f.tls[k] for k in ("valid", "days_left", "subject", "issuer", "hostname_match", "error")}
        if f.tls
        else None,
        "body": {"bytes": len(f.body), "truncated": f.truncated, "charset": None, "sha256": None},
        "fingerprint": None,
        "changed": None,
        "similarity": None,
        "findings": findings,
    }
    page = None
    if f.status is not None and f.body:
        text, charset = decode(bytes(f.body), f.content_type)
        page = parse(text, f.final_url, masks)
        result["body"]["charset"] = charset
        result["fingerprint"] = page.fingerprint
        findings += detect.content(page, lists, f.final_url, baseline)
        if (
            baseline is not None and f.status == thresholds.expect_status
        ):  # an error page is `down`, not defaced
            cmp = compare(baseline, page)
            result["changed"] = page.fingerprint != baseline.fingerprint
            result["similarity"] = cmp.similarity
            findings += detect.defaced(cmp, baseline, thresholds)
        if as_crawler:
            g = await fetch(url, limits, CRAWLER_AGENT)
            if g.status is not None and g.body:
                seen = parse(decode(bytes(g.body), g.content_type)[0], g.final_url, masks)
                findings += detect.cloaking(page, seen, lists, f.final_url, thresholds)
        if clone_of is not None:
            sim, found = detect.clone(page, clone_of, f.final_url, thresholds)
            result["clone_similarity"] = sim
            findings += found
    if f.body:
        result["body"]["sha256"] = hashlib.sha256(f.body).hexdigest()
    result["ok"] = not findings
    return result, f, page
