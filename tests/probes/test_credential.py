"""The one SNMP credential type and protocol table: spellings, errors, masking, client maps."""

from __future__ import annotations

import dataclasses

import pytest

from probes.snmp import Credential, gufo_client, pysnmp_client, usm
from probes.snmp.credential import (
    AUTH_PROTOCOLS,
    PRIV_PROTOCOLS,
    CredentialFieldError,
    auth_protocol,
    library_map,
    priv_protocol,
)


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [("SHA256", "SHA-256"), ("sha-256", "SHA-256"), ("sha_512", "SHA-512"), ("SHA1", "SHA"),
     ("sha", "SHA"), ("md5", "MD5"), ("SHA-224", "SHA-224")],
)
def test_auth_spellings_share_one_name(spelling: str, canonical: str) -> None:
    proto = auth_protocol(spelling)
    assert proto is not None and proto.name == canonical
    cred = Credential("3", user="u", auth_proto=spelling, auth_key="k" * 8)
    assert (cred.version, cred.auth_proto) == ("v3", canonical)


def test_priv_spellings_and_the_reeder_aliases() -> None:
    assert [priv_protocol(n)[0].name for n in ("AES128", "aes", "AES192", "AES-256")] == [
        "AES", "AES", "AES-192", "AES-256"]
    assert priv_protocol("AES256C") == (priv_protocol("AES256")[0], True)
    c = Credential("v3", user="u", auth_proto="SHA", auth_key="a" * 8, priv_proto="AES192C", priv_key="p" * 8)
    assert (c.priv_proto, c.key_extension) == ("AES-192", "reeder")
    assert Credential("3", user="u", auth_proto="SHA", auth_key="a" * 8, priv_proto="AES-192",
                      priv_key="p" * 8, key_extension="cisco").key_extension == "reeder"
    assert priv_protocol(None) == (None, False) and auth_protocol("noAuth") is None


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        (dict(version="4"), "version: unknown SNMP version '4' (accepted: v1 (1), v2c (2c, 2), v3 (3))"),
        (dict(version="3", user="u", auth_proto="ROT13", auth_key="x"),
         "auth_proto: unknown protocol 'ROT13' (accepted: MD5, SHA (SHA1), SHA-224, SHA-256, SHA-384, "
         "SHA-512; case, '-' and '_' do not matter)"),
        (dict(version="3", user="u", auth_proto="SHA", auth_key="x", priv_proto="3DES", priv_key="y"),
         "priv_proto: unknown protocol '3DES' (accepted: DES, AES (AES128), AES-192 (AES192C), "
         "AES-256 (AES256C); case, '-' and '_' do not matter)"),
        (dict(version="3", user="u", auth_proto="SHA", auth_key="x", priv_proto="AES", priv_key="y",
              key_extension="rot"),
         "key_extension: unknown key extension 'rot' (accepted: blumenthal, reeder (cisco))"),
        (dict(version="3"), "user: required for SNMPv3"),
        (dict(version="3", user="u", priv_proto="AES", priv_key="y"),
         "priv_proto: privacy needs an auth protocol (set auth_proto too)"),
        (dict(version="3", user="u", auth_proto="SHA"), "auth_key: required when auth_proto is set"),
        (dict(version="3", user="u", auth_proto="SHA", auth_key="x", priv_proto="AES256C", priv_key="y",
              key_extension="blumenthal"),
         "key_extension: 'blumenthal' contradicts priv_proto 'AES256C' (Reeder)"),
    ],
)
def test_bad_credentials_name_the_field(kw: dict, message: str) -> None:
    with pytest.raises(CredentialFieldError) as info:
        Credential(**kw)
    assert str(info.value) == message
    assert info.value.field == message.split(":")[0]


def test_repr_and_str_never_show_secrets() -> None:
    v3 = Credential("v3", user="nmsmon", auth_proto="SHA256", auth_key="authpass-Zq8",
                    priv_proto="AES", priv_key="privpass-Zq8", name="v3-secure")
    v2 = Credential(community="community-Zq8")
    for c in (v3, v2):
        for text in (repr(c), str(c), f"{c}", f"{[c]}", f"{ {'c': c} }"):
            assert "Zq8" not in text and "***" in text
    assert repr(v3) == ("Credential(name='v3-secure', version='v3', user='nmsmon', auth_proto='SHA-256', "
                        "auth_key=***, priv_proto='AES', priv_key=***, key_extension='blumenthal')")
    assert repr(v2) == "Credential(version='v2c', community=***)"


def test_frozen_and_replace_renormalises() -> None:
    c = Credential("2c")
    assert c.community == "public"  # as net-snmp's default
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.community = "x"  # type: ignore[misc]
    assert dataclasses.replace(c, version="1").version == "v1"


def test_every_client_maps_the_whole_table_and_the_simulator_its_subset() -> None:
    names = {p.name for p in AUTH_PROTOCOLS}
    for table in (gufo_client._AUTH, pysnmp_client._AUTH, usm.AUTH):
        assert set(table) == names
    privs = {p.name for p in PRIV_PROTOCOLS}
    assert set(gufo_client._PRIV) == privs
    assert set(pysnmp_client._PRIV["blumenthal"]) == set(pysnmp_client._PRIV["reeder"]) == privs
    assert set(usm.PRIV) == privs - {"DES"}
    with pytest.raises(ValueError, match=r"missing \['SHA-512'\]"):
        library_map("auth_proto", {n: 1 for n in names - {"SHA-512"}})
    with pytest.raises(ValueError, match=r"unknown names \['SHA256'\]"):
        library_map("auth_proto", {"SHA256": 1}, complete=False)


def test_simulator_refuses_what_it_cannot_serve() -> None:
    des = Credential("v3", user="u", auth_proto="MD5", auth_key="a" * 8, priv_proto="DES", priv_key="p" * 8)
    with pytest.raises(usm.UsmConfigError, match="priv_proto: the simulator does not support 'DES'"):
        usm.UsmUser.create(des, b"\x80\x00\x00\x01\x01")
