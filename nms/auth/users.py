"""Accounts of people: argon2-hashed passwords, one role, one site they are bound to."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from nms import audit
from nms.auth.roles import check_role
from nms.auth.scope import common_site, site_tree
from nms.db import Database, transaction

HASHER = PasswordHasher()  # argon2id, RFC 9106 low-memory profile
MIN_PASSWORD_LENGTH = 12
# Verified against when the user does not exist, so timing does not reveal who exists.
_DUMMY_HASH = HASHER.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """Bad input for an account operation; the message names what is wrong."""


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str
    site: str
    disabled: bool
    session_gen: int
    created_ts: float
    updated_ts: float

    def public(self) -> dict[str, Any]:
        """What audit entries and pages may show (never the hash)."""
        return {"name": self.name, "role": self.role, "site": self.site, "disabled": self.disabled}


def _user(row: dict[str, Any]) -> User:
    return User(
        id=row["id"],
        name=row["name"],
        role=row["role"],
        site=row["site"],
        disabled=bool(row["disabled"]),
        session_gen=row["session_gen"],
        created_ts=row["created_ts"],
        updated_ts=row["updated_ts"],
    )


def check_name(name: str) -> str:
    if not name or len(name) > 64 or not all(c.isalnum() or c in "._-" for c in name):
        raise AccountError(f"user name {name!r}: use 1-64 letters, digits, '.', '_' or '-'")
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    return password


def random_password() -> str:
    """A password shown once to whoever creates or resets the account."""
    return secrets.token_urlsafe(15)


def hash_password(password: str, hasher: PasswordHasher | None = None) -> str:
    return (hasher or HASHER).hash(password)


def get(db: Database, name: str) -> User | None:
    rows = list(db.query("SELECT * FROM auth_users WHERE name = ?", [name]))
    return _user(rows[0]) if rows else None


def get_by_id(db: Database, user_id: int) -> User | None:
    rows = list(db.query("SELECT * FROM auth_users WHERE id = ?", [user_id]))
    return _user(rows[0]) if rows else None


def list_users(db: Database) -> list[User]:
    # Sorted here, not by ORDER BY: PostgreSQL's collation orders names unlike SQLite's bytes.
    return sorted((_user(r) for r in db.query("SELECT * FROM auth_users")), key=lambda u: u.name)


def create(
    db: Database,
    name: str,
    role: str,
    site: str,
    password: str,
    *,
    actor: str,
    source_ip: str | None = None,
    reason: str | None = None,
    hasher: PasswordHasher | None = None,
) -> User:
    """Create an account and audit it, in one transaction."""
    check_name(name)
    try:
        check_role(role)
    except ValueError as exc:
        raise AccountError(str(exc)) from None
    if not site:
        raise AccountError("site: every account is bound to a site of the tree")
    check_password(password)
    pw_hash = hash_password(password, hasher)
    now = time.time()
    with transaction(db):
        if get(db, name) is not None:
            raise AccountError(f"user {name!r} already exists")
        cur = db.execute(
            "INSERT INTO auth_users (name, password_hash, role, site, created_ts, updated_ts)"
            " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            (name, pw_hash, role, site, now, now),
        )
        user = get_by_id(db, int(cur.fetchone()[0]))
        assert user is not None
        audit.record(
            db,
            actor,
            "user.create",
            f"user:{name}",
            after=user.public(),
            reason=reason,
            source_ip=source_ip,
            site=site,
        )
    return user


def update(
    db: Database,
    name: str,
    *,
    actor: str,
    role: str | None = None,
    site: str | None = None,
    disabled: bool | None = None,
    source_ip: str | None = None,
    reason: str | None = None,
) -> User:
    """Change role, scope or disabled flag; disabling ends the user's sessions."""
    if role is not None:
        try:
            check_role(role)
        except ValueError as exc:
            raise AccountError(str(exc)) from None
    if site is not None and not site:
        raise AccountError("site: may not be empty")
    with transaction(db):
        before = get(db, name)
        if before is None:
            raise AccountError(f"no user {name!r}")
        new_role = role if role is not None else before.role
        new_site = site if site is not None else before.site
        new_disabled = before.disabled if disabled is None else disabled
        if (
            before.role == "administrator"
            and not before.disabled
            and (new_role != "administrator" or new_disabled)
        ):
            others = db.execute(
                "SELECT count(*) FROM auth_users WHERE role = 'administrator' AND disabled = 0 AND id != ?",
                (before.id,),
            ).fetchone()[0]
            if not others:
                raise AccountError(f"{name} is the last enabled administrator; appoint another one first")
        gen = before.session_gen + (1 if new_disabled and not before.disabled else 0)
        db.execute(
            "UPDATE auth_users SET role = ?, site = ?, disabled = ?, session_gen = ?, updated_ts = ?"
            " WHERE id = ?",
            (new_role, new_site, int(new_disabled), gen, time.time(), before.id),
        )
        after = get_by_id(db, before.id)
        assert after is not None
        if after.public() != before.public():
            action = "user.update"
            if before.disabled != after.disabled:
                action = "user.disable" if after.disabled else "user.enable"
            audit.record(
                db,
                actor,
                action,
                f"user:{name}",
                before=before.public(),
                after=after.public(),
                reason=reason,
                source_ip=source_ip,
                site=common_site([before.site, after.site], site_tree()),  # seen by whoever covers both
            )
    return after


def replace_password_in_tx(db: Database, name: str, pw_hash: str, now: float) -> User:
    """Store a new password hash and end the user's sessions, inside the caller's transaction.

    :func:`nms.auth.passwords.set_password` calls it beside the revocation of the user's tokens.
    """
    user = get(db, name)
    if user is None:
        raise AccountError(f"no user {name!r}")
    db.execute(
        "UPDATE auth_users SET password_hash = ?, session_gen = session_gen + 1, updated_ts = ?"
        " WHERE id = ?",
        (pw_hash, now, user.id),
    )
    return user


def end_sessions(db: Database, name: str) -> None:
    """Invalidate every session cookie of the user (sign-out is server-side, not just cookie removal)."""
    db.execute("UPDATE auth_users SET session_gen = session_gen + 1 WHERE name = ?", (name,))


def verify_password(db: Database, name: str, password: str) -> User | None:
    """The enabled user whose password this is, else None (same work either way)."""
    rows = list(db.query("SELECT * FROM auth_users WHERE name = ?", [name]))
    stored = rows[0]["password_hash"] if rows else _DUMMY_HASH
    try:
        HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if not rows or rows[0]["disabled"]:
        return None
    if HASHER.check_needs_rehash(stored):  # cheap test hashes and old parameters get upgraded
        db.execute(
            "UPDATE auth_users SET password_hash = ? WHERE id = ?", (HASHER.hash(password), rows[0]["id"])
        )
    return _user(rows[0])
