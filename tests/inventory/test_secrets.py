"""Secrets resolve from the environment or a 0600 file, and never print in clear."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from probes.common.inventory_model import CredentialRef
from probes.common.secrets import SecretError, read_secrets_file, resolve
from probes.snmp import Credential

V2 = CredentialRef(name="v2c-default", version="v2c", community_env="NMS_TEST_COMMUNITY")
V3 = CredentialRef(
    name="v3-secure",
    version="v3",
    user="nmsmon",
    auth_proto="SHA256",
    auth_key_env="NMS_TEST_AUTH",
    priv_proto="AES",
    priv_key_env="NMS_TEST_PRIV",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NMS_TEST_COMMUNITY", "NMS_TEST_AUTH", "NMS_TEST_PRIV", "NMS_SECRETS_FILE"):
        monkeypatch.delenv(name, raising=False)


def secrets_file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "secrets.env"
    path.write_text(text, encoding="utf-8")
    os.chmod(path, mode)
    return path


def test_v2c_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NMS_TEST_COMMUNITY", "s3cr3t-community")
    secret = resolve(V2)
    assert secret == Credential("v2c", community="s3cr3t-community", name="v2c-default")


def test_v3_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NMS_TEST_AUTH", "authpass123")
    monkeypatch.setenv("NMS_TEST_PRIV", "privpass456")
    s = resolve(V3)
    # the inventory's SHA256 comes back under its canonical name (probes.snmp.credential)
    assert (s.version, s.user, s.auth_proto, s.auth_key, s.priv_proto, s.priv_key) == (
        "v3", "nmsmon", "SHA-256", "authpass123", "AES", "privpass456",
    )  # fmt: skip


def test_repr_and_str_mask_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NMS_TEST_AUTH", "authpass123")
    monkeypatch.setenv("NMS_TEST_PRIV", "privpass456")
    monkeypatch.setenv("NMS_TEST_COMMUNITY", "s3cr3t-community")
    for s in (resolve(V3), resolve(V2)):
        for text in (repr(s), str(s), f"{s}", f"{[s]}"):
            assert "authpass123" not in text and "privpass456" not in text and "s3cr3t" not in text
            assert "***" in text
    assert "user='nmsmon'" in repr(resolve(V3))


def test_missing_env_names_the_variable() -> None:
    with pytest.raises(SecretError) as info:
        resolve(V2)
    assert str(info.value) == (
        "credential 'v2c-default': community not set: define environment variable NMS_TEST_COMMUNITY "
        "(looked in the environment)"
    )


def test_missing_in_file_names_variable_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NMS_TEST_AUTH", "authpass123")
    path = secrets_file(tmp_path, "OTHER=1\n")
    with pytest.raises(SecretError, match=f"define environment variable NMS_TEST_PRIV .*{path}"):
        resolve(V3, path)


def test_key_value_file(tmp_path: Path) -> None:
    path = secrets_file(tmp_path, "# comment\nNMS_TEST_AUTH=authpass123\nexport NMS_TEST_PRIV='priv pass'\n")
    s = resolve(V3, path)
    assert (s.auth_key, s.priv_key) == ("authpass123", "priv pass")


def test_yaml_file_via_settings_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = secrets_file(tmp_path, "NMS_TEST_COMMUNITY: from-yaml\n")
    monkeypatch.setenv("NMS_SECRETS_FILE", str(path))
    assert resolve(V2).community == "from-yaml"


def test_environment_wins_over_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = secrets_file(tmp_path, "NMS_TEST_COMMUNITY=from-file\n")
    monkeypatch.setenv("NMS_TEST_COMMUNITY", "from-env")
    assert resolve(V2, path).community == "from-env"


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_group_or_other_readable_file_is_refused(tmp_path: Path, mode: int) -> None:
    path = secrets_file(tmp_path, "NMS_TEST_COMMUNITY=x\n", mode)
    with pytest.raises(SecretError) as info:
        resolve(V2, path)
    assert str(info.value) == (
        f"secrets file {path}: mode {mode:04o} lets group/others access it; run: chmod 600 {path}"
    )


def test_owner_only_modes_accepted(tmp_path: Path) -> None:
    path = secrets_file(tmp_path, "NMS_TEST_COMMUNITY=x\n", 0o400)
    assert read_secrets_file(path) == {"NMS_TEST_COMMUNITY": "x"}


def test_bad_file_does_not_echo_content(tmp_path: Path) -> None:
    path = secrets_file(tmp_path, "hunter2 is: [not: valid\n")
    with pytest.raises(SecretError) as info:
        read_secrets_file(path)
    assert "hunter2" not in str(info.value)
    assert str(path) in str(info.value)


def test_cisco_aes_variant_sets_key_extension(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NMS_TEST_AUTH", "authpass123")
    monkeypatch.setenv("NMS_TEST_PRIV", "privpass456")
    assert resolve(V3).key_extension == "blumenthal"
    cisco = CredentialRef(**{**V3.__dict__, "priv_proto": "AES256C"})
    assert resolve(cisco).key_extension == "reeder" and resolve(cisco).priv_proto == "AES-256"


def test_bad_protocol_names_the_credential_and_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NMS_TEST_AUTH", "authpass123")
    monkeypatch.setenv("NMS_TEST_PRIV", "privpass456")
    bad = CredentialRef(**{**V3.__dict__, "auth_proto": "ROT13"})
    with pytest.raises(SecretError) as info:
        resolve(bad)
    text = str(info.value)
    assert text.startswith("credential 'v3-secure': auth_proto: unknown protocol 'ROT13' (accepted: MD5, SHA")
    assert "authpass123" not in text and "privpass456" not in text
