"""Is this element visible to a visitor?  The CSS tricks dark links hide behind.

Styles come from inline ``style`` attributes and from the page's ``<style>`` blocks
(each rule's selector matched with the HTML parser's own CSS engine; rules with
pseudo-classes such as ``:hover`` are skipped, so a drop-down menu counts as hidden, and
the caller only reports hidden links that leave the site).  Specificity is approximated
by document order, inline last.  A link is hidden when it or an ancestor is
``display:none``, ``visibility:hidden``, ``opacity:0``, the ``hidden`` attribute, moved
far off-screen, clipped to zero size, ``font-size`` under 2px, inside a ``<marquee>``
too small or too fast to read, or written in the colour of its background.
"""

from __future__ import annotations

import re

_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_LENGTH = re.compile(r"^\s*(-?\d*\.?\d+)\s*(px|em|rem|pt|%|vw|vh)?\s*(!important)?\s*$", re.I)
_HEX = re.compile(r"#([0-9a-f]{3}|[0-9a-f]{6})\b", re.I)
_RGB = re.compile(r"rgba?\(\s*(\d+)[\s,]+(\d+)[\s,]+(\d+)(?:[\s,/]+([\d.]+))?\s*\)", re.I)
_NAMED = {
    "white": (255, 255, 255),
    "black": (0, 0, 0),
    "red": (255, 0, 0),
    "blue": (0, 0, 255),
    "green": (0, 128, 0),
    "gray": (128, 128, 128),
    "grey": (128, 128, 128),
    "silver": (192, 192, 192),
    "yellow": (255, 255, 0),
    "navy": (0, 0, 128),
}
WANTED = {
    "display",
    "visibility",
    "opacity",
    "position",
    "left",
    "top",
    "right",
    "bottom",
    "text-indent",
    "margin-left",
    "margin-top",
    "width",
    "height",
    "overflow",
    "font-size",
    "color",
    "background",
    "background-color",
    "clip",
    "clip-path",
    "transform",
    "max-height",
    "max-width",
}
OFFSCREEN_PX = -500
MAX_SELECTORS = 400
_COLOUR_ONLY = {"color", "background", "background-color", "width", "height", "max-width", "max-height"}
_ID = r"""\(\s*['"]#?([\w:.-]+)['"]\s*\)"""
_SCRIPT_HIDES = [
    re.compile(
        r"getElementById"
        + _ID
        + r"""\s*\.\s*style\s*\.\s*(?:display\s*=\s*['"]none|visibility\s*=\s*['"]hidden)"""
    ),
    re.compile(
        r"(?:\$|jQuery)"
        + _ID
        + r"""\s*\.\s*(?:hide\s*\(|css\s*\(\s*['"]"""
        + r"""(?:display['"]\s*,\s*['"]none|visibility['"]\s*,\s*['"]hidden))"""
    ),
]


def declarations(text: str) -> dict[str, str]:
    out = {}
    for part in text.split(";"):
        name, sep, value = part.partition(":")
        name = name.strip().lower()
        if sep and name in WANTED:
            out[name] = value.strip().lower().replace("!important", "").strip()
    return out


