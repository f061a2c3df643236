"""What counts as a change, and what may be shown.

The stored text is always the device's exact output (restorable).  Change detection
works on a *normalised* text without volatile lines; pages and APIs show a text whose
secrets are replaced by :data:`MASK`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

MASK = "******"
VOLATILE_MARK = "<volatile line ignored>"


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]


def is_volatile(line: str, patterns: Iterable[re.Pattern[str]]) -> bool:
    return any(p.search(line) for p in patterns)


def normalise(text: str, volatile: Iterable[re.Pattern[str]]) -> str:
    """The text without volatile lines, trailing spaces or a trailing blank: what a change is judged on."""
    volatile = tuple(volatile)
    kept = [line for line in _lines(text) if not is_volatile(line, volatile)]
    return "\n".join(kept).strip("\n") + "\n"


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def mask_secrets(text: str, secrets: Iterable[re.Pattern[str]]) -> str:
    """Replace every ``secret`` group of every pattern by :data:`MASK`, line by line.

    Every pattern is matched against the original line (not one already masked by
    another), so one pattern eating a keyword cannot hide the key from the next.
    """
    secrets = tuple(secrets)
    return "\n".join(_mask_line(line, secrets) for line in _lines(text))


def _mask_line(line: str, secrets: tuple[re.Pattern[str], ...]) -> str:
    spans = sorted(
        m.span("secret") for rx in secrets for m in rx.finditer(line) if m.start("secret") >= 0
    )
    pieces: list[str] = []
    pos = 0
    for start, end in spans:
        if end <= pos:
            continue  # inside a span already masked
        if start < pos:  # overlaps the previous span: extend that mask
            pos = end
            continue
        pieces.append(line[pos:start])
        pieces.append(MASK)
        pos = end
    pieces.append(line[pos:])
    return "".join(pieces)


def for_display(
    text: str, secrets: Iterable[re.Pattern[str]], volatile: Iterable[re.Pattern[str]] = ()
) -> str:
    """Secrets masked; volatile lines (if patterns given) replaced by a marker so diffs stay quiet."""
    volatile = tuple(volatile)
    masked = mask_secrets(text, secrets)
    if not volatile:
        return masked
    return "\n".join(VOLATILE_MARK if is_volatile(line, volatile) else line for line in masked.split("\n"))
