"""Which hosts belong to the same site: ``www.hefei.gov.cn`` and ``zwgk.hefei.gov.cn`` do.

An approximation of the registrable domain without a public-suffix download: the last
two labels, or three under a two-letter country code's generic second level
(``gov.cn``, ``com.cn``, ``org.cn``...), where Chinese government sites live.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

_SECOND_LEVEL = {"gov", "com", "net", "org", "edu", "ac", "co", "mil", "gob", "go"}


def site_of(host: str | None) -> str:
    host = (host or "").lower().rstrip(".").strip("[]")
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    labels = host.split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def same_site(a: str, b: str) -> bool:
    return site_of(a) == site_of(b)
