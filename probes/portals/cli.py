"""``agent.py check-site URL``: check one portal page once and print the result.

Exit status: 0 when the check completed, whatever it found (the findings are the
answer); 2 for bad arguments or an unreadable baseline or list.  ``--learn`` writes the
page as the approved baseline to ``--baseline FILE`` (only when the page was fetched).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from urllib.parse import urlsplit


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "check-site", help="check one portal page once (status, TLS, defacement, dark links)"
    )
    p.add_argument("url", help="http:// or https:// URL")
    p.add_argument(
        "--baseline", type=Path, help="approved page (JSON) to compare with, or to write with --learn"
    )
    p.add_argument("--learn", action="store_true", help="write this fetch as the baseline to --baseline")
    p.add_argument(
        "--mask",
        action="extend",
        nargs="+",
        default=[],
        metavar="SELECTOR",
        help="CSS selector of a dynamic region to ignore; 're:REGEX' masks matching text",
    )
    p.add_argument("--clone-of", type=Path, help="baseline of the real portal: is URL a clone of it?")
    p.add_argument(
        "--as-crawler",
        action="store_true",
        help="also fetch as Baiduspider: hacked sites show SEO spam only to crawlers",
    )
    p.add_argument("--ca-file", help="extra CA certificates (PEM) to trust")
    p.add_argument("--timeout", type=float, default=15.0, help="bound on the whole check, seconds")
    p.add_argument("--max-bytes", type=int, default=5 * 1024 * 1024, help="cut the body here")
    p.add_argument("--max-redirects", type=int, default=8)
    p.add_argument("--slow-ms", type=float, default=3000.0)
    p.add_argument("--expiring-days", type=int, default=14)
    p.add_argument("--domains", type=Path, help="bad-domain list (default: the shipped one)")
    p.add_argument("--words", type=Path, help="forbidden-word list (default: the shipped one)")
    p.add_argument("--json", action="store_true", help="print the JSON result (default: a summary)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # httpx and selectolax load only for this command, not for every agent start
    from probes.portals.baseline import Baseline
    from probes.portals.check import check_site
    from probes.portals.detect import Thresholds
    from probes.portals.fetch import Limits
    from probes.portals.lists import Lists
    from probes.portals.page import split_masks

    try:
        if urlsplit(args.url).scheme not in ("http", "https") or not urlsplit(args.url).hostname:
            raise ValueError(f"{args.url!r}: give an http:// or https:// URL")
        if args.learn and not args.baseline:
            raise ValueError("--learn needs --baseline FILE to write to")
        base = Baseline.load(args.baseline) if args.baseline and not args.learn else None
        real = Baseline.load(args.clone_of) if args.clone_of else None
        lists = Lists.load(args.domains, args.words)
        selectors, regexes = split_masks(args.mask)
        limits = Limits(
            total_s=args.timeout,
            max_bytes=args.max_bytes,
            max_redirects=args.max_redirects,
            ca_file=args.ca_file,
        )
        thresholds = Thresholds(slow_ms=args.slow_ms, expiring_days=args.expiring_days)
        result, fetched, page = asyncio.run(
            check_site(
                args.url,
                baseline=base,
                clone_of=real,
                selectors=selectors,
                regexes=regexes,
                lists=lists,
                limits=limits,
                thresholds=thresholds,
                as_crawler=args.as_crawler,
            )
        )
    except ValueError as exc:
        print(f"agent.py check-site: {exc}", file=sys.stderr)
        return 2
    if args.learn:
        result["learned"] = page is not None and not fetched.error
        if result["learned"]:
            Baseline.learn(args.url, fetched.final_url, page, selectors, regexes).save(args.baseline)
        else:
            print(
                f"agent.py check-site: nothing learned, the page was not fetched ({fetched.error})",
                file=sys.stderr,
            )
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        print(
            f"{args.url}: status {result['status']}, {result['timings_ms'].get('total')} ms, "
            f"{len(result['findings'])} finding(s)"
        )
        for f in result["findings"]:
            print(f"  {f['kind']}: {f['detail']}")
    return 0
