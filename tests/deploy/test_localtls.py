"""The demo's certificates (nms.localtls.local_pki): what nginx and the agents are given is right."""

from __future__ import annotations

import ssl
import stat

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from nms.localtls import local_pki


def test_demo_pki_names_the_centre_and_each_agent(tmp_path):
    pki = local_pki(tmp_path, ["chaohu", "hefei"])
    centre = pki.centre.certificate
    alt = centre.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in alt.get_values_for_type(x509.IPAddress)} == {"127.0.0.1"}
    assert alt.get_values_for_type(x509.DNSName) == ["localhost"]
    ctx = ssl.create_default_context(cafile=str(pki.ca))  # the agents' --ca-file loads and trusts it
    assert any(
        c["subject"] == ((("organizationName", "NMS on loopback"),), (("commonName", "NMS demo CA"),))
        for c in ctx.get_ca_certs()
    )
    agents_ca = x509.load_pem_x509_certificate(pki.agents_ca.read_bytes())
    for name, issued in pki.agents.items():
        cert = issued.certificate
        assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == name  # nms checks this CN
        assert cert.issuer == agents_ca.subject
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
        assert stat.S_IMODE(issued.key.stat().st_mode) == 0o600
        ssl.create_default_context().load_cert_chain(issued.cert, issued.key)  # key matches certificate
