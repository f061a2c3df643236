"""What a portal page shows and links to, read once with selectolax (lexbor).

``Page.content`` is the text used to detect defacement, with dynamic parts masked:
the operator's CSS selectors and regexes, then automatically dates, times and number
runs (visitor counters, view counts), and *lists*: repeated siblings that each hold a
short link (news lists, notices, menus).  A list's items go to ``churn``, not
``content``: a new headline is normal, a new page body is not.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser

from probes.portals.hidden import Styles
from probes.portals.sites import host_of

_AUTO_MASK = re.compile(
    "|".join(
        (
            r"\d{2,4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?",  # dates
            r"\d{1,2}\s*月\s*\d{1,2}\s*日",
            r"\d{1,2}:\d{2}(?::\d{2})?",  # times
            r"(?:星期|周|礼拜)[一二三四五六日天]",
            r"(?:农历|阴历)[^\s，,。;；]*",  # the lunar date moves daily
            r"[〇零一二三四五六七八九十廿卅]{1,4}[年月日号]",
            r"(?i:\b(?:mon|tues|wednes|thurs|fri|satur|sun)day\b)",
            r"[\d,.]*\d",  # counters and other number runs
        )
    )
)
_DROP = "script, style, noscript, template, head"
_HIDDEN_WRITE = re.compile(
    r"document\s*\.\s*write(ln)?\s*\(.*?(display\s*:\s*none|visibility\s*:\s*hidden|"
    r"(left|top|text-indent)\s*:\s*-\d{3,})",
    re.I | re.S,
)
_SCRIPT_GO = re.compile(
    r"""(?:location(?:\s*\.\s*href)?\s*=|location\s*\.\s*(?:replace|assign)\s*\()\s*['"](https?://[^'"\s]+)""",
    re.I,
)
_REFRESH_URL = re.compile(r"""url\s*=\s*['"]?([^'"\s;]+)""", re.I)
_SCRIPT_HREF = re.compile(r"""href\s*=\s*\\?["']?(https?://[^"'\\\s>]+)""", re.I)
_SECTIONS = "div, ul, ol, table, section, article, form, iframe"
_PUNCT = re.compile(r"[#\s·|\-—:：,，.。]+")
MAX_LINES = 4000


@dataclass
class Link:
    url: str
    text: str
    hidden: str | None  # why it cannot be seen


@dataclass
class Page:
    title: str = ""
    content: list[str] = field(default_factory=list)  # masked stable text, one line per text run
    churn: list[str] = field(default_factory=list)  # masked list items
    text: str = ""  # all text, hidden included, unmasked: for forbidden words
    links: list[Link] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)
    iframes: list[str] = field(default_factory=list)
    hidden_writes: list[str] = field(default_factory=list)  # scripts writing hidden markup
    redirects: list[tuple[str, str]] = field(default_factory=list)  # (how, URL): meta refresh, script
    overlays: list[str] = field(default_factory=list)  # masked text of elements covering the window

    @property
    def fingerprint(self) -> str:
        h = hashlib.sha256(self.title.encode())
        for line in self.content:
            h.update(b"\n" + line.encode())
        return h.hexdigest()


def split_masks(masks) -> tuple[list[str], list[str]]:
    """``--mask`` / inventory ``masks`` values: (CSS selectors, regexes given as ``re:REGEX``)."""
    return [m for m in masks if not m.startswith("re:")], [m[3:] for m in masks if m.startswith("re:")]


class Masks:
    """The operator's masks for one portal: CSS selectors and regular expressions."""

    def __init__(self, selectors: list[str] = (), regexes: list[str] = ()) -> None:
        self.selectors = list(selectors)
        self.regexes = list(regexes)
        try:
            self._res = [re.compile(r) for r in self.regexes]
        except re.error as exc:
            raise ValueError(f"mask regex {exc.pattern!r}: {exc}") from None

    def text(self, line: str) -> str:
        for r in self._res:
            line = r.sub("#", line)
        line = _AUTO_MASK.sub("#", line)
        return " ".join(line.split())


