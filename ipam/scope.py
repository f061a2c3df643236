"""The one place IPAM decides *where* a principal may look or act.

Pages, the REST API and CSV exports all call :func:`allowed_sites` and pass the
result to every query (``None`` = the whole province); nothing in IPAM filters by
site any other way.
"""

from __future__ import annotations

from typing import Any

from ipam.errors import Forbidden
from nms.auth.policy import current_principal, scope_sites


def allowed_sites(principal: Any = None) -> frozenset[str] | None:
    """Sites whose address plan ``principal`` (default: the request's) may see and change."""
    if principal is None:
        principal = current_principal()
    sites = scope_sites(principal)
    return None if sites is None else frozenset(sites)


def check_site(site: str | None, sites: frozenset[str] | None) -> None:
    """Refuse (403) a row owned by a site outside ``sites``; unowned rows need province scope."""
    if sites is None:
        return
    if site is None or site not in sites:
        raise Forbidden(f"site {site!r} is outside your scope", "site")
