"""SSH credentials for config backup: a named reference in configuration, secrets from outside.

SSH logins have their own kind of reference (``SshCredentialRef``, in the inventory's
``ssh_credentials`` or the configs file): a username plus *where* the secret is, either
an environment variable / secrets-file key (``password_env``) or a private key file
(``key_file``).  Resolved values never appear in ``repr`` or logs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from probes.common.inventory_model import SshCredentialRef
from probes.common.secrets import SecretError, secret_value

__all__ = ["CredentialError", "SshCredential", "SshCredentialRef", "resolve"]


class CredentialError(ValueError):
    """A reference is malformed or its secret cannot be found."""


@dataclass(frozen=True)
class SshCredential:
    username: str
    password: str | None = field(default=None, repr=False)
    key_file: str | None = None
    enable_secret: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        secret = "password=***" if self.password else f"key_file={self.key_file!r}"
        return f"SshCredential(username={self.username!r}, {secret})"


def _secret(name: str, secrets_path: Path | None) -> str | None:
    try:
        return secret_value(name, secrets_path)
    except SecretError as exc:
        raise CredentialError(str(exc)) from None


def resolve(ref: SshCredentialRef, secrets_path: Path | None = None) -> SshCredential:
    """Resolve a reference: env var first, then the secrets file; a key file must exist."""
    password = None
    if ref.password_env:
        password = _secret(ref.password_env, secrets_path)
        if password is None and not ref.key_file:
            raise CredentialError(
                f"ssh credential {ref.name!r}: password_env {ref.password_env!r} is not set "
                "in the environment or the secrets file"
            )
    if ref.key_file and not Path(ref.key_file).is_file():
        raise CredentialError(f"ssh credential {ref.name!r}: key_file {ref.key_file!r} does not exist")
    enable_secret = None
    if ref.enable_env:
        enable_secret = _secret(ref.enable_env, secrets_path)
        if enable_secret is None:
            raise CredentialError(f"ssh credential {ref.name!r}: enable_env {ref.enable_env!r} is not set")
    return SshCredential(username=ref.username, password=password, key_file=ref.key_file,
                         enable_secret=enable_secret)
