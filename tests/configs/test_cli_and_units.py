"""``nms configs fetch`` end to end, plus the pure parts: vendor data, masking, configs file errors."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from nms.configs import cli, masking, store, vendors
from nms.configs.targets import TargetsError, build_targets, parse_configs_file
from tests.configs.conftest import sim_device
from tests.configs.test_vendor_sim import VRP


def _nms(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="nms")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_fetch_named_device(tmp_path: Path, settings, db, vrp_sim, monkeypatch, capsys) -> None:
    ports = vrp_sim.start([sim_device(tmp_path, "hefei-rtr1", "huawei", VRP)])
    cfg_file = tmp_path / "configs.yaml"
    cfg_file.write_text(yaml.safe_dump({
        "ssh_credentials": {"netops": {"username": "netops", "password_env": "NMS_TEST_SSH_PW"}},
        "default_credential": "netops",
        "devices": {"hefei-rtr1": {"device_type": "huawei", "host": "127.0.0.1", "port": ports["hefei-rtr1"]},
                    "far-rtr": {"device_type": "huawei", "host": "192.0.2.1"}},
    }), encoding="utf-8")
    monkeypatch.setenv("NMS_TEST_SSH_PW", "s3cret-pw")
    monkeypatch.setenv("NMS_CONFIGS_FILE", str(cfg_file))
    monkeypatch.setenv("NMS_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("NMS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("NMS_INVENTORY", str(tmp_path / "none.yaml"))
    monkeypatch.delenv("NMS_ALLOW_NETWORK", raising=False)

    assert _nms(["configs", "fetch", "hefei-rtr1", "--deadline", "30"]) == 0
    assert "hefei-rtr1: new v1" in capsys.readouterr().out
    assert store.latest(db, "hefei-rtr1")["trigger"].startswith("cli:")
    # a non-loopback address is refused by netguard, reported, and the exit code says so
    assert _nms(["configs", "fetch", "far-rtr"]) == 1
    assert "refused" in capsys.readouterr().out
    assert _nms(["configs", "fetch", "no-such-device"]) == 2


def test_vendor_data_complete() -> None:
    specs = vendors.load()
    for dt in ("huawei", "hp_comware", "cisco_ios", "juniper", "fortinet", "linux"):
        assert specs[dt].command and specs[dt].secrets
    assert vendors.device_type_for_vendor("H3C") == "hp_comware"
    with pytest.raises(vendors.VendorError, match="secret"):
        vendors.parse({"x": {"command": "show", "secrets": ["password (\\S+)"]}})
    with pytest.raises(vendors.VendorError, match="no SSH config-backup"):
        vendors.device_type_for_vendor("acme")
    with pytest.raises(vendors.NoCliError, match="not backed up over SSH"):
        vendors.device_type_for_vendor("cipher")
    with pytest.raises(vendors.VendorError, match="driver"):
        vendors.parse({"x": {"command": "show", "driver": "telnet_magic"}})


def test_masking_keeps_structure() -> None:
    spec = vendors.spec_for("huawei")
    shown = masking.mask_secrets(VRP, spec.secrets)
    assert "AbCdEfGh" not in shown and "CommSecret" not in shown
    assert shown.count("\n") == VRP.count("\n")  # same lines, only values hidden
    assert " local-user admin password irreversible-cipher ******" in shown
    moved = VRP.replace("10:00:00", "11:00:00")
    assert masking.normalise(moved, spec.volatile) == masking.normalise(VRP, spec.volatile)
    edited = VRP.replace("to-chaohu", "x")
    assert masking.normalise(edited, spec.volatile) != masking.normalise(VRP, spec.volatile)


def test_configs_file_errors_are_named() -> None:
    with pytest.raises(TargetsError) as err:
        parse_configs_file({"ssh_credentials": {"a": {"username": "u"}},
                            "devices": {"d": {"credential": "zz", "port": 70000, "device_type": "nokia"}}})
    text = " | ".join(err.value.errors)
    assert "ssh_credentials.a" in text and "devices.d.credential" in text
    assert "devices.d.port" in text and "devices.d.device_type" in text
    cfg = parse_configs_file({"ssh_credentials": {"n": {"username": "u", "password_env": "NMS_UNSET_X"}},
                              "default_credential": "n",
                              "devices": {"d": {"device_type": "linux", "host": "::1"}}})
    targets, problems = build_targets(cfg, None)
    assert targets == [] and "NMS_UNSET_X" in problems["d"]


def test_province_inventory_targets_never_contacted(settings, db, monkeypatch) -> None:
    """The shipped inventory maps to netmiko types; its real-looking addresses are refused, not dialled."""
    from nms.configs import job
    from nms.configs.fetch import Limits
    from probes.common.inventory import load_inventory
    from tests.configs.conftest import ROOT

    monkeypatch.setenv("NMS_TEST_SSH_PW", "x")
    monkeypatch.delenv("NMS_ALLOW_NETWORK", raising=False)
    inventory = load_inventory(ROOT / "inventory.yaml")
    cfg = parse_configs_file({"ssh_credentials": {"n": {"username": "u", "password_env": "NMS_TEST_SSH_PW"}},
                              "default_credential": "n"})
    targets, problems = build_targets(cfg, inventory)
    types = {t.device_type for t in targets}
    assert {"huawei", "hp_comware", "ruijie_os", "zte_zxros", "hillstone_stoneos", "topsec_tos",
            "venustech_usg"} <= types
    # cipher machines and Sangfor have no SSH CLI: left out, not reported as failures
    no_cli = sum(d.vendor in ("cipher", "sangfor") for d in inventory.devices.values())
    assert no_cli and len(targets) + len(problems) == len(inventory.devices) - no_cli
    cipher = next(d.name for d in inventory.devices.values() if d.vendor == "cipher")
    assert cipher not in problems and cipher not in {t.device for t in targets}
    sample = [t for t in targets if t.device_type == "huawei"][:3]
    report = job.run(db, sample, "test", Limits(deadline_s=5))
    assert all(o.status == "failed" and o.error.startswith("refused") for o in report.outcomes)


def test_profile_naming_a_netmiko_type_wins() -> None:
    from probes.common.inventory_model import Device, Inventory

    inv = Inventory()
    inv.devices["a"] = Device("a", "hefei", "router", "huawei", "AR2220", "hp_comware", "127.0.0.1", "c")
    inv.devices["b"] = Device("b", "hefei", "router", "huawei", "AR2220", "huawei-vrp", "127.0.0.1", "c")
    cfg = parse_configs_file({"ssh_credentials": {"n": {"username": "u", "key_file": __file__}},
                              "default_credential": "n"})
    targets, problems = build_targets(cfg, inv)
    assert problems == {}
    assert {t.device: t.device_type for t in targets} == {"a": "hp_comware", "b": "huawei"}


def test_credentials_never_in_repr(monkeypatch) -> None:
    from nms.configs.credentials import SshCredentialRef, resolve
    from nms.configs.fetch import Target

    monkeypatch.setenv("NMS_TEST_SSH_PW", "hunter2-very-secret")
    monkeypatch.setenv("NMS_TEST_ENABLE", "enable-very-secret")
    ref = SshCredentialRef("n", "netops", password_env="NMS_TEST_SSH_PW", enable_env="NMS_TEST_ENABLE")
    cred = resolve(ref)
    assert cred.password == "hunter2-very-secret"
    text = repr(Target("d", "127.0.0.1", 22, "huawei", cred)) + str(cred)
    assert "very-secret" not in text and "netops" in text


PLAIN_KEYS = {
    "huawei": [
        "snmp-agent usm-user v3 nms-v3 nmsgroup authentication-mode sha Auth-K3y"
        " privacy-mode aes128 Priv-K3y",
        "snmp-agent usm-user v3 ops authentication-mode sha2-256 cipher %^%#AuthCipher%^%#",
        "ntp-service authentication-keyid 1 authentication-mode md5 NtpPlainKey",
        " ospf authentication-mode md5 1 plain OspfPlain",
        " ospf authentication-mode md5 1 cipher %^%#OspfCipher%^%#",
        " isis authentication-mode simple plain IsisPlain",
        " authentication-mode simple cipher %^%#AreaCipher%^%#",
        "radius-server shared-key RadiusPlain",
        "hwtacacs-server shared-key cipher %^%#TacacsCipher%^%#",
    ],
    "hp_comware": [
        "snmp-agent usm-user v3 nms-v3 nmsgroup simple authentication-mode sha Auth-K3y"
        " privacy-mode aes128 Priv-K3y",
        "snmp-agent usm-user v3 ops opsgroup cipher authentication-mode sha $c$3$AuthCipher"
        " privacy-mode aes128 $c$3$PrivCipher",
        "ntp-service authentication-keyid 1 authentication-mode md5 simple NtpPlainKey",
        " ospf authentication-mode md5 1 plain OspfPlain",
        " ospf authentication-mode simple plain SimplePlain",
        " key authentication simple RadiusPlain",
        " key accounting cipher $c$3$AcctCipher",
    ],
}


@pytest.mark.parametrize("device_type", sorted(PLAIN_KEYS))
def test_plain_text_keys_are_masked(device_type: str) -> None:
    """SNMPv3, NTP, OSPF/IS-IS and AAA keys written without ``cipher`` are masked too."""
    spec = vendors.spec_for(device_type)
    for line in PLAIN_KEYS[device_type]:
        shown = masking.mask_secrets(line, spec.secrets)
        words = line.split()
        secrets = [w for w in words if any(k in w for k in ("K3y", "Plain", "Cipher"))]
        assert secrets and not any(s in shown for s in secrets), (line, shown)
        kept = [w for w in words if w not in secrets]
        assert shown.split() == [masking.MASK if w in secrets else w for w in words], (line, shown)
        assert all(w in shown for w in kept)


def test_configs_file_names_the_line_of_each_problem(tmp_path) -> None:
    from nms.configs.targets import load_configs_file

    path = tmp_path / "configs.yaml"
    path.write_text("ssh_credentials:\n  a: {username: u}\ndefault_credential: zz\n"
                    "devices:\n  d: {port: 70000}\n", encoding="utf-8")
    with pytest.raises(TargetsError) as err:
        load_configs_file(path)
    assert err.value.errors == [
        f"{path}:2: ssh_credentials.a: needs password_env or key_file",
        f"{path}:3: default_credential: 'zz' is not in ssh_credentials",
        f"{path}:5: devices.d.port: must be <= 65535, got 70000",
    ]

