"""A small province built in code, served by the simulator on a free port."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from probes.common.inventory_model import AgentDef, CredentialRef, Device, Inventory, Link, LinkEnd, Site
from probes.sim import SimulatedProvince
from probes.snmp import Credential

COMMUNITY = "sim-test-community"
V3 = {"user": "nmsmon", "auth": "auth-secret-123", "priv": "priv-secret-456"}


def small_inventory() -> Inventory:
    inv = Inventory()
    for sid, kind, parent in (("anhui", "province", None), ("hefei", "city", "anhui"),
                              ("hefei-feidong", "county", "hefei")):
        inv.sites[sid] = Site(sid, sid, sid, "340000", kind, parent, 31.8, 117.2)
    inv.credentials["v2c"] = CredentialRef("v2c", "v2c", community_env="SIM_TEST_COMMUNITY")
    inv.credentials["v3"] = CredentialRef("v3", "v3", user=V3["user"], auth_proto="SHA256",
                                          auth_key_env="SIM_TEST_AUTH", priv_proto="AES",
                                          priv_key_env="SIM_TEST_PRIV")

    def dev(name: str, site: str, role: str, vendor: str, model: str, cred: str, ifs: tuple[str, ...],
            peers: tuple[str, ...] = ()) -> None:
        inv.devices[name] = Device(name, site, role, vendor, model, "auto", f"10.34.0.{len(inv.devices) + 1}",
                                   cred, interfaces=ifs, tunnel_peers=peers)

    dev("anhui-rtr1", "anhui", "router", "huawei", "NE40E-X8", "v2c", ("Pos1/0/0", "GigabitEthernet0/0/1"))
    dev("hefei-rtr1", "hefei", "router", "h3c", "MSR5680", "v2c", ("Pos2/0/0", "GigabitEthernet1/0/1"))
    dev("anhui-cipher1", "anhui", "cipher", "cipher", "SJJ1631-IPSec-GW", "v3", ("eth0", "eth1"),
        ("hefei-cipher1",))
    dev("hefei-cipher1", "hefei", "cipher", "cipher", "SJJ1631-IPSec-GW", "v3", ("eth0", "eth1"),
        ("anhui-cipher1",))
    dev("anhui-fw1", "anhui", "firewall", "huawei", "USG6550", "v3", ("GigabitEthernet0/0/1",))
    dev("feidong-fw1", "hefei-feidong", "firewall", "topsec", "NGFW4000-UF", "v2c", ("eth1", "eth2"))
    dev("hefei-sw1", "hefei", "switch", "ruijie", "S5750", "v3sha1", ("GigabitEthernet0/1",))
    inv.links["l-sdh"] = Link("l-sdh", LinkEnd("anhui-rtr1", "Pos1/0/0"), LinkEnd("hefei-rtr1", "Pos2/0/0"),
                              "sdh-stm1", 155_520_000, "AH-SDH-0001", "internal")
    inv.links["l-eth"] = Link("l-eth", LinkEnd("anhui-rtr1", "GigabitEthernet0/0/1"),
                              LinkEnd("anhui-fw1", "GigabitEthernet0/0/1"), "ethernet", 1_000_000_000, "-",
                              "internal")
    inv.credentials["v3sha1"] = CredentialRef("v3sha1", "v3", user="legacy", auth_proto="SHA",
                                              auth_key_env="SIM_TEST_AUTH1", priv_proto="AES",
                                              priv_key_env="SIM_TEST_PRIV1")
    inv.agents["a"] = AgentDef("a", ("anhui",), "SIM_TEST_TOKEN")
    return inv


CREDS = {"v2c": Credential(community=COMMUNITY),
         "v3": Credential("v3", user=V3["user"], auth_proto="SHA256", auth_key=V3["auth"], priv_proto="AES",
                          priv_key=V3["priv"]),
         "v3sha1": Credential("v3", user="legacy", auth_proto="SHA", auth_key="sha1-auth-key",
                              priv_proto="AES", priv_key="sha1-priv-key")}


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return small_inventory()


@pytest.fixture(scope="module")
def sim(inventory: Inventory):
    province = SimulatedProvince(inventory, port=0, credentials=CREDS).start()
    yield province
    province.stop()


@pytest.fixture(autouse=True)
def _clear(request):
    yield
    if "sim" in request.fixturenames:
        request.getfixturevalue("sim").fault("clear-all")


def need_netsnmp() -> None:
    if not shutil.which("snmpget"):
        pytest.skip("net-snmp tools (snmpget) not installed")


def snmp(tool: str, sim: SimulatedProvince, device: str, *oids: str, v3: dict | None = None,
         timeout: float = 2, retries: int = 1, extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """Run a net-snmp tool against one simulated device, numeric output, values only when -Oqv."""
    need_netsnmp()
    host, port = sim.address(device)
    if v3 is None:
        auth = ["-v2c", "-c", COMMUNITY]
    else:
        auth = ["-v3", "-l", "authPriv", "-u", v3.get("user", V3["user"]), "-a", v3.get("proto", "SHA-256"),
                "-A", v3.get("auth", V3["auth"]), "-x", "AES", "-X", v3.get("priv", V3["priv"])]
    cmd = [tool, "-On", "-t", str(timeout), "-r", str(retries), *extra, *auth, f"{host}:{port}", *oids]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def get_values(sim: SimulatedProvince, device: str, *oids: str, **kw) -> list[str]:
    res = snmp("snmpget", sim, device, *oids, extra=("-Oqv",), **kw)
    assert res.returncode == 0, res.stderr
    return [line.strip().strip('"') for line in res.stdout.splitlines()]


def walk(sim: SimulatedProvince, device: str, oid: str, **kw) -> dict[str, str]:
    res = snmp("snmpbulkwalk", sim, device, oid, extra=("-Oq",), **kw)
    assert res.returncode == 0, res.stderr
    out = {}
    for line in res.stdout.splitlines():
        k, _, v = line.partition(" ")
        out[k] = v.strip().strip('"')
    return out
