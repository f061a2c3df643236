"""The shipped, editable lists: bad domains (dark links) and forbidden words."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from probes.portals.sites import host_of

DATA = Path(__file__).resolve().parent / "data"


def read_list(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read list ({exc.strerror})") from None
    return [s for line in lines if (s := line.split("#", 1)[0].strip())]


@dataclass(frozen=True)
class Lists:
    domains: tuple[str, ...]
    host_words: tuple[str, ...]
    words: tuple[str, ...]

    @classmethod
    def load(cls, domains: Path | None = None, words: Path | None = None) -> Lists:
        d = read_list(domains or DATA / "bad_domains.txt")
        return cls(
            domains=tuple(x.lower() for x in d if not x.startswith("~")),
            host_words=tuple(x[1:].lower() for x in d if x.startswith("~")),
            words=tuple(x.lower() for x in read_list(words or DATA / "forbidden_words.txt")),
        )

    def bad_domain(self, url: str) -> str | None:
        """The list entry ``url``'s host falls under, or None."""
        host = host_of(url)
        if not host:
            return None
        for d in self.domains:
            if host == d or host.endswith("." + d):
                return d
        for w in self.host_words:
            if w in host:
                return "~" + w
        return None

    def words_in(self, text: str) -> list[str]:
        low = text.lower()
        return [w for w in self.words if w in low]
