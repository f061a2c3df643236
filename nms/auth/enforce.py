"""The app-wide gate: every request is authenticated, then decided by ``authorize``.

``install(app)`` adds the ``before_request`` hook, session cookie settings, the
secret key, security headers and the shared page layout.  Order for each request:

1. find the endpoint's view; no ``@require`` declaration -> 403 and an error log;
2. authenticate: ``Authorization: Bearer`` token, ``?kiosk=TOKEN`` (sets a kiosk
   session and redirects), or the session cookie;
3. ``authorize(principal, permission, site)`` with the site from the URL argument the
   view named; refused -> anonymous pages redirect to /login, anonymous API gets
   401 JSON, everyone else 403;
4. kiosk principals may not change anything; cookie requests that change state must
   carry the CSRF token.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from urllib.parse import urlencode

from flask import Flask, Response, current_app, g, jsonify, redirect, request, session, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from nms import web
from nms.auth import csrf, principals, secret, tokens, users
from nms.auth.policy import PUBLIC, Principal, authorize, declaration_of
from nms.auth.scope import site_tree
from nms.db import request_db

log = logging.getLogger(__name__)

SESSION_MAX_AGE_S = 12 * 3600.0  # a person signs in again after 12 hours
KIOSK_PARAM = "kiosk"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def install(app: Flask) -> None:
    """Enforce authentication and authorisation on every route of ``app``."""
    settings = app.config["NMS_SETTINGS"]
    app.secret_key = secret.load_or_create(settings)
    app.config.update(
        SESSION_COOKIE_NAME="nms_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=not settings.insecure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(days=3650),  # only kiosk sessions are permanent
    )
    if settings.insecure_cookies and settings.listen_host not in ("127.0.0.1", "::1", "localhost"):
        log.warning(
            "NMS_INSECURE_COOKIES=1 while listening on %s: session cookies go over plain HTTP",
            settings.listen_host,
        )
    web.init_app(app)
    app.register_error_handler(403, _forbidden)
    app.before_request(_gate)
    app.after_request(_headers)


# The CN of the client certificate nginx verified (deploy/nginx/nms.conf), for agents.
CLIENT_CN_HEADER = "X-Client-Cert-CN"


def client_ip() -> str | None:
    """Source address for audit and lock-out.

    Behind the proxy, waitress has already put the client's address here from
    X-Forwarded-For, believed only from ``NMS_TRUSTED_PROXY`` (:func:`nms.serve.proxy_options`).
    """
    return request.remote_addr


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.headers.get("Authorization", "").startswith("Bearer ")


def _now() -> float:
    clock = current_app.config.get("NMS_CLOCK")
    return clock() if clock else time.time()


def _refuse(status: int, message: str, decision: str = "deny") -> Response:
    g.auth_decision = decision
    if wants_json():
        resp = jsonify({"error": message})
        resp.status_code = status
    else:
        resp = web.error_page(status, message)
    if status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="nms"'
    return resp


def _forbidden(exc: HTTPException) -> Response:
    """403 raised inside a view (``require_site``): same shape as the gate's refusals."""
    return _refuse(403, exc.description or "forbidden", decision=g.get("auth_decision", "allow"))


def _to_login() -> BaseResponse:
    target = request.full_path if request.query_string else request.path
    return redirect(url_for("auth.login", next=target))


def _gate() -> BaseResponse | None:
    endpoint = request.endpoint
    if endpoint is None:  # no route matched: let Flask answer 404/405
        return None
    if endpoint == "static" or endpoint.endswith(".static"):
        declared: tuple[str, str | None] | None = (PUBLIC, None)  # CSS/JS/images carry no data
    else:
        declared = declaration_of(current_app.view_functions.get(endpoint))
    if declared is None:
        log.error("route %s (%s) has no @require declaration: refused", request.path, endpoint)
        return _refuse(403, f"endpoint {endpoint} declares no permission", "undeclared")
    permission, site_arg = declared
    g.auth_permission = permission

    principal, answer = _authenticate()
    if answer is not None:
        return answer
    g.principal = principal

    site = None
    if site_arg is not None:
        site = (request.view_args or {}).get(site_arg)
        if site is None:
            log.error("route %s declares site_arg=%r but has no such URL argument", endpoint, site_arg)
            return _refuse(403, f"endpoint {endpoint} declares an unknown site argument")
    if not authorize(principal, permission, site):
        if principal is None:
            if wants_json():
                return _refuse(401, "authentication required")
            g.auth_decision = "deny"
            return _to_login()
        return _refuse(403, "forbidden: your account may not do this here / 无权访问")

    if request.method not in csrf.SAFE_METHODS:
        if principal is not None and principal.read_only:
            return _refuse(403, "read-only kiosk: changes are not allowed / 只读大屏")
        if not (principal is not None and principal.via == "bearer") and not csrf.valid():
            return _refuse(400, "CSRF token missing or invalid; reload the page and try again", "csrf")
    g.auth_decision = "allow"
    return None


