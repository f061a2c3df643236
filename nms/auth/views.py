"""Sign-in pages and the administrators' pages: users, tokens, audit log, who-can-see-what."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, redirect, request, session
from werkzeug.wrappers import Response as BaseResponse

from nms import audit
from nms.auth import access, passwords, ratelimit, subjects, tokens, users
from nms.auth.enforce import _now, client_ip, start_user_session
from nms.auth.policy import AUTHENTICATED, PUBLIC, covers, current_principal, require, scope_sites
from nms.auth.roles import ROLE_LABELS, ROLES
from nms.auth.scope import known_site, site_tree
from nms.db import Database, request_db
from nms.web import nav, render_page

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__, template_folder="templates")


def _actor() -> str:
    principal = current_principal()
    return principal.actor if principal else "anonymous"


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect a signed-in user to another host."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and not any(c.isspace() or ord(c) < 32 for c in target)  # "/\t/evil" is "//evil" to a browser
    ):
        return target
    return "/"


# --- sign in / out -------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
@require(PUBLIC)
def login() -> BaseResponse:
    nxt = _safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_page("auth/login.html", next=nxt, name="", error=None)
    db = request_db()
    name = request.form.get("name", "").strip()
    password = request.form.get("password", "")
    ip = client_ip()
    now = _now()
    lock = ratelimit.locked(db, name, ip, now=now)
    if lock is not None:
        actor, target, site = _attempted(db, name)
        audit.record(db, actor, "login.failure", target, reason="locked out", source_ip=ip, site=site)
        return _locked_page(nxt, lock, now)
    user = users.verify_password(db, name, password) if name and password else None
    if user is None:
        ratelimit.record_failure(db, name, ip, now=now)
        actor, target, site = _attempted(db, name)
        audit.record(
            db,
            actor,
            "login.failure",
            target,
            reason="wrong password, unknown name or disabled account",
            source_ip=ip,
            site=site,
        )
        log.info("failed sign-in for %s from %s", target, ip)
        lock = ratelimit.locked(db, name, ip, now=now)
        if lock is not None:
            return _locked_page(nxt, lock, now)
        return render_page(
            "auth/login.html",
            status=401,
            next=nxt,
            name="",  # not echoed: people type their password into the name field
            error="用户名或密码错误 Wrong user name or password",
        )
    ratelimit.record_success(db, name)
    start_user_session(user)
    audit.record(db, user.name, "login.success", f"user:{user.name}", source_ip=ip, site=user.site)
    return redirect(nxt)


def _attempted(db: Database, name: str) -> tuple[str, str, str | None]:
    """(actor, target, site) for a failed sign-in.  A name that is no account is not recorded:
    it is often a password typed into the wrong field (and its row is the province's)."""
    user = users.get(db, name) if name else None
    if user is not None:
        return name, f"user:{name}", user.site
    return "anonymous", "user:?", None


def _locked_page(nxt: str, lock: ratelimit.Lock, now: float) -> Response:
    minutes = lock.minutes_left(now)
    who = "this account" if lock.key.startswith("user:") else "your address"
    message = (
        f"登录失败次数过多，请 {minutes} 分钟后再试 · Too many failed sign-ins for {who}: "
        f"locked, try again in {minutes} minute(s)."
    )
    return render_page("auth/login.html", status=429, next=nxt, name="", error=message)


@bp.route("/logout", methods=["POST"])
@require(AUTHENTICATED)
def logout() -> BaseResponse:
    principal = current_principal()
    if principal is not None:
        db = request_db()
        users.end_sessions(db, principal.name)
        audit.record(
            db,
            principal.actor,
            "logout",
            f"user:{principal.name}",
            source_ip=client_ip(),
            site=principal.site,
        )
    session.clear()
    return redirect("/login")


@bp.route("/api/v1/whoami")
@require(PUBLIC)
def whoami() -> Response:
    principal = current_principal()
    if principal is None:
        return jsonify({"principal": None})
    return jsonify(
        {
            "principal": {
                "kind": principal.kind,
                "name": principal.name,
                "role": principal.role,
                "site": principal.site,
                "permissions": sorted(principal.permissions),
                "scope": None if principal.scope is None else sorted(principal.scope),
            }
        }
    )


@bp.route("/account/password", methods=["GET", "POST"])
@require(AUTHENTICATED)
def own_password() -> BaseResponse:
    principal = current_principal()
    assert principal is not None
    if request.method == "GET":
        return render_page("auth/password.html", error=None, done=False)
    db = request_db()
    if users.verify_password(db, principal.name, request.form.get("current", "")) is None:
        return render_page(
            "auth/password.html", status=400, done=False, error="当前密码错误 Current password is wrong"
        )
    new = request.form.get("new", "")
    if new != request.form.get("confirm", ""):
        return render_page(
            "auth/password.html", status=400, done=False, error="两次输入不一致 The new passwords differ"
        )
    try:
        passwords.set_password(
            db,
            principal.name,
            new,
            actor=principal.actor,
            source_ip=client_ip(),
            reason="changed by the user",
        )
    except users.AccountError as exc:
        return render_page("auth/password.html", status=400, done=False, error=str(exc))
    user = users.get(db, principal.name)
    assert user is not None
    start_user_session(user)  # the change ended every session; keep this one
    return render_page("auth/password.html", error=None, done=True)


# --- users ---------------------------------------------------------------------------------


def _users_page(status: int = 200, **ctx: Any) -> Response:
    db = request_db()
    ctx.setdefault("error", None)
    ctx.setdefault("shown", None)
    principal = current_principal()
    shown_users = [u for u in users.list_users(db) if covers(principal, u.site)]
    return render_page(
        "auth/users.html",
        status=status,
        users=shown_users,
        roles=ROLES,
        role_labels=ROLE_LABELS,
        **ctx,
    )


def _check_site(site: str) -> None:
    if not known_site(site, site_tree()):
        raise users.AccountError(f"site {site!r} is not in the inventory")


def _check_grant(role: str, site: str) -> None:
    """The account would lie inside the administrator's scope and hold no more than they do."""
    _check_site(site)
    subjects.check_grant(current_principal(), role, site)


@bp.route("/admin/users", methods=["GET", "POST"])
@require("accounts.admin")
@nav("账户 Accounts", order=90)
def admin_users() -> Response:
    if request.method == "GET":
        return _users_page()
    db = request_db()
    name = request.form.get("name", "").strip()
    password = request.form.get("password", "")
    generated = not password
    if generated:
        password = users.random_password()
    site = request.form.get("site", "").strip()
    role = request.form.get("role", "")
    try:
        _check_grant(role, site)
        users.create(
            db,
            name,
            role,
            site,
            password,
            actor=_actor(),
            source_ip=client_ip(),
            reason=request.form.get("reason") or None,
        )
    except subjects.OutOfScope as exc:
        return _users_page(status=403, error=str(exc))
    except users.AccountError as exc:
        return _users_page(status=400, error=str(exc))
    shown = (
        {"what": f"用户 {name} 的初始密码 Initial password of {name}", "value": password}
        if generated
        else None
    )
    return _users_page(status=201, shown=shown)


@bp.route("/admin/users/<name>", methods=["POST"])
@require("accounts.admin")
def admin_user_change(name: str) -> Response:
    db = request_db()
    user = users.get(db, name)
    if user is None:
        return _users_page(status=404, error=f"no user {name!r}")
    try:
        subjects.check_user(current_principal(), user)
    except subjects.OutOfScope as exc:
        return _users_page(status=403, error=str(exc))
    op = request.form.get("op", "")
    reason = request.form.get("reason") or None
    try:
        if op == "update":
            site = request.form.get("site", "").strip() or user.site
            role = request.form.get("role") or user.role
            _check_grant(role, site)
            users.update(
                db,
                name,
                role=role,
                site=site,
                actor=_actor(),
                source_ip=client_ip(),
                reason=reason,
            )
        elif op in ("disable", "enable"):
            principal = current_principal()
            if op == "disable" and principal is not None and principal.name == name:
                raise users.AccountError("you cannot disable your own account")
            users.update(
                db, name, disabled=op == "disable", actor=_actor(), source_ip=client_ip(), reason=reason
            )
        elif op == "reset":
            password = users.random_password()
            revoked = passwords.set_password(
                db,
                name,
                password,
                actor=_actor(),
                source_ip=client_ip(),
                reason=reason or "reset by an administrator",
            )
            what = f"用户 {name} 的新密码 New password of {name} ({len(revoked)} API token(s) revoked)"
            return _users_page(shown={"what": what, "value": password})
        else:
            raise users.AccountError(f"op {op!r}: expected update, disable, enable or reset")
    except subjects.OutOfScope as exc:
        return _users_page(status=403, error=str(exc))
    except users.AccountError as exc:
        return _users_page(status=400, error=str(exc))
    return _users_page()


# --- tokens --------------------------------------------------------------------------------


def _tokens_page(status: int = 200, **ctx: Any) -> Response:
    ctx.setdefault("error", None)
    ctx.setdefault("shown", None)
    db, principal, tree = request_db(), current_principal(), site_tree()
    return render_page(
        "auth/tokens.html",
        status=status,
        tokens=[t for t in tokens.list_tokens(db) if subjects.may_hold(principal, db, t, tree)],
        now=_now(),
        fmt=_fmt_ts,
        **ctx,
    )


@bp.route("/admin/tokens", methods=["GET", "POST"])
@require("accounts.admin")
@nav("令牌 Tokens", order=91)
def admin_tokens() -> Response:
    if request.method == "GET":
        return _tokens_page()
    kind = request.form.get("kind", "")
    subject = request.form.get("subject", "").strip() or None
    site = request.form.get("site", "").strip() or None
    expires = request.form.get("expires_days", "").strip()
    try:
        days = float(expires) if expires else None
        if site is not None:
            _check_site(site)
        subjects.check_token_grant(current_principal(), request_db(), kind, subject, site, site_tree())
        token, raw = tokens.create(
            request_db(),
            kind,
            subject,
            actor=_actor(),
            site=site,
            expires_days=days,
            label=request.form.get("label") or None,
            source_ip=client_ip(),
            reason=request.form.get("reason") or None,
        )
    except subjects.OutOfScope as exc:
        return _tokens_page(status=403, error=str(exc))
    except ValueError as exc:  # TokenError, AccountError, bad float
        return _tokens_page(status=400, error=str(exc))
    shown = {"what": f"令牌 #{token.id} ({token.kind}) Token #{token.id}", "value": raw}
    return _tokens_page(status=201, shown=shown)


@bp.route("/admin/tokens/<int:token_id>/revoke", methods=["POST"])
@require("accounts.admin")
def admin_token_revoke(token_id: int) -> Response:
    db = request_db()
    token = tokens.get(db, token_id)
    if token is None or not subjects.may_hold(current_principal(), db, token, site_tree()):
        return _tokens_page(status=404, error=f"no token with id {token_id} in your scope")
    try:
        tokens.revoke(
            request_db(),
            token_id,
            actor=_actor(),
            source_ip=client_ip(),
            reason=request.form.get("reason") or None,
        )
    except tokens.TokenError as exc:
        return _tokens_page(status=404, error=str(exc))
    return _tokens_page()


# --- audit ---------------------------------------------------------------------------------


def _fmt_ts(ts: float | None) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _day(value: str, field: str) -> float | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise ValueError(f"{field}: expected a date YYYY-MM-DD, got {value!r}") from None


def _audit_filters() -> dict[str, Any]:
    args = request.args
    until = _day(args.get("until", ""), "until")
    return {
        "actor": args.get("actor") or None,
        "action": args.get("action") or None,
        "target": args.get("target") or None,
        "since": _day(args.get("since", ""), "since"),
        "until": None if until is None else until + 86400,  # inclusive day
    }


@bp.route("/admin/audit")
@require("audit.read")
@nav("审计 Audit", order=92)
def admin_audit() -> Response:
    try:
        filters = _audit_filters()
    except ValueError as exc:
        return render_page(
            "auth/audit.html", status=400, rows=[], error=str(exc), args=request.args, fmt=_fmt_ts
        )
    rows = audit.query(request_db(), limit=1000, sites=scope_sites(current_principal()), **filters)
    return render_page("auth/audit.html", rows=rows, error=None, args=request.args, fmt=_fmt_ts)


@bp.route("/admin/audit.csv")
@require("audit.read")
def admin_audit_csv() -> Response:
    try:
        filters = _audit_filters()
    except ValueError as exc:
        return Response(str(exc) + "\n", status=400, mimetype="text/plain")
    body = audit.to_csv(
        audit.query(request_db(), limit=None, sites=scope_sites(current_principal()), **filters)
    )
    return Response(
        body, mimetype="text/csv", headers={"Content-Disposition": "attachment; filename=audit.csv"}
    )


# --- who can see what ----------------------------------------------------------------------


def _access_report() -> tuple[dict[str, Any] | None, str | None, int]:
    site = request.args.get("site", "").strip()
    user = request.args.get("user", "").strip()
    if bool(site) == bool(user):
        return None, "give exactly one of ?site=SITE or ?user=NAME", 400
    db, principal = request_db(), current_principal()
    if site:
        if not known_site(site, site_tree()) or not covers(principal, site):
            return None, f"site {site!r} is not in the inventory or not in your scope", 404
        return access.for_site(db, site, site_tree(), now=_now(), viewer=principal), None, 200
    report = access.for_user(db, user, site_tree(), now=_now(), viewer=principal)
    if report is None:
        return None, f"no user {user!r} in your scope", 404
    return report, None, 200


@bp.route("/admin/access")
@require("accounts.admin")
@nav("权限 Access", order=93)
def admin_access() -> Response:
    report, error, status = _access_report()
    if not request.args:
        error, status = None, 200
    return render_page("auth/access.html", status=status, report=report, error=error, args=request.args)


@bp.route("/admin/access.json")
@require("accounts.admin")
def admin_access_json() -> Response:
    report, error, status = _access_report()
    resp = jsonify(report if error is None else {"error": error})
    resp.status_code = status
    return resp
