"""``nms user``, ``nms token`` and ``nms bootstrap`` against a real data directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from nms.__main__ import main
from nms.auth import tokens, users
from nms.config import Settings
from nms.db import connect


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> Settings:
    monkeypatch.setenv("NMS_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("NMS_DATABASE_URL", database_url)  # empty: SQLite files in the data dir
    monkeypatch.setenv("NMS_INVENTORY", str(tmp_path / "missing.yaml"))  # no tree: site ids unchecked
    monkeypatch.delenv("NMS_ADMIN_PASSWORD", raising=False)
    return Settings()


def test_bootstrap_random_password_once_then_refuses(
    env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bootstrap", "--site", "anhui"]) == 0
    out = capsys.readouterr().out
    password = out.split("password (shown once): ")[1].strip()
    assert len(password) >= 16
    db = connect(env)
    assert users.verify_password(db, "admin", password) is not None
    assert main(["bootstrap", "--site", "anhui"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_bootstrap_from_env_and_needs_a_root(
    env: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bootstrap"]) == 2  # no inventory: no root to bind to, and no default
    assert "pass --site" in capsys.readouterr().err
    monkeypatch.setenv("NMS_ADMIN_PASSWORD", "from-the-environment-1")
    assert main(["bootstrap", "--site", "anhui", "--name", "chief"]) == 0
    out = capsys.readouterr().out
    assert "from-the-environment-1" not in out and "shown once" not in out
    assert users.verify_password(connect(env), "chief", "from-the-environment-1") is not None


def test_user_add_list_disable(
    env: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PW", "a-long-enough-password")
    assert (
        main(
            [
                "user",
                "add",
                "zhang",
                "--role",
                "county_admin",
                "--site",
                "hefei-feidong",
                "--password-env",
                "PW",
            ]
        )
        == 0
    )
    assert main(["user", "add", "zhang", "--role", "viewer", "--site", "hefei"]) == 2
    assert "already exists" in capsys.readouterr().err
    monkeypatch.setenv("SHORT", "short")
    assert main(["user", "add", "li", "--role", "viewer", "--site", "hefei", "--password-env", "SHORT"]) == 2
    assert "at least 12 characters" in capsys.readouterr().err
    assert (
        main(["user", "add", "li", "--role", "viewer", "--site", "hefei", "--password-env", "UNSET_VAR"]) == 2
    )
    assert "UNSET_VAR" in capsys.readouterr().err
    assert main(["user", "list"]) == 0
    assert capsys.readouterr().out.strip() == "zhang\tcounty_admin\thefei-feidong\tenabled"
    assert main(["user", "disable", "zhang"]) == 0
    db = connect(env)
    assert users.get(db, "zhang").disabled  # type: ignore[union-attr]
    assert users.verify_password(db, "zhang", "a-long-enough-password") is None
    actions = [r["action"] for r in db.query("SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["user.create", "user.disable"]
    with pytest.raises(SystemExit):
        main(["user", "add", "x", "--role", "root", "--site", "anhui"])


def test_site_checked_against_inventory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from nms.config import ROOT

    monkeypatch.setenv("NMS_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("NMS_INVENTORY", str(ROOT / "inventory.yaml"))
    monkeypatch.delenv("NMS_ADMIN_PASSWORD", raising=False)
    pytest.importorskip("probes.common.inventory")
    assert main(["user", "add", "w", "--role", "viewer", "--site", "atlantis"]) == 2
    assert "'atlantis' is not in" in capsys.readouterr().err
    assert main(["bootstrap"]) == 0  # root found in the tree
    assert "administrator admin at anhui" in capsys.readouterr().out


def test_token_create_and_revoke(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "create", "--kiosk", "--expires", "30"]) == 0
    captured = capsys.readouterr()
    raw = captured.out.strip()
    assert raw.startswith("nms_") and "#1 (kiosk) created" in captured.err
    db = connect(env)
    token = tokens.verify(db, raw)
    assert token is not None and token.expires_ts is not None
    assert main(["token", "create", "--user", "ghost"]) == 2
    assert main(["token", "create", "--agent", "hefei", "--site", "hefei"]) == 2
    assert main(["token", "list"]) == 0
    assert capsys.readouterr().out.startswith("1\tkiosk")
    assert main(["token", "revoke", "1"]) == 0
    assert tokens.verify(db, raw) is None
    assert main(["token", "revoke", "42"]) == 2
