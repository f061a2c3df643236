"""Accounts, roles scoped to the site tree, tokens, CSRF and the one authorisation function.

Every Flask view declares what it needs with :func:`require`; the app-wide
``before_request`` hook installed by :func:`nms.auth.enforce.install` decides each
request from that declaration and refuses views that declare nothing.
"""

from nms.auth.policy import (
    AUTHENTICATED,
    PUBLIC,
    Principal,
    authorize,
    covers,
    covers_all,
    current_principal,
    require,
    require_site,
    scope_sites,
)

__all__ = [
    "AUTHENTICATED",
    "PUBLIC",
    "Principal",
    "authorize",
    "covers",
    "covers_all",
    "current_principal",
    "require",
    "require_site",
    "scope_sites",
]
