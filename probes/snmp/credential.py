"""The one SNMP credential type and the one table of SNMPv3 protocol names.

Inventory validation, ``probes.common.secrets``, the agent's CLI, both SNMP clients and the
simulator's USM all use these, so a protocol spelled ``SHA256`` in the inventory,
``sha-256`` on the command line or ``SHA-256`` in a test means the same thing
everywhere.  Each client keeps only its mapping from the canonical names below to its
library's objects (see :func:`library_map`).  Self-contained on purpose: the agent
side and the centre both import it, and it imports neither.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

__all__ = [
    "AUTH_PROTOCOLS",
    "KEY_EXTENSIONS",
    "PRIV_PROTOCOLS",
    "VERSIONS",
    "AuthProtocol",
    "Credential",
    "CredentialFieldError",
    "PrivProtocol",
    "accepted_names",
    "auth_protocol",
    "library_map",
    "priv_protocol",
    "unsupported",
]

_MASK = "***"


@dataclass(frozen=True)
class AuthProtocol:
    """An SNMPv3 authentication protocol (RFC 3414, RFC 7860)."""

    name: str  # canonical
    hash: str  # hashlib name
    mac_len: int  # truncated HMAC length on the wire
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class PrivProtocol:
    """An SNMPv3 privacy protocol (RFC 3414, RFC 3826, AES-192/256 drafts)."""

    name: str  # canonical
    cipher: str  # "des" or "aes"
    key_len: int  # bytes of localized key the cipher uses
    aliases: tuple[str, ...] = ()
    # an alias that also fixes the AES-192/256 key extension (net-snmp's AES192C/AES256C)
    reeder_aliases: tuple[str, ...] = ()


AUTH_PROTOCOLS: tuple[AuthProtocol, ...] = (
    AuthProtocol("MD5", "md5", 12),
    AuthProtocol("SHA", "sha1", 12, ("SHA1",)),
    AuthProtocol("SHA-224", "sha224", 16),
    AuthProtocol("SHA-256", "sha256", 24),
    AuthProtocol("SHA-384", "sha384", 32),
    AuthProtocol("SHA-512", "sha512", 48),
)
PRIV_PROTOCOLS: tuple[PrivProtocol, ...] = (
    PrivProtocol("DES", "des", 8),
    PrivProtocol("AES", "aes", 16, ("AES128",)),
    PrivProtocol("AES-192", "aes", 24, reeder_aliases=("AES192C",)),
    PrivProtocol("AES-256", "aes", 32, reeder_aliases=("AES256C",)),
)
#: canonical SNMP version -> accepted spellings
VERSIONS = {"v1": ("1",), "v2c": ("2c", "2"), "v3": ("3",)}
#: how AES-192/256 keys are stretched from shorter SHA-1/MD5 keys: the Blumenthal draft
#: (net-snmp's AES192/AES256) or Reeder's (Cisco and many others; net-snmp's AES192C/AES256C)
KEY_EXTENSIONS = {"blumenthal": (), "reeder": ("cisco",)}
_NONE = {"", "NONE", "NOAUTH", "NOPRIV"}


def _key(name: str) -> str:
    """Spelling-insensitive lookup key: ``sha_256``, ``SHA-256`` and ``sha256`` match."""
    return name.upper().replace("-", "").replace("_", "")


def _names(canonical: str, aliases: tuple[str, ...]) -> str:
    return f"{canonical} ({', '.join(aliases)})" if aliases else canonical


def accepted_names(kind: str) -> str:
    """Accepted names for ``auth_proto``, ``priv_proto``, ``version`` or ``key_extension``."""
    if kind == "auth_proto":
        items = [(p.name, p.aliases) for p in AUTH_PROTOCOLS]
    elif kind == "priv_proto":
        items = [(p.name, p.aliases + p.reeder_aliases) for p in PRIV_PROTOCOLS]
    elif kind == "version":
        items = list(VERSIONS.items())
    else:
        items = list(KEY_EXTENSIONS.items())
    return ", ".join(_names(n, a) for n, a in items)


class CredentialFieldError(ValueError):
    """A credential field is wrong; ``field`` and ``problem`` let callers add a file and line."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field, self.problem = field, problem


def _unknown(kind: str, value: object) -> CredentialFieldError:
    what = {"version": "SNMP version", "key_extension": "key extension"}.get(kind, "protocol")
    note = "; case, '-' and '_' do not matter" if kind.endswith("_proto") else ""
    return CredentialFieldError(kind, f"unknown {what} {value!r} (accepted: {accepted_names(kind)}{note})")


_AUTH_BY_KEY = {_key(n): p for p in AUTH_PROTOCOLS for n in (p.name, *p.aliases)}
_PRIV_BY_KEY = {_key(n): (p, False) for p in PRIV_PROTOCOLS for n in (p.name, *p.aliases)}
_PRIV_BY_KEY.update({_key(n): (p, True) for p in PRIV_PROTOCOLS for n in p.reeder_aliases})


