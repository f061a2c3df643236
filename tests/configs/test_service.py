"""The schedule's pieces in ``nms serve`` and the demo: targets reread only when a file changes,
problems logged once, the demo's configs file and secrets."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import yaml

from nms.config import Settings
from nms.configs.service import TargetSource
from nms.configs.targets import load_configs_file
from nms.demo import write_configs_file, write_sim_secrets
from probes.common.inventory import load_inventory
from probes.common.secrets import read_secrets_file
from tests.support.processes import ROOT, write_inventory


def _inventory(path: Path, ssh: bool) -> Path:
    write_inventory(path, "chaohu", "chaohu", roles=("router", "firewall"))
    if ssh:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        doc["ssh_credentials"] = [{"name": "s", "username": "netops", "password_env": "NMS_TEST_SVC_PW",
                                   "default": True}]
        path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def test_targets_reread_only_when_a_file_changes(tmp_path: Path, monkeypatch, caplog) -> None:
    monkeypatch.setenv("NMS_TEST_SVC_PW", "pw")
    monkeypatch.setenv("NMS_CONFIGS_FILE", str(tmp_path / "configs.yaml"))
    inv = _inventory(tmp_path / "inventory.yaml", ssh=False)
    source = TargetSource(Settings(data_dir=tmp_path / "data", inventory_path=inv))
    with caplog.at_level(logging.WARNING, logger="nms.configs.service"):
        assert source.get() == []  # no login in the inventory: nothing to fetch, and said so
        assert source.get() == []
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and said[0].startswith("config backup: 4 devices not backed up")
    assert "no SSH credential" in said[0]

    _inventory(inv, ssh=True)
    os.utime(inv, (1, 1))  # a different mtime even within the file system's clock resolution
    targets = source.get()
    assert sorted(t.device for t in targets) == [
        "chaohu-ext-fw1", "chaohu-ext-rtr1", "chaohu-int-fw1", "chaohu-int-rtr1"]
    assert {t.port for t in targets} == {22} and {t.credential.username for t in targets} == {"netops"}

    (tmp_path / "configs.yaml").write_text("sim_port: 2222\nroles: [router]\n", encoding="utf-8")
    targets = source.get()
    assert [(t.device, t.port) for t in targets] == [("chaohu-ext-rtr1", 2222), ("chaohu-int-rtr1", 2222)]
    assert all(t.host.startswith("127.34.") for t in targets)


def test_demo_configs_file_and_secrets(tmp_path: Path) -> None:
    cfg = load_configs_file(write_configs_file(tmp_path / "demo-configs.yaml", 2222))
    assert cfg.sim_port == 2222 and cfg.roles == frozenset({"router", "firewall"})

    # an older demo's secrets file, made before SSH: the SSH password is added, the rest kept
    secrets = tmp_path / "secrets.env"
    fd = os.open(secrets, os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("NMS_SNMP_COMMUNITY=old-community\n")
    inventory = load_inventory(ROOT / "inventory.yaml")
    write_sim_secrets(secrets, inventory)
    values = read_secrets_file(secrets)
    assert values["NMS_SNMP_COMMUNITY"] == "old-community"
    assert set(values) == {"NMS_SNMP_COMMUNITY", "NMS_SNMP_V3_AUTH", "NMS_SNMP_V3_PRIV",
                           "NMS_SSH_NETOPS_PASSWORD"}
    assert len(values["NMS_SSH_NETOPS_PASSWORD"]) >= 20
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    before = secrets.read_text()
    write_sim_secrets(secrets, inventory)
    assert secrets.read_text() == before  # nothing missing: untouched