class Styles:
    """The hiding-relevant declarations of every element of one parsed page."""

    def __init__(self, tree) -> None:
        self.by_node: dict[int, dict[str, str]] = {}
        rules = []
        for style in tree.css("style"):
            for selectors, body in _RULE.findall(_COMMENT.sub("", style.text(deep=True))):
                decls = declarations(body)
                for selector in selectors.split(",") if decls else ():
                    selector = selector.strip()
                    if selector and not selector.startswith("@") and ":" not in selector:
                        rules.append((not decls.keys() - _COLOUR_ONLY, selector, decls))
        # each selector is a walk of the page: a page cannot make us run thousands of them.
        # Rules that can hide come first (the sort is stable: document order within each group).
        rules.sort(key=lambda r: r[0])
        self.skipped_rules = max(0, len(rules) - MAX_SELECTORS)
        for _, selector, decls in rules[:MAX_SELECTORS]:
            try:
                nodes = tree.css(selector)
            except Exception:  # noqa: BLE001 - the parser rejects selectors it does not know
                continue
            for node in nodes:
                self.by_node.setdefault(node.mem_id, {}).update(decls)
        for node in tree.css("[style]"):
            decls = declarations(node.attributes.get("style") or "")
            if decls:
                self.by_node.setdefault(node.mem_id, {}).update(decls)
        for script in tree.css("script"):
            if not script.attributes.get("src"):
                self._hidden_by_script(tree, script.text(deep=True))
        self._cache: dict[int, str | None] = {}
        # With external stylesheets the page's background may come from them: no white default
        self._default_bg = None if tree.css_first('link[rel="stylesheet"]') else (255, 255, 255)

    def _hidden_by_script(self, tree, code: str) -> None:
        """``getElementById('x').style.display='none'`` and jQuery's ``$('#x').hide()``."""
        for pattern in _SCRIPT_HIDES:
            for element_id in pattern.findall(code):
                node = tree.css_first(f'[id="{element_id}"]')
                if node is not None:
                    self.by_node.setdefault(node.mem_id, {})["display"] = "none"

    def covering(self) -> list[int]:
        """Elements laid over the whole window (``position: fixed/absolute``, full size): overlays."""
        out = []
        for mem_id, s in self.by_node.items():
            if s.get("position") not in ("fixed", "absolute"):
                continue
            full = all(
                s.get(p, "").replace(" ", "") in ("100%", "100vw", "100vh") for p in ("width", "height")
            )
            pinned = all((_px(s.get(p)) == 0) for p in ("top", "left", "right", "bottom"))
            if full or pinned:
                out.append(mem_id)
        return out

    def of(self, node) -> dict[str, str]:
        return self.by_node.get(node.mem_id, {})

    def hidden(self, node) -> str | None:
        """Why ``node`` cannot be seen, or None."""
        chain = []
        n = node
        while n is not None and n.tag not in ("html", "-undef", None):
            if n.mem_id in self._cache:
                if self._cache[n.mem_id]:
                    return self._cache[n.mem_id]
                break
            chain.append(n)
            n = n.parent
        for n in reversed(chain):  # outermost first, so the cache fills for ancestors
            self._cache[n.mem_id] = self._own(n)
        for n in chain:
            if self._cache[n.mem_id]:
                return self._cache[n.mem_id]
        return self._same_colour(node)

    def _own(self, node) -> str | None:
        tag = node.tag
        attrs = node.attributes
        s = self.of(node)
        if "hidden" in attrs:
            return f"<{tag} hidden>"
        if s.get("display") == "none":
            return f"<{tag}> display:none"
        if s.get("visibility") in ("hidden", "collapse"):
            return f"<{tag}> visibility:hidden"
        if (o := _number(s.get("opacity"))) is not None and o <= 0.05:
            return f"<{tag}> opacity:{s['opacity']}"
        if s.get("position") in ("absolute", "fixed", "relative"):
            for side in ("left", "top", "right", "bottom"):
                if (v := _px(s.get(side))) is not None and v <= OFFSCREEN_PX:
                    return f"<{tag}> off-screen {side}:{s[side]}"
        for prop in ("text-indent", "margin-left", "margin-top"):
            if (v := _px(s.get(prop))) is not None and v <= OFFSCREEN_PX:
                return f"<{tag}> off-screen {prop}:{s[prop]}"
        if s.get("transform", "").startswith("scale(0") or "translate(-9" in s.get("transform", ""):
            return f"<{tag}> transform:{s['transform']}"
        if (f := _px(s.get("font-size"))) is not None and f < 2:
            return f"<{tag}> font-size:{s['font-size']}"
        clipped = s.get("overflow") == "hidden" or "clip" in s or "clip-path" in s
        for prop in ("width", "height", "max-height", "max-width"):
            if clipped and (v := _px(s.get(prop))) is not None and v <= 1:
                return f"<{tag}> {prop}:{s[prop]} with overflow hidden"
        if "rect(0" in s.get("clip", "").replace(" ", "") or "inset(50%" in s.get("clip-path", ""):
            return f"<{tag}> clipped away"
        if tag == "marquee":
            return _marquee(node)
        return None

    def _same_colour(self, node) -> str | None:
        fg = bg = None
        n = node
        while n is not None and n.tag not in ("-undef", None) and (fg is None or bg is None):
            s = self.of(n)
            if fg is None:
                font = n.attributes.get("color") if n.tag == "font" else None
                fg = colour(s.get("color") or font)
            if bg is None:
                bg = colour(s.get("background-color") or s.get("background") or n.attributes.get("bgcolor"))
            n = n.parent
        bg = bg or self._default_bg
        if fg is not None and bg is not None and sum(abs(a - b) for a, b in zip(fg, bg, strict=False)) <= 24:
            return f"text colour {_hex(fg)} on background {_hex(bg)}"
        return None


def _marquee(node) -> str | None:
    a = node.attributes
    for prop in ("width", "height"):
        if (v := _px(a.get(prop))) is not None and v <= 5:
            return f"<marquee {prop}={a[prop]}>"
    if (v := _number(a.get("scrollamount"))) is not None and v >= 300:
        return f"<marquee scrollamount={a['scrollamount']}> moves too fast to read"
    return None


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _px(text: str | None) -> float | None:
    if text is None:
        return None
    m = _LENGTH.match(text)
    if not m:
        return None
    value, unit = float(m.group(1)), (m.group(2) or "px").lower()
    if unit == "%":
        return None if value else 0.0
    return value * {"em": 16, "rem": 16, "pt": 1.33, "vw": 10, "vh": 10}.get(unit, 1)


def colour(text: str | None) -> tuple[int, int, int] | None:
    if not text:
        return None
    if m := _HEX.search(text):
        h = m.group(1)
        h = "".join(c * 2 for c in h) if len(h) == 3 else h
        return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)
    if m := _RGB.search(text):
        if m.group(4) is not None and float(m.group(4)) == 0:
            return None  # transparent: the colour of whatever is behind
        return int(m.group(1)), int(m.group(2)), int(m.group(3))
    for word in re.findall(r"[a-z]+", text):
        if word in _NAMED:
            return _NAMED[word]
    return None


def _hex(c: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*c)
