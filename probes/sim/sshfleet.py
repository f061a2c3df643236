"""SSH for the simulated province: every router and firewall with a CLI on its own 127.34.x.y.

Each device answers :mod:`probes.sim.cli_ssh` in its vendor's style, with its running
configuration from :mod:`probes.sim.runconfig` (so a ``config-change`` fault shows at the
next login), refuses logins while it is down, and accepts the login the inventory gives it
(``ssh_credentials``: its own or the default; the password from the environment or the
secrets file, as the centre reads it).  Host keys are kept in ``key_dir`` so a restarted
simulator presents the keys the centre pinned; without one they are made anew.
"""

from __future__ import annotations

import logging
import socket
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from probes.common.secrets import secret_value
from probes.sim.cli_ssh import Device, SshServer
from probes.sim.errors import SimError

if TYPE_CHECKING:  # the province starts the fleet; it only takes it as an argument
    from probes.sim.province import SimulatedProvince

log = logging.getLogger("probes.sim.ssh")


class SshFleet:
    def __init__(self, province: SimulatedProvince, port: int, key_dir: str | None = None) -> None:
        self.province = province
        self.port = port
        self._tmp = None if key_dir else tempfile.TemporaryDirectory(prefix="sim-ssh-keys-")
        self.key_dir = Path(key_dir or self._tmp.name)  # type: ignore[union-attr]
        self.key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.server: SshServer | None = None
        self.devices: list[Device] = []
        self.without_login: list[str] = []  # devices left out: no password login in the inventory

    def _devices(self) -> list[Device]:
        inv, out = self.province.inventory, []
        for name, rc in self.province.configs.items():
            ref = inv.ssh_credential_for(name)
            password = secret_value(ref.password_env) if ref is not None and ref.password_env else None
            if ref is None or password is None:
                self.without_login.append(name)
                continue
            sim = self.province.devices[name]
            out.append(Device(name=name, style=rc.style, config_file="",
                              host_key_file=str(self.key_dir / f"{name}.key"), username=ref.username,
                              password=password, port=self.port, address=sim.address, config=rc.text,
                              down=lambda sim=sim: sim.down))
        return out

    def start(self) -> SshFleet:
        logging.getLogger("paramiko").setLevel(logging.WARNING)  # not a line per login
        self.devices = self._devices()
        if self.without_login:
            log.warning("SSH: %d devices have no password login in the inventory's ssh_credentials "
                        "(or its secret is not set) and do not answer SSH", len(self.without_login))
        if not self.devices:
            return self
        for attempt in range(5):
            port = self.port or _free_port(self.devices[0].address)
            server = SshServer()
            try:
                for dev in self.devices:
                    dev.port = port
                    server.add(dev)
            except OSError as exc:
                server.stop()
                if self.port or attempt == 4:
                    raise SimError(f"{dev.name}: cannot listen for SSH on {dev.address}:{port}: "
                                   f"{exc.strerror or exc}") from None
                continue
            self.port, self.server = port, server.start()
            return self
        return self

    def status(self) -> dict:
        return {"port": self.port, "devices": len(self.devices), "without_login": len(self.without_login),
                "changed": {n: len(rc.changes) for n, rc in self.province.configs.items() if rc.changes}}

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self._tmp is not None:
            self._tmp.cleanup()


def _free_port(address: str) -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]
