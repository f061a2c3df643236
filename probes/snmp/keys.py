"""Normalise SNMPv3 protocol names (``sha256``, ``SHA-256``, ``usmHMAC192SHA256AuthProtocol``...)."""

from __future__ import annotations

_AUTH = {
    "MD5": "MD5",
    "SHA": "SHA",
    "SHA1": "SHA",
    "SHA-1": "SHA",
    "SHA224": "SHA-224",
    "SHA256": "SHA-256",
    "SHA384": "SHA-384",
    "SHA512": "SHA-512",
}
_PRIV = {
    "DES": "DES",
    "AES": "AES",
    "AES128": "AES",
    "AES-128": "AES",
    "AES192": "AES-192",
    "AES256": "AES-256",
    "AES192C": "AES-192",
    "AES256C": "AES-256",
}


def auth_name(proto: str | None) -> str | None:
    """Canonical auth protocol name or None for noAuth; ValueError names the bad value."""
    if not proto or str(proto).upper() in ("NONE", "NOAUTH"):
        return None
    key = str(proto).upper().replace("_", "-")
    key = key.replace("-", "") if key.replace("-", "") in _AUTH else key
    if key not in _AUTH and key not in _AUTH.values():
        raise ValueError(f"unknown SNMPv3 auth protocol {proto!r} (use MD5, SHA, SHA-224..SHA-512)")
    return _AUTH.get(key, key)


def priv_name(proto: str | None) -> str | None:
    """Canonical privacy protocol name or None for noPriv."""
    if not proto or str(proto).upper() in ("NONE", "NOPRIV"):
        return None
    key = str(proto).upper().replace("_", "-")
    key = key.replace("-", "") if key.replace("-", "") in _PRIV else key
    if key not in _PRIV and key not in _PRIV.values():
        raise ValueError(f"unknown SNMPv3 privacy protocol {proto!r} (use DES, AES, AES-192, AES-256)")
    return _PRIV.get(key, key)
