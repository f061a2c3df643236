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

from nms import audit
from nms.auth import users
from nms.auth.roles import TOKEN_KINDS
from nms.auth.scope import audit_site, scope_of_site, site_tree
from nms.db import Database, transaction
from probes.common.inventory_model import Inventory

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


def reach(
    db: Database, kind: str, subject: str | None, site: str | None, tree: Inventory | None
) -> frozenset[str] | None:
    """Sites a token of this kind and subject acts on (None = the whole province).

    An empty set means its reach is unknown (no such agent or user): province only.
    """
    if kind == "kiosk":
        return scope_of_site(site, tree)
    if kind == "agent":
        if tree is None or subject not in tree.agents:
            return frozenset()
        return frozenset(tree.agents[subject].sites)
    user = users.get(db, subject or "")
    return frozenset() if user is None else scope_of_site(user.site, tree)


def _audit_site(db: Database, token: Token, tree: Inventory | None) -> str | None:
    """Where the token's audit rows are filed: the narrowest site holding its reach."""
    tree = tree if tree is not None else site_tree()  # the app's, when called from a request
    return audit_site(reach(db, token.kind, token.subject, token.site, tree), tree)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def create(
    db: Database,
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
    tree: Inventory | None = None,
) -> tuple[Token, str]:
    """Create a token; returns (record, raw token).  The raw value is never stored or logged."""
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
    with transaction(db):
        cur = db.execute(
            "INSERT INTO auth_tokens (kind, subject, site, token_hash, label, created_ts, created_by,"
            " expires_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (kind, subject, site, hash_token(raw), label, now, actor, expires),
        )
        token = get(db, int(cur.fetchone()[0]))
        assert token is not None
        audit.record(
            db,
            actor,
            "token.create",
            f"token:{token.id}",
            after=token.public(),
            reason=reason,
            source_ip=source_ip,
            site=_audit_site(db, token, tree),
        )
    return token, raw


def get(db: Database, token_id: int) -> Token | None:
    rows = list(db.query("SELECT * FROM auth_tokens WHERE id = ?", [token_id]))
    return _token(rows[0]) if rows else None


def list_tokens(db: Database, *, include_revoked: bool = True) -> list[Token]:
    where = "" if include_revoked else " WHERE revoked_ts IS NULL"
    return [_token(r) for r in db.query(f"SELECT * FROM auth_tokens{where} ORDER BY id")]


def revoke(
    db: Database,
    token_id: int,
    *,
    actor: str,
    source_ip: str | None = None,
    reason: str | None = None,
    now: float | None = None,
    tree: Inventory | None = None,
) -> Token:
    now = time.time() if now is None else now
    with transaction(db):
        before = get(db, token_id)
        if before is None:
            raise TokenError(f"no token with id {token_id}")
        if before.revoked_ts is not None:
            return before
        _mark_revoked(db, before, actor=actor, reason=reason, source_ip=source_ip, now=now, tree=tree)
    after = get(db, token_id)
    assert after is not None
    return after


def _mark_revoked(
    db: Database,
    before: Token,
    *,
    actor: str,
    reason: str | None,
    source_ip: str | None,
    now: float,
    tree: Inventory | None = None,
) -> None:
    """Revoke and audit one token inside the caller's transaction (audited under its site)."""
    db.execute("UPDATE auth_tokens SET revoked_ts = ?, revoked_by = ? WHERE id = ?", (now, actor, before.id))
    audit.record(
        db,
        actor,
        "token.revoke",
        f"token:{before.id}",
        before=before.public(),
        reason=reason,
        source_ip=source_ip,
        site=_audit_site(db, before, tree),
    )


def revoke_user_tokens_in_tx(
    db: Database, name: str, *, actor: str, reason: str, source_ip: str | None, now: float
) -> list[int]:
    """Revoke every active API token of user ``name`` inside the caller's transaction (audited each).

    A password reset calls it: a token made with the old password must not outlive it.
    """
    active = [
        _token(r)
        for r in db.query(
            "SELECT * FROM auth_tokens WHERE kind = 'user' AND subject = ? AND revoked_ts IS NULL"
            " ORDER BY id",
            [name],
        )
    ]
    for token in active:
        _mark_revoked(db, token, actor=actor, reason=reason, source_ip=source_ip, now=now)
    return [t.id for t in active]


def verify(db: Database, raw: str, *, now: float | None = None) -> Token | None:
    """The active token with this value, else None (unknown, revoked or expired)."""
    if not raw.startswith(PREFIX):
        return None
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
