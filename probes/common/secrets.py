"""Resolve an inventory credential reference into the secret values SNMP needs.

The inventory only names variables (``community_env``, ``auth_key_env``, ...). Values
come from the process environment first, then from a secrets file (``NMS_SECRETS_FILE``
or the ``secrets_file`` argument) that must not be readable by group or others. The
result is the one SNMP credential type, :class:`probes.snmp.credential.Credential`,
which masks its values in ``repr``/``str`` so they can't leak into logs by accident.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import yaml

from probes.common.inventory_model import CredentialRef
from probes.snmp.credential import Credential

__all__ = ["SecretError", "resolve", "read_secrets_file", "secret_value"]

_KV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$")


class SecretError(Exception):
    """A secret is missing or its source is unsafe; the message names the variable or file."""


def resolve(cred: CredentialRef, secrets_file: Path | str | None = None) -> Credential:
    """Look up every secret `cred` names; raise SecretError naming the first missing one.

    Without `secrets_file`, ``NMS_SECRETS_FILE`` is used when set. Environment variables
    take precedence over the file.
    """
    if secrets_file is None and os.environ.get("NMS_SECRETS_FILE"):
        secrets_file = os.environ["NMS_SECRETS_FILE"]
    file_values: dict[str, str] | None = None

    def lookup(env_name: str | None, what: str) -> str | None:
        nonlocal file_values
        if env_name is None:
            return None
        value = os.environ.get(env_name)
        if value:
            return value
        if secrets_file is not None:
            if file_values is None:
                file_values = read_secrets_file(Path(secrets_file))
            value = file_values.get(env_name)
            if value:
                return value
        where = f"environment or secrets file {secrets_file}" if secrets_file else "environment"
        raise SecretError(
            f"credential {cred.name!r}: {what} not set: define environment variable {env_name} "
            f"(looked in the {where})"
        )

    if cred.version in ("v1", "v2c"):
        if cred.community_env is None:
            raise SecretError(f"credential {cred.name!r}: {cred.version} needs community_env")
        values = dict(community=lookup(cred.community_env, "community"))
    elif cred.version == "v3":
        if cred.user is None:
            raise SecretError(f"credential {cred.name!r}: SNMPv3 needs a user")
        values = dict(
            user=cred.user,
            auth_proto=cred.auth_proto,
            auth_key=lookup(cred.auth_key_env, "auth key") if cred.auth_proto else None,
            priv_proto=cred.priv_proto,
            priv_key=lookup(cred.priv_key_env, "priv key") if cred.priv_proto else None,
        )
    else:
        raise SecretError(f"credential {cred.name!r}: unknown SNMP version {cred.version!r}")
    try:
        return Credential(version=cred.version, name=cred.name, **values)
    except ValueError as exc:  # names a field, never a value
        raise SecretError(f"credential {cred.name!r}: {exc}") from None


def secret_value(name: str, secrets_file: Path | str | None = None) -> str | None:
    """One named secret (e.g. an SSH password): the environment first, then the secrets file
    (``secrets_file`` or ``NMS_SECRETS_FILE``); None when neither has it."""
    if os.environ.get(name):
        return os.environ[name]
    if secrets_file is None and os.environ.get("NMS_SECRETS_FILE"):
        secrets_file = os.environ["NMS_SECRETS_FILE"]
    if secrets_file is None:
        return None
    return read_secrets_file(Path(secrets_file)).get(name) or None


def read_secrets_file(path: Path) -> dict[str, str]:
    """Read ``KEY=value`` lines or a YAML mapping; refuse a file group/other can read or write."""
    try:
        st = path.stat()
    except OSError as exc:
        raise SecretError(f"secrets file {path}: cannot read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise SecretError(f"secrets file {path}: not a regular file")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise SecretError(
            f"secrets file {path}: mode {mode:04o} lets group/others access it; run: chmod 600 {path}"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretError(f"secrets file {path}: cannot read: {exc}") from None
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if lines and all(_KV_LINE.match(ln) for ln in lines):
        out = {}
        for ln in lines:
            m = _KV_LINE.match(ln)
            assert m is not None
            out[m.group(1)] = _unquote(m.group(2).strip())
        return out
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        # never echo file content: it holds secrets
        raise SecretError(
            f"secrets file {path}:{where}: neither KEY=value lines nor a YAML mapping"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise SecretError(
            f"secrets file {path}: expected KEY=value lines or a YAML mapping of names to values"
        )
    return {k: str(v) for k, v in data.items() if v is not None}


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value
