"""The simulated province: every inventory device answers SNMP on 127.34.x.y.

Each device serves a real walk of its kind (``snmpsim-data``, BSD) or the project's
own recordings (``probes/sim/recordings``: SONET-MIB rows, cipher tunnels, USG
sessions; layout in its README), overlaid with the inventory (sysName, interface
names, link speeds) and live values (sysUpTime, counters with a day curve, SDH
status, tunnel state).  v1/v2c and v3 USM (SHA/SHA-2 auth, AES priv) are served by
a hand-written BER responder (``agent``, ``usm``); one asyncio process binds one
UDP socket per device on a shared port.

Use from Python (in-process, e.g. tests)::

    from probes.sim import SimulatedProvince
    with SimulatedProvince(inventory, port=0, devices=["hefei-*"]) as sim:
        host, port = sim.address("hefei-int-rtr1")     # ("127.34.x.y", port)
        sim.fault("if-down", "hefei-int-rtr1", "Pos1/0/0")
        sim.fault("clear-all")

Secrets come from ``probes.common.secrets.resolve`` (env vars / ``NMS_SECRETS_FILE``), or pass
``credentials={"v2c-default": Credential(community="x"), ...}`` (``probes.snmp.Credential``).
``wan_delay="auto"`` adds per-site WAN round-trip times (tests use the default 0).

As a subprocess (end-to-end tests, demos)::

    from probes.sim import run_subprocess
    with run_subprocess("inventory.yaml", env={...}) as sim:   # waits until ready
        sim.port, sim.control                                  # UDP port, control URL
        sim.fault("device-down", "hefei-int-rtr1")

WAN forwarders (``wan``): each agent away from the provincial centre pushes through a
TCP forwarder on 127.0.0.1 that resets new and open connections while its home site
has no path to the centre (a link end down, SDH LOS, a device down; the graph is
``probes.common.topology``'s), so a cut uplink silences that city's agent as in the real network::

    urls = sim.start_wan("http://127.0.0.1:8080", base_port=0)  # {"chaohu": "http://127.0.0.1:N"}

SSH (``sshfleet``, ``cli_ssh``, ``runconfig``): routers and firewalls with a CLI answer SSH on
their own 127.34.x.y with running configs made from the inventory; ``fault("config-change",
DEVICE)`` adds a line to one (the centre's config backup sees a new version)::

    fleet = sim.start_ssh(0, key_dir=None)          # fleet.port; logins from ssh_credentials

CLI: ``python -m probes.sim serve --inventory inventory.yaml [--port 1161]
[--control-port N] [--devices GLOB] [--wan-delay-ms auto|0|N] [--wan-proxy CENTRE_URL
[--wan-proxy-base-port N]]`` prints one JSON line ``{"ready": true, "port": ...,
"control": "http://127.0.0.1:N", "wan_proxy": {agent: URL}, ...}`` (forwarder of the
i-th WAN agent, sorted by name, on N+i; ``GET /wan`` on the control URL says which are
cut off and why); then
``python -m probes.sim fault --control URL ACTION ARGS`` with ACTION one of
device-down/up DEVICE, if-down/up DEVICE IFNAME, link-down/up LINK_ID, reboot DEVICE,
sdh-los/sdh-clear DEVICE IFNAME, sdh-errors DEVICE IFNAME --es N --ses N,
tunnel-down/up DEVICE PEER, slow DEVICE SECONDS, clear-all; and ``status``.

Cipher tunnels exist at both ends (``probes.common.topology.expected_peers``).  A tunnel that is
down has no row in the tunnel table (a dropped SA is removed, as on the real
machines); it drops on ``tunnel-down``, when its peer is down, and when no path is
left between the two machines (a link end down, SDH LOS, a device on the way down).
Loopback answers ICMP for every 127.34.x.y, so ``device-down`` silences SNMP only.
"""

from __future__ import annotations

from probes.sim.errors import SimError
from probes.sim.province import SimulatedProvince
from probes.sim.subprocess_run import SimProcess, run_subprocess

__all__ = ["SimError", "SimulatedProvince", "SimProcess", "run_subprocess"]