def parse(html: str, base_url: str, masks: Masks | None = None) -> Page:
    masks = masks or Masks()
    tree = LexborHTMLParser(html)
    page = Page()
    title = tree.css_first("title")
    page.title = masks.text(title.text(deep=True)) if title else ""
    body = tree.body or tree.root
    if body is None:
        return page
    styles = Styles(tree)
    for a in body.css("a[href], area[href]"):
        href = (a.attributes.get("href") or "").strip()
        if href and not href.lower().startswith(("javascript:", "mailto:", "#", "tel:")):
            text = " ".join(a.text(deep=True).split())[:80]
            why = styles.hidden(a)
            if why and "font-size" in why and a.css_first("img") is not None:
                why = None  # an image link shows whatever the text size
            page.links.append(Link(urljoin(base_url, href), text, why))
    for s in tree.css("script"):
        if src := (s.attributes.get("src") or "").strip():
            page.scripts.append(urljoin(base_url, src))
            continue
        code = s.text(deep=True)
        if m := _HIDDEN_WRITE.search(code):
            page.hidden_writes.append(" ".join(m.group(0).split())[:160])
        for url in _SCRIPT_HREF.findall(code):
            page.links.append(Link(url, "", "written by a script" if m else None))
        page.redirects += [("script", url) for url in _SCRIPT_GO.findall(code)]
    for meta in tree.css("meta[http-equiv]"):
        if (meta.attributes.get("http-equiv") or "").lower() == "refresh":
            if m := _REFRESH_URL.search(meta.attributes.get("content") or ""):
                page.redirects.append(("meta refresh", urljoin(base_url, m.group(1))))
    page.iframes = [
        urljoin(base_url, f.attributes.get("src") or "") for f in tree.css("iframe[src], frame[src]")
    ]
    covering = set(styles.covering())
    for node in body.traverse() if covering else ():
        if node.mem_id in covering and not styles.hidden(node) and len(page.overlays) < 5:
            page.overlays.append(masks.text(node.text(deep=True, separator=" "))[:200])
    _content(body, masks, page)
    return page


def _content(body, masks: Masks, page: Page) -> None:
    for node in body.css(_DROP):
        node.decompose()
    page.text = " ".join((page.title, body.text(deep=True, separator=" ")))
    for selector in masks.selectors:
        try:
            nodes = body.css(selector)
        except Exception as exc:  # noqa: BLE001 - the parser's error for a bad selector
            raise ValueError(f"mask selector {selector!r}: {exc}") from None
        for node in nodes:
            node.decompose()
    for container in _lists(body):
        for item in container.iter():
            line = masks.text(item.text(deep=True, separator=" "))
            if line.strip("# "):
                page.churn.append(line)
        container.decompose()
    for raw in body.text(deep=True, separator="\n").splitlines():
        line = masks.text(raw)
        if _PUNCT.sub("", line) and len(page.content) < MAX_LINES:
            page.content.append(line)


def _lists(body) -> list:
    """Containers of repeated short linked items (news lists, menus), outermost first."""
    found, seen = [], set()
    for node in body.traverse():
        if node.mem_id in seen or node.tag in ("body", "html"):
            continue
        kids = [k for k in node.iter() if k.tag not in ("-text", "-comment")]
        if len(kids) < 3:
            continue
        tags = {}
        for k in kids:
            tags[k.tag] = tags.get(k.tag, 0) + 1
        tag, count = max(tags.items(), key=lambda kv: kv[1])
        if count < 3:
            continue
        items = [k for k in kids if k.tag == tag and _is_item(k)]
        if len(items) >= 3 and len(items) >= 0.6 * count:
            found.append(node)
            seen.update(d.mem_id for d in node.traverse())
    return found


def _is_item(node) -> bool:
    """A short entry with a link or three, and no sections of its own."""
    links = len(node.css("a")) + (node.tag == "a")
    if node.css_first(_SECTIONS) is not None:
        return False
    return 1 <= links <= 3 and len(node.text(deep=True).strip()) <= 160


def hosts(urls: list[str]) -> list[str]:
    return sorted({h for u in urls if (h := host_of(u))})