def auth_protocol(name: str | None, kind: str = "auth_proto") -> AuthProtocol | None:
    """The protocol ``name`` stands for, None for noAuth; ValueError names field and accepted names."""
    if name is None or _key(str(name)) in _NONE:
        return None
    proto = _AUTH_BY_KEY.get(_key(str(name)))
    if proto is None:
        raise _unknown(kind, name)
    return proto


def priv_protocol(name: str | None, kind: str = "priv_proto") -> tuple[PrivProtocol | None, bool]:
    """The protocol ``name`` stands for (None for noPriv) and whether the name implies Reeder."""
    if name is None or _key(str(name)) in _NONE:
        return None, False
    found = _PRIV_BY_KEY.get(_key(str(name)))
    if found is None:
        raise _unknown(kind, name)
    return found


def _canonical(table: dict[str, tuple[str, ...]], kind: str, value: str) -> str:
    want = str(value).lower()
    for name, aliases in table.items():
        if want == name or want in aliases:
            return name
    raise _unknown(kind, value)


@dataclass(frozen=True)
class Credential:
    """An SNMP credential with its secret values, normalised to canonical names on creation.

    Any accepted spelling may be passed (``version="2c"``, ``auth_proto="sha256"``,
    ``priv_proto="AES256C"``, ``key_extension="cisco"``); the fields then hold the
    canonical ones (``v2c``, ``SHA-256``, ``AES-256`` + ``reeder``).  ``key_extension``
    left as None means: Reeder if the privacy name says so, else Blumenthal.
    ``repr``/``str`` never show the community or keys.
    """

    version: str = "v2c"
    community: str | None = field(default=None, repr=False)  # v1/v2c; "public" when not given
    user: str = ""  # v3
    auth_proto: str | None = None
    auth_key: str | None = field(default=None, repr=False)
    priv_proto: str | None = None
    priv_key: str | None = field(default=None, repr=False)
    key_extension: str | None = None
    context: str = ""  # v3 context name (pysnmp only)
    name: str = ""  # the inventory credential it was resolved from, for messages

    def __post_init__(self) -> None:
        version = _canonical(VERSIONS, "version", self.version)
        auth = auth_protocol(self.auth_proto)
        priv, reeder = priv_protocol(self.priv_proto)
        ext = self.key_extension
        ext = _canonical(KEY_EXTENSIONS, "key_extension", ext) if ext is not None else None
        if reeder and ext == "blumenthal":
            raise CredentialFieldError(
                "key_extension", f"'blumenthal' contradicts priv_proto {self.priv_proto!r} (Reeder)"
            )
        set_ = object.__setattr__
        set_(self, "version", version)
        set_(self, "auth_proto", auth.name if auth else None)
        set_(self, "priv_proto", priv.name if priv else None)
        set_(self, "key_extension", ext or ("reeder" if reeder else "blumenthal"))
        if version != "v3":
            if self.community is None:
                set_(self, "community", "public")
            return
        if not self.user:
            raise CredentialFieldError("user", "required for SNMPv3")
        if priv and not auth:
            raise CredentialFieldError("priv_proto", "privacy needs an auth protocol (set auth_proto too)")
        if auth and not self.auth_key:
            raise CredentialFieldError("auth_key", "required when auth_proto is set")
        if priv and not self.priv_key:
            raise CredentialFieldError("priv_key", "required when priv_proto is set")

    def __repr__(self) -> str:
        parts = [f"name={self.name!r}"] if self.name else []
        parts.append(f"version={self.version!r}")
        if self.version != "v3":
            parts.append(f"community={_MASK}")
        else:
            parts.append(f"user={self.user!r}")
            if self.auth_proto is not None:
                parts.append(f"auth_proto={self.auth_proto!r}, auth_key={_MASK}")
            if self.priv_proto is not None:
                parts.append(f"priv_proto={self.priv_proto!r}, priv_key={_MASK}, "
                             f"key_extension={self.key_extension!r}")
            if self.context:
                parts.append(f"context={self.context!r}")
        return f"Credential({', '.join(parts)})"

    __str__ = __repr__


T = TypeVar("T")


def library_map(kind: str, entries: dict[str, T], complete: bool = True) -> dict[str, T]:
    """A client's own objects keyed by the table's canonical names, checked at import.

    Refuses a name the table lacks and, when ``complete``, a table entry the client
    forgot; a client that supports only a subset (the simulator has no DES) passes
    ``complete=False`` and answers a missing protocol with :func:`unsupported`.
    """
    known = {p.name for p in {"auth_proto": AUTH_PROTOCOLS, "priv_proto": PRIV_PROTOCOLS}[kind]}
    strange = sorted(set(entries) - known)
    missing = sorted(known - set(entries)) if complete else []
    if strange or missing:
        raise ValueError(f"{kind} map: unknown names {strange}, missing {missing}")
    return entries


def unsupported(who: str, kind: str, name: str, supported: dict[str, object]) -> CredentialFieldError:
    """The error for a protocol the table knows but ``who`` cannot do."""
    names = ", ".join(supported)
    return CredentialFieldError(kind, f"{who} does not support {name!r} (it supports: {names})")
