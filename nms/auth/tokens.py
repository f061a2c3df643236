"""API tokens for agents, people and the wall kiosk: shown once, stored as sha256, revocable.

A token is 32 random bytes (so a plain sha256 is enough: nothing to brute-force),
written ``nms_<urlsafe base64>``.  Only the hash is stored; audit entries name the
token by its id.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from nms import audit
from nms.auth import users
from nms.auth.roles import TOKEN_KINDS
from nms.auth.schema import ensure_schema

PREFIX = "nms_"
DAY = 86400.0
_LAST_USED_RESOLUTION_S = 60.0


class TokenError(ValueError):
    """Bad input for a token operation; the message names what is wrong."""


@dataclass(frozen=True)
class Token:
    id: int
    kind: str
    subject: str | None  # agent name or user name; None for kiosk
    site: str | None  # kiosk: site the wall shows (None = province)
    label: str | None
    created_ts: float
    created_by: str
    expires_ts: float | None
    revoked_ts: float | None
    last_used_ts: float | None

    def active(self, now: float) -> bool:
        return self.revoked_ts is None and (self.expires_ts is None or now < self.expires_ts)

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "subject": self.subject,
            "site": self.site,
            "label": self.label,
            "expires_ts": self.expires_ts,
        }


def _token(row: dict[str, Any]) -> Token:
    return Token(
        id=row["id"],
        kind=row["kind"],
        subject=row["subject"],
        site=row["site"],
        label=row["label"],
        created_ts=row["created_ts"],
        created_by=row["created_by"],
        expires_ts=row["expires_ts"],
        revoked_ts=row["revoked_ts"],
        last_used_ts=row["last_used_ts"],
    )


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def create(
    db: sqlite_utils.Database,
    kind: str,
    subject: str | None = None,
    *,
    actor: str,
    site: str | None = None,
    expires_days: float | None = None,
    label: str | None = None,
    source_ip: str | None = None,
    reason: str | None = None,
    now: float | None = None,
) -> tuple[Token, str]:
    """Create a token; returns (record, raw token).  The raw value is never stored or logged."""
    ensure_schema(db)
    if kind not in TOKEN_KINDS:
        raise TokenError(f"token kind {kind!r}: expected one of {', '.join(TOKEN_KINDS)}")
    if kind in ("agent", "user") and not subject:
        raise TokenError(f"a {kind} token names its {kind}")
    if kind == "kiosk" and subject:
        raise TokenError("a kiosk token names no subject")
    if kind == "user" and users.get(db, subject or "") is None:
        raise TokenError(f"no user {subject!r}")
    if expires_days is not None and expires_days <= 0:
        raise TokenError("expires: a positive number of days")
    now = time.time() if now is None else now
    expires = None if expires_days is None else now + expires_days * DAY
    raw = PREFIX + secrets.token_urlsafe(32)
    with db.conn:
        db.execute("BEGIN IMMEDIATE")
        cur = db.execute(
            "INSERT INTO auth_tokens (kind, subject, site, token_hash, label, created_ts, created_by,"
            " expires_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (kind, subject, site, hash_token(raw), label, now, actor, expires),
        )
        token = get(db, int(cur.lastrowid))
        assert token is not None
        audit.record(
            db,
            actor,
            "token.create",
            f"token:{token.id}",
            after=token.public(),
            reason=reason,
            source_ip=source_ip,
        )
    return token, raw


def get(db: sqlite_utils.Database, token_id: int) -> Token | None:
    ensure_schema(db)
    rows = list(db.query("SELECT * FROM auth_tokens WHERE id = ?", [token_id]))
    return _token(rows[0]) if rows else None


def list_tokens(db: sqlite_utils.Database, *, include_revoked: bool = True) -> list[Token]:
    ensure_schema(db)
    where = "" if include_revoked else " WHERE revoked_ts IS NULL"
    return [_token(r) for r in db.query(f"SELECT * FROM auth_tokens{where} ORDER BY id")]


def revoke(
    db: sqlite_utils.Database,
    token_id: int,
    *,
    actor: str,
    source_ip: str | None = None,
    reason: str | None = None,
    now: float | None = None,
) -> Token:
    ensure_schema(db)
    now = time.time() if now is None else now
    with db.conn:
        db.execute("BEGIN IMMEDIATE")
        before = get(db, token_id)
        if before is None:
            db.execute("ROLLBACK")
            raise TokenError(f"no token with id {token_id}")
        if before.revoked_ts is not None:
            db.execute("ROLLBACK")
            return before
        _mark_revoked(db, before, actor=actor, reason=reason, source_ip=source_ip, now=now)
    after = get(db, token_id)
    assert after is not None
    return after


def _mark_revoked(
    db: sqlite_utils.Database,
    before: Token,
    *,
    actor: str,
    reason: str | None,
    source_ip: str | None,
    now: float,
) -> None:
    """Revoke and audit one token inside the caller's transaction."""
    db.execute("UPDATE auth_tokens SET revoked_ts = ?, revoked_by = ? WHERE id = ?", (now, actor, before.id))
    audit.record(
        db,
        actor,
        "token.revoke",
        f"token:{before.id}",
        before=before.public(),
        reason=reason,
        source_ip=source_ip,
    )


def revoke_user_tokens_in_tx(
    db: sqlite_utils.Database, name: str, *, actor: str, reason: str, source_ip: str | None, now: float
) -> list[int]:
    """Revoke every active API token of user ``name`` inside the caller's transaction (audited each).

    A password reset calls it: a token made with the old password must not outlive it.
    """
    active = [
        _token(r)
        for r in db.query(
            "SELECT * FROM auth_tokens WHERE kind = 'user' AND subject = ? AND revoked_ts IS NULL", [name]
        )
    ]
    for token in active:
        _mark_revoked(db, token, actor=actor, reason=reason, source_ip=source_ip, now=now)
    return [t.id for t in active]


def verify(db: sqlite_utils.Database, raw: str, *, now: float | None = None) -> Token | None:
    """The active token with this value, else None (unknown, revoked or expired)."""
    if not raw.startswith(PREFIX):
        return None
    ensure_schema(db)
    rows = list(db.query("SELECT * FROM auth_tokens WHERE token_hash = ?", [hash_token(raw)]))
    if not rows:
        return None
    token = _token(rows[0])
    now = time.time() if now is None else now
    if not token.active(now):
        return None
    if token.last_used_ts is None or now - token.last_used_ts > _LAST_USED_RESOLUTION_S:
        db.execute("UPDATE auth_tokens SET last_used_ts = ? WHERE id = ?", (now, token.id))
    return token
