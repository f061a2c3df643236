"""Replacing a password: the account and its API tokens change in one transaction.

Above :mod:`nms.auth.users` and :mod:`nms.auth.tokens` (tokens belong to users), so that
neither imports the other for it.
"""

from __future__ import annotations

import time

from argon2 import PasswordHasher

from nms import audit
from nms.auth import tokens, users
from nms.db import Database, transaction


def set_password(
    db: Database,
    name: str,
    password: str,
    *,
    actor: str,
    source_ip: str | None = None,
    reason: str | None = None,
    hasher: PasswordHasher | None = None,
) -> list[int]:
    """Replace a password (reset by an administrator or changed by the user).

    Ends the old sessions and revokes the user's API tokens in the same transaction (a
    token taken with a stolen password must not survive the reset); returns their ids.
    """
    users.check_password(password)
    pw_hash = users.hash_password(password, hasher)
    with transaction(db):
        now = time.time()
        user = users.replace_password_in_tx(db, name, pw_hash, now)
        revoked = tokens.revoke_user_tokens_in_tx(
            db, name, actor=actor, reason=f"password of {name} replaced", source_ip=source_ip, now=now
        )
        audit.record(
            db,
            actor,
            "user.password",
            f"user:{name}",
            after={"sessions_ended": True, "tokens_revoked": revoked},
            reason=reason,
            source_ip=source_ip,
            site=user.site,
        )
    return revoked
