"""A certificate authority made at start, for the simulated portals' HTTPS (and the tests').

EC P-256 keys (fast); certificates dated from the caller's clock, so an "expiring
certificate" fault is a certificate that really ends in a few days.  The agent trusts
the CA with ``--portal-ca-file``; nothing here is meant for a real deployment.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _alt(names: tuple[str, ...]) -> x509.SubjectAlternativeName:
    out: list[x509.GeneralName] = []
    for n in names:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            out.append(x509.DNSName(n))
    return x509.SubjectAlternativeName(out)


class DemoCA:
    """A CA whose certificate is ``<dir>/ca.pem``; :meth:`context` issues server certificates."""

    def __init__(self, directory: Path, cn: str = "Demo portal CA", now: float | None = None) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.key = ec.generate_private_key(ec.SECP256R1())
        start = dt.datetime.fromtimestamp(now, dt.UTC) if now else dt.datetime.now(dt.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(_name(cn))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start - dt.timedelta(days=1))
            .not_valid_after(start + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.pem = self.dir / "ca.pem"
        self.pem.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def context(
        self,
        name: str,
        names: tuple[str, ...],
        *,
        days: float = 365,
        self_signed: bool = False,
        now: float | None = None,
    ) -> ssl.SSLContext:
        """A server context for ``names`` (hosts or IPs) whose certificate ends ``days`` after now."""
        key = ec.generate_private_key(ec.SECP256R1())
        t = dt.datetime.fromtimestamp(now, dt.UTC) if now else dt.datetime.now(dt.UTC)
        issuer, signer = (_name(name), key) if self_signed else (self.cert.subject, self.key)
        start = min(t - dt.timedelta(days=2), t + dt.timedelta(days=days) - dt.timedelta(days=30))
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(t + dt.timedelta(days=days))
            .add_extension(_alt(names), critical=False)
            .sign(signer, hashes.SHA256())
        )
        certfile, keyfile = self.dir / f"{name}.pem", self.dir / f"{name}.key"
        certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        keyfile.touch(mode=0o600)
        keyfile.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certfile, keyfile)
        return ctx
