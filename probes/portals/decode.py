"""Bytes to text for pages that may not say their charset.

Many county portals still serve GBK without a charset header.  Order: the header's
charset, a BOM, a ``<meta>`` charset in the first 4 KB, strict UTF-8, strict GB18030
(a superset of GBK/GB2312) when the result is mostly Chinese, then charset-normalizer's
guess; latin-1 last, which never fails.  Statistical guessing alone misreads a page whose
Chinese is a small share of mostly-ASCII markup, hence the explicit Chinese step.
"""

from __future__ import annotations

import codecs
import re

import charset_normalizer

_META = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_HEADER = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.I)
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def _known(name: str | None) -> str | None:
    if not name:
        return None
    try:
        name = codecs.lookup(name).name
    except LookupError:
        return None
    # GB2312/GBK labels are served for GB18030 content in practice; decode with the superset
    return "gb18030" if name in ("gb2312", "gbk") else name


def _try(body: bytes, encoding: str) -> str | None:
    """Strict decode; a character cut by the size limit at the very end is dropped."""
    try:
        return body.decode(encoding)
    except LookupError:
        return None
    except UnicodeDecodeError as exc:
        if exc.start < len(body) - 3:
            return None
        try:
            return body[: exc.start].decode(encoding)
        except UnicodeDecodeError:
            return None


def _mostly_chinese(text: str) -> bool:
    wide = [c for c in text if ord(c) > 0x7F]
    han = sum(
        1 for c in wide if "\u4e00" <= c <= "\u9fff" or "\u3000" <= c <= "\u303f" or "\uff00" <= c <= "\uffef"
    )
    return bool(wide) and han >= 0.8 * len(wide)


def decode(body: bytes, content_type: str = "") -> tuple[str, str]:
    """Return (text, charset used)."""
    m = _HEADER.search(content_type or "")
    declared = _known(m.group(1)) if m else None
    if not declared:
        for bom, enc in _BOMS:
            if body.startswith(bom):
                declared = enc
                break
    if not declared and (m := _META.search(body[:4096])):
        declared = _known(m.group(1).decode("ascii", "replace"))
    if declared and (text := _try(body, declared)) is not None:
        return text, declared
    if (text := _try(body, "utf-8")) is not None:
        return text, "utf-8"
    if (text := _try(body, "gb18030")) is not None and _mostly_chinese(text):
        return text, "gb18030"
    best = charset_normalizer.from_bytes(body[:200_000]).best()
    if best is not None and (text := _try(body, best.encoding)) is not None:
        return text, best.encoding
    if declared:
        return body.decode(declared, "replace"), declared
    return body.decode("latin-1"), "latin-1"
