"""The approved state of a portal page, and how far the page now is from it.

Learned from one fetch (``check-site --learn``), written atomically as JSON.  The
comparison works on the masked stable text (``Page.content``): lines matched
as multisets, weighted by their length, so a changed paragraph on a large page counts
for little and a replaced body counts for everything.
"""

from __future__ import annotations

import difflib
import itertools
import json
import os
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from probes.portals.page import Page, hosts
from probes.portals.sites import host_of, site_of

VERSION = 1
DIFF_LINES = 60


@dataclass
class Baseline:
    url: str
    title: str
    content: list[str]
    churn: list[str]
    fingerprint: str
    script_hosts: list[str]
    iframe_hosts: list[str]
    hidden_link_hosts: list[str]
    final_site: str
    overlays: list[str] = field(default_factory=list)
    mask_selectors: list[str] = field(default_factory=list)
    mask_regexes: list[str] = field(default_factory=list)
    learned_at: str = ""
    version: int = VERSION

    @classmethod
    def learn(
        cls, url: str, final_url: str, page: Page, selectors: list[str], regexes: list[str]
    ) -> Baseline:
        return cls(
            url=url,
            title=page.title,
            content=page.content,
            churn=page.churn,
            fingerprint=page.fingerprint,
            script_hosts=hosts(page.scripts),
            iframe_hosts=hosts(page.iframes),
            hidden_link_hosts=hosts([lk.url for lk in page.links if lk.hidden]),
            overlays=page.overlays,
            final_site=site_of(host_of(final_url)),
            mask_selectors=list(selectors),
            mask_regexes=list(regexes),
            learned_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )

    def save(self, path: Path) -> None:
        """Write beside the target, then rename: a crash never leaves half a baseline."""
        path = Path(path)
        fd, tmp = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(asdict(self), f, ensure_ascii=False, indent=1)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise

    @classmethod
    def load(cls, path: Path) -> Baseline:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ValueError(f"baseline {path}: cannot read ({exc.strerror})") from None
        except ValueError as exc:
            raise ValueError(f"baseline {path}: not JSON ({exc})") from None
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise ValueError(f"baseline {path}: not a version-{VERSION} portal baseline")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValueError(f"baseline {path}: {exc}") from None


@dataclass
class Comparison:
    similarity: float  # 0..1, stable text weighted by length
    added: int  # characters of stable text not in the baseline
    removed: int  # characters of baseline stable text gone
    title_changed: bool
    diff: list[str]
    new_overlays: list[str]


def similarity(a: list[str], b: list[str]) -> tuple[float, int, int]:
    """(length-weighted similarity, characters added, characters removed) from ``a`` to ``b``.

    Lines are compared as multisets, in linear time: difflib's matching is quadratic on
    the repeated lines a page can be made of, and order says little about defacement.
    """
    total_a, total_b = sum(map(len, a)), sum(map(len, b))
    if not total_a and not total_b:
        return 1.0, 0, 0
    count_b = Counter(b)
    same = sum(len(line) * min(n, count_b[line]) for line, n in Counter(a).items())
    return 2 * same / (total_a + total_b), total_b - same, total_a - same


def compare(base: Baseline, page: Page) -> Comparison:
    sim, added, removed = similarity(base.content, page.content)
    diff = []
    if added or removed:  # difflib's autojunk keeps repeated lines from making this quadratic
        lines = difflib.unified_diff(base.content, page.content, "baseline", "now", n=1, lineterm="")
        diff = list(itertools.islice(lines, DIFF_LINES))
    if base.title != page.title:
        diff = [f"-title: {base.title}", f"+title: {page.title}", *diff]
    overlays = [o for o in page.overlays if o not in base.overlays]
    return Comparison(round(sim, 3), added, removed, base.title != page.title, diff[:DIFF_LINES], overlays)