def _authenticate() -> tuple[Principal | None, BaseResponse | None]:
    auth = request.headers.get("Authorization")
    if auth is not None:
        scheme, _, raw = auth.partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            return None, _refuse(401, "Authorization header must be 'Bearer <token>'")
        principal = _bearer(raw.strip())
        if principal is None:
            return None, _refuse(401, "invalid, expired or revoked token")
        if principal.kind == "agent" and (problem := _agent_certificate_problem(principal.name)):
            return None, _refuse(401, problem)
        return principal, None
    raw_kiosk = request.args.get(KIOSK_PARAM)
    if raw_kiosk is not None:
        return None, _kiosk_login(raw_kiosk)
    return _from_session(), None


def _agent_certificate_problem(agent: str) -> str | None:
    """With ``NMS_REQUIRE_AGENT_CERT=1``: the proxy's verified client certificate must name ``agent``.

    nginx sets the header from the certificate it verified (and drops a client's own);
    the answer is a 401 starting "client certificate", which the agent keeps spooled for.
    """
    if not current_app.config["NMS_SETTINGS"].require_agent_cert:
        return None
    cn = request.headers.get(CLIENT_CN_HEADER)
    if not cn:
        return "client certificate: none verified by the proxy (NMS_REQUIRE_AGENT_CERT=1)"
    if cn != agent:
        return f"client certificate: CN={cn} is not agent {agent}"
    return None


def _bearer(raw: str) -> Principal | None:
    db = request_db()
    token = tokens.verify(db, raw, now=_now())
    if token is None:
        return None
    tree = site_tree()
    if token.kind == "agent":
        return principals.of_agent(token, tree)
    if token.kind == "kiosk":
        return principals.of_kiosk(token, tree, via="bearer")
    user = users.get(db, token.subject or "")
    if user is None or user.disabled:
        return None
    return principals.of_user(user, tree, via="bearer", token_id=token.id)


def _kiosk_login(raw: str) -> BaseResponse:
    """Trade ``?kiosk=TOKEN`` for a kiosk session cookie, then drop the token from the URL."""
    token = tokens.verify(request_db(), raw, now=_now())
    if token is None or token.kind != "kiosk":
        return _refuse(401, "invalid, expired or revoked kiosk token")
    session.clear()
    session.permanent = True
    session["kiosk"] = token.id
    csrf.rotate()
    g.auth_decision = "kiosk-login"
    query = urlencode([(k, v) for k, v in request.args.items(multi=True) if k != KIOSK_PARAM])
    return redirect(request.path + (f"?{query}" if query else ""))


def _from_session() -> Principal | None:
    if "kiosk" in session:
        token = tokens.get(request_db(), int(session["kiosk"]))
        if token is None or token.kind != "kiosk" or not token.active(_now()):
            session.clear()
            return None
        return principals.of_kiosk(token, site_tree(), via="kiosk")
    uid = session.get("uid")
    if uid is None:
        return None
    user = users.get_by_id(request_db(), int(uid))
    fresh = _now() - float(session.get("login_ts", 0)) < SESSION_MAX_AGE_S
    if user is None or user.disabled or user.session_gen != session.get("gen") or not fresh:
        session.pop("uid", None)
        return None
    return principals.of_user(user, site_tree(), via="session")


def start_user_session(user: users.User) -> None:
    """After a good password: a fresh session (no fixation) bound to the user's session generation."""
    session.clear()
    session.permanent = False
    session["uid"] = user.id
    session["gen"] = user.session_gen
    session["login_ts"] = _now()
    csrf.rotate()


def _headers(resp: Response) -> Response:
    if current_app.testing:  # lets the access-control suite tell the gate's answer from the view's
        resp.headers["X-NMS-Auth"] = g.get("auth_decision", "none")
    for name, value in SECURITY_HEADERS.items():
        resp.headers.setdefault(name, value)
    if getattr(g, "principal", None) is not None and "Cache-Control" not in resp.headers:
        resp.headers["Cache-Control"] = "no-store"
    return resp
