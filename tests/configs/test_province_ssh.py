"""The simulated province's routers and firewalls over real SSH: running configs from the
inventory, a ``config-change`` fault seen as a new version, a down device as a failed fetch."""

from __future__ import annotations

import dataclasses

import pytest

from nms.configs import job, store
from nms.configs.diff import diff_versions
from nms.configs.fetch import Limits
from nms.configs.targets import ConfigsFile, build_targets
from probes.common.inventory_model import SshCredentialRef
from probes.sim import SimulatedProvince
from probes.sim.errors import SimError
from tests.sim.conftest import CREDS, small_inventory

PASSWORD_ENV = "NMS_TEST_SIM_SSH_PW"
LIMITS = Limits(max_parallel=4, conn_timeout=5, auth_timeout=10, read_timeout=20, deadline_s=30)


@pytest.fixture
def province(monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, "sim-ssh-test-pw")
    inv = small_inventory()
    inv.ssh_credentials["netops"] = SshCredentialRef("netops", "netops", password_env=PASSWORD_ENV,
                                                     default=True)
    sim = SimulatedProvince(inv, port=0, credentials=CREDS).start()
    sim.start_ssh(0)
    yield sim
    sim.stop()


def _targets(sim: SimulatedProvince):
    assert sim.ssh is not None
    cfg = ConfigsFile({}, None, {}, frozenset(), None, sim.ssh.port)
    targets, problems = build_targets(cfg, sim.inventory)
    assert problems == {}
    return targets


def test_routers_and_firewalls_answer_ssh_with_inventory_configs(province: SimulatedProvince, db) -> None:
    targets = _targets(province)
    # ciphers (no CLI) are left out quietly; the Ruijie switch has no SSH in the simulation
    assert sorted(t.device for t in targets if t.device != "hefei-sw1") == [
        "anhui-fw1", "anhui-rtr1", "feidong-fw1", "hefei-rtr1"]
    assert {t.host for t in targets} <= {province.devices[t.device].address for t in targets}
    wanted = [t for t in targets if t.device != "hefei-sw1"]
    report = job.run(db, wanted, "test:province", LIMITS)
    assert sorted(o.status for o in report.outcomes) == ["new"] * 4, report.failed

    text = store.latest(db, "anhui-rtr1")["content"]
    assert "sysname anhui-rtr1" in text
    assert "ip address 10.34.0.1 255.255.255.255" in text  # the inventory's management address
    assert "description to hefei-rtr1 Pos2/0/0 AH-SDH-0001" in text  # the far end of its link
    assert "system hostname feidong-fw1" in store.latest(db, "feidong-fw1")["content"]

    # an operator's change on one router: a new version of that router only, and its diff
    province.fault("config-change", "anhui-rtr1")
    again = {o.device: o for o in job.run(db, wanted, "test:province", LIMITS).outcomes}
    assert again["anhui-rtr1"].status == "changed" and again["anhui-rtr1"].version == 2
    assert {again[d].status for d in ("anhui-fw1", "feidong-fw1", "hefei-rtr1")} == {"unchanged"}
    v1, v2 = (v["id"] for v in sorted(store.versions(db, "anhui-rtr1"), key=lambda v: v["version"]))
    added = [ln for ln in diff_versions(db, v1, v2).lines if ln.startswith("+") and not ln.startswith("+++")]
    assert added == ["+ ip route-static 192.0.2.1 255.255.255.255 NULL0 description sim-change-1"]
    assert province.status()["ssh"]["changed"] == {"anhui-rtr1": 1}

    # a device that is down refuses the login: a failed fetch, nothing stored
    province.fault("device-down", "hefei-rtr1")
    down = {o.device: o for o in job.run(db, wanted, "test:province", LIMITS).outcomes}
    assert down["hefei-rtr1"].status == "failed"
    assert len(store.versions(db, "hefei-rtr1")) == 1


def test_config_change_fault_bad_input(province: SimulatedProvince) -> None:
    with pytest.raises(SimError, match="no running configuration here"):
        province.fault("config-change", "anhui-cipher1")
    with pytest.raises(SimError, match="no simulated device 'nowhere'"):
        province.fault("config-change", "nowhere")
    with pytest.raises(SimError, match="expected DEVICE"):
        province.fault("config-change")
    out = province.fault("config-change", "feidong-fw1", "firewall", "policy", "add", "id", "7")
    assert out["added"] == "firewall policy add id 7"
    assert province.configs["feidong-fw1"].text().splitlines()[-1] == "firewall policy add id 7"


def test_device_without_password_login_has_no_ssh(monkeypatch) -> None:
    """A key-only inventory login cannot be served by the simulator: the device is left out, said so."""
    inv = small_inventory()
    inv.ssh_credentials["keys"] = SshCredentialRef("keys", "netops", key_file="/nonexistent", default=True)
    inv.devices["anhui-rtr1"] = dataclasses.replace(inv.devices["anhui-rtr1"], ssh_credential="pw")
    inv.ssh_credentials["pw"] = SshCredentialRef("pw", "netops", password_env=PASSWORD_ENV)
    monkeypatch.setenv(PASSWORD_ENV, "x")
    sim = SimulatedProvince(inv, port=0, credentials=CREDS).start()
    try:
        fleet = sim.start_ssh(0)
        assert [d.name for d in fleet.devices] == ["anhui-rtr1"]
        assert sorted(fleet.without_login) == ["anhui-fw1", "feidong-fw1", "hefei-rtr1"]
    finally:
        sim.stop()
