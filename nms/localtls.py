"""TLS on loopback for the demo and the tests: certificates made on the spot, nginx's configuration.

Certificates (a CA, server and client certificates, bad ones for the tests) are made with
``cryptography`` (EC P-256 keys: fast), dated from now, written as PEM the way a
deployment has them (keys mode 0600).  The nginx configuration is the shipped site,
``deploy/nginx/nms.conf``, with only its paths, ports and addresses replaced.  A real
deployment uses its own CA and the site file as documented (docs/deploy.md), not this.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from nms.config import ROOT


@dataclass
class Issued:
    """A certificate and its key, written to ``cert`` and ``key``."""

    cert: Path
    key: Path
    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "NMS on loopback"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _write(directory: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Issued:
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / f"{stem}.pem", directory / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return Issued(cert_path, key_path, cert, key)


def make_ca(directory: Path, stem: str = "ca", cn: str = "NMS test CA") -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _write(directory, stem, cert, key)


def issue(
    ca: Issued,
    directory: Path,
    stem: str,
    *,
    names: tuple[str, ...] = ("127.0.0.1",),
    client: bool = False,
    valid_from: dt.timedelta = dt.timedelta(days=-1),
    valid_for: dt.timedelta = dt.timedelta(days=90),
) -> Issued:
    """A leaf certificate for ``names`` (IP addresses or DNS names), valid from now + ``valid_from``."""
    key = ec.generate_private_key(ec.SECP256R1())
    start = dt.datetime.now(dt.UTC) + valid_from
    alt: list[x509.GeneralName] = []
    for n in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            alt.append(x509.DNSName(n))
    usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + valid_for)
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.private_key.public_key()), critical=False
        )
        .sign(ca.private_key, hashes.SHA256())
    )
    return _write(directory, stem, cert, key)


SITE = ROOT / "deploy" / "nginx" / "nms.conf"
VERSION = "    proxy_http_version 1.1;\n"


def render(site: str, replacements: dict[str, str]) -> str:
    """``site`` with each replacement made; one that no longer matches is an error (a reshaped file)."""
    for old, new in replacements.items():
        if old not in site:
            raise ValueError(f"{SITE}: expected {old!r} in the shipped configuration")
        site = site.replace(old, new)
    return site


def write_nginx_conf(
    workdir: Path,
    *,
    https_port: int,
    http_port: int,
    upstream_port: int,
    cert: Path,
    key: Path,
    agents_ca: Path,
    bind: str | None = None,
) -> Path:
    """A whole nginx.conf (foreground, files under ``workdir``) around the shipped site; returns its path.

    ``bind``: the address nginx connects to nms from (to tell it from other loopback clients).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    site = render(
        SITE.read_text(encoding="utf-8"),
        {
            "listen 80;": f"listen 127.0.0.1:{http_port};",
            "listen [::]:80;\n": "",
            "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
            "listen [::]:443 ssl http2;\n": "",
            "/etc/nms/tls/centre.pem": str(cert),
            "/etc/nms/tls/centre.key": str(key),
            "/etc/nms/tls/agents-ca.pem": str(agents_ca),
            "127.0.0.1:8080": f"127.0.0.1:{upstream_port}",
            **({VERSION: f"{VERSION}    proxy_bind {bind};\n"} if bind else {}),
        },
    )
    (workdir / "nms-site.conf").write_text(site)
    temp = "".join(
        f"    {kind}_temp_path {workdir / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    user = "user root root;\n" if os.geteuid() == 0 else ""  # workers must reach the temp dirs
    conf = workdir / "nginx.conf"
    conf.write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {workdir / 'nginx.pid'};\n"
        f"error_log {workdir / 'error.log'} info;\nevents {{ worker_connections 256; }}\n"
        f"http {{\n    access_log {workdir / 'access.log'};\n{temp}"
        f"    include {workdir / 'nms-site.conf'};\n}}\n"
    )
    return conf


def nginx_command(conf: Path) -> list[str]:
    """nginx in the foreground on ``conf``, its early errors in the same directory."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    return [nginx, "-e", str(conf.parent / "error.log"), "-c", str(conf)]


@dataclass
class LocalPki:
    """The demo's certificates: the centre's (127.0.0.1, localhost) and one client certificate per agent."""

    ca: Path
    centre: Issued
    agents_ca: Path
    agents: dict[str, Issued]


def local_pki(directory: Path, agents: list[str]) -> LocalPki:
    """Make (or remake: they are cheap and only for loopback) the demo's CAs and certificates."""
    ca, agents_ca = (
        make_ca(directory, cn="NMS demo CA"),
        make_ca(directory, "agents-ca", "NMS demo agents CA"),
    )
    centre = issue(ca, directory, "centre", names=("127.0.0.1", "localhost"))
    mine = {a: issue(agents_ca, directory, f"agent-{a}", names=(a,), client=True) for a in agents}
    return LocalPki(ca.cert, centre, agents_ca.cert, mine)
