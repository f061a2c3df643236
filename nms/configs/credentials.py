"""SSH credentials for config backup: a named reference in configuration, secrets from outside.

The inventory's credential references are SNMP-only, so SSH logins use their own
kind of reference (``SshCredentialRef``): a username plus *where* the secret is,
either an environment variable / secrets-file key (``password_env``) or a private
key file (``key_file``).  Resolved values never appear in ``repr`` or logs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from probes.common.secrets import SecretError, read_secrets_file


class CredentialError(ValueError):
    """A reference is malformed or its secret cannot be found."""


@dataclass(frozen=True)
class SshCredentialRef:
    name: str
    username: str
    password_env: str | None = None
    key_file: str | None = None
    enable_env: str | None = None  # env var / secrets-file key of the enable secret, if the device asks
    # checked (username, password_env or key_file) by the configs file's model in nms.configs.targets


@dataclass(frozen=True)
class SshCredential:
    username: str
    password: str | None = field(default=None, repr=False)
    key_file: str | None = None
    enable_secret: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        secret = "password=***" if self.password else f"key_file={self.key_file!r}"
        return f"SshCredential(username={self.username!r}, {secret})"


def _secrets_file_value(path: Path | None, key: str) -> str | None:
    """Look a key up in the 0600 secrets file (format and checks are probes.common.secrets')."""
    if path is None and os.environ.get("NMS_SECRETS_FILE"):
        path = Path(os.environ["NMS_SECRETS_FILE"])
    if path is None:
        return None

    try:
        return read_secrets_file(Path(path)).get(key) or None
    except SecretError as exc:
        raise CredentialError(str(exc)) from None


def resolve(ref: SshCredentialRef, secrets_path: Path | None = None) -> SshCredential:
    """Resolve a reference: env var first, then the secrets file; a key file must exist."""
    password = None
    if ref.password_env:
        password = os.environ.get(ref.password_env) or _secrets_file_value(secrets_path, ref.password_env)
        if password is None and not ref.key_file:
            raise CredentialError(
                f"ssh credential {ref.name!r}: password_env {ref.password_env!r} is not set "
                "in the environment or the secrets file"
            )
    if ref.key_file and not Path(ref.key_file).is_file():
        raise CredentialError(f"ssh credential {ref.name!r}: key_file {ref.key_file!r} does not exist")
    enable_secret = None
    if ref.enable_env:
        enable_secret = os.environ.get(ref.enable_env) or _secrets_file_value(secrets_path, ref.enable_env)
        if enable_secret is None:
            raise CredentialError(f"ssh credential {ref.name!r}: enable_env {ref.enable_env!r} is not set")
    return SshCredential(username=ref.username, password=password, key_file=ref.key_file,
                         enable_secret=enable_secret)
