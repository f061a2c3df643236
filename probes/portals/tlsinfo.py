"""What a portal's certificate says: subject, issuer, days to expiry, hostname match.

Read from the DER the server sent, so the facts are there even when verification failed
(an expired or wrong-name certificate still has a subject and an end date).
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime

from cryptography import x509
from cryptography.x509.oid import ExtensionOID


def describe(der: bytes, host: str, now: datetime | None = None) -> dict:
    """Subject, issuer, days left and whether ``host`` is among the certificate's names."""
    cert = x509.load_der_x509_certificate(der)
    now = now or datetime.now(UTC)
    left = (cert.not_valid_after_utc - now).total_seconds() / 86400
    names = _names(cert)
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "days_left": int(left),  # whole days, toward zero
        "expired": left < 0,
        "names": names[:20],
        "hostname_match": any(_matches(n, host) for n in names),
    }


def _names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    except x509.ExtensionNotFound:
        return [a.value for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)]
    return [*san.get_values_for_type(x509.DNSName), *map(str, san.get_values_for_type(x509.IPAddress))]


def _matches(name: str, host: str) -> bool:
    host = host.lower().rstrip(".")
    name = name.lower().rstrip(".")
    try:
        return ipaddress.ip_address(host) == ipaddress.ip_address(name)
    except ValueError:
        pass
    if name.startswith("*."):
        head, _, rest = host.partition(".")
        return bool(head) and rest == name[2:]
    return name == host
