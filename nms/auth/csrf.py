"""CSRF: a random token bound to the session, required on every state-changing request.

Forms carry it in a hidden ``csrf_token`` field, scripts in the ``X-CSRF-Token``
header.  Requests authenticated by ``Authorization: Bearer`` are exempt: a browser
never adds that header on its own, so a forged cross-site request cannot carry it.
"""

from __future__ import annotations

import hmac
import secrets

from flask import request, session

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FIELD = "csrf_token"
HEADER = "X-CSRF-Token"


def token() -> str:
    """The session's CSRF token, created on first use."""
    value = session.get("csrf")
    if not value:
        value = secrets.token_urlsafe(32)
        session["csrf"] = value
    return value


def valid() -> bool:
    """True when the request carries the session's token."""
    expected = session.get("csrf")
    if not expected:
        return False
    sent = request.headers.get(HEADER) or request.form.get(FIELD) or ""
    return hmac.compare_digest(sent.encode(), expected.encode())


def rotate() -> str:
    """New token (after login) so a token planted before login is useless."""
    session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]
