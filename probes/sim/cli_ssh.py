"""A small SSH server answering like the Huawei VRP, H3C Comware, Hillstone StoneOS, Topsec
TOS and Venustech USG CLIs: for the config-backup tests and the simulated province.

No simulator on PyPI covers these CLIs, so this one does. Huawei/H3C: prompt
``<name>``, ``screen-length 0 temporary`` / ``screen-length disable``, ``display
current-configuration``. Topsec (TOS): prompt ``name#``, ``system config show``.
Venustech (天清汉马 USG): prompt ``name>``, ``enable`` to ``name#``, ``show
running-config`` (refused before ``enable``). The configuration is read at every call,
from a file (a test edits it between fetches) or from a function (the simulated province
answers its devices' current running configs, :mod:`probes.sim.runconfig`); ``quit`` /
``exit`` end the session.
A device with ``hang_s`` prints a few lines of its configuration and then stalls
that long, like a box whose CLI has wedged.

Run as a process: ``python -m probes.sim.cli_ssh SPEC.json``; SPEC is a list of ``{"name",
"style": "huawei"|"h3c"|"hillstone"|"topsec"|"venustech", "config_file", "host_key_file",
"username", "password", "address" (default 127.0.0.1), "port" (0 = any), "hang_s"}``.  It prints one JSON line
``{"name": port, ...}`` when every device listens, then serves until killed.
"""

from __future__ import annotations

import json
import selectors
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import paramiko

BANNERS = {
    "huawei": "\r\nInfo: The max number of VTY users is 10, and the number\r\n"
    "      of current VTY users on line is 1.\r\n",
    "h3c": "\r\n******************************************************************************\r\n"
    "* Copyright (c) 2004-2017 New H3C Technologies Co., Ltd. All rights reserved.*\r\n"
    "******************************************************************************\r\n",
    "hillstone": "\r\nHillstone Networks StoneOS\r\n",
    "topsec": "\r\nTopsec Network Security Operating System (TOS)\r\n",
    "venustech": "\r\nWelcome to Venustech USG-FW\r\n",
}
UNKNOWN = {
    "huawei": "\r\nError: Unrecognized command found at '^' position.\r\n",
    "h3c": "\r\n% Unrecognized command found at '^' position.\r\n",
    "hillstone": "\r\n% unrecognized keyword\r\n",
    "topsec": "\r\nerror: unknown command\r\n",
    "venustech": "\r\n% Unknown command.\r\n",
}
# The command printing the running configuration, per style.
SHOW_CONFIG = {
    "huawei": ("display current-configuration", "dis cur"),
    "h3c": ("display current-configuration", "dis cur"),
    "hillstone": ("show configuration",),
    "topsec": ("system config show",),
    "venustech": ("show running-config",),
}


# Paging off, per style (accepted quietly; any other style answers it as unknown).
PAGING = {
    "huawei": ("screen-length 0 temporary", "screen-length disable"),
    "h3c": ("screen-length 0 temporary", "screen-length disable"),
    "hillstone": ("terminal length 0",),
}


@dataclass
class Device:
    name: str
    style: str
    config_file: str
    host_key_file: str
    username: str
    password: str
    port: int = 0
    hang_s: float = 0.0
    address: str = "127.0.0.1"
    config: Callable[[], str] | None = None  # the running config now; else read from config_file
    down: Callable[[], bool] | None = None  # True: refuse logins (the device is down)

    def running_config(self) -> str:
        if self.config is not None:
            return self.config()
        return Path(self.config_file).read_text(encoding="utf-8")


def load_or_make_key(path: str) -> paramiko.PKey:
    p = Path(path)
    if p.exists():
        return paramiko.ECDSAKey(filename=path)
    key = paramiko.ECDSAKey.generate()
    key.write_private_key_file(path)
    return key


class _Auth(paramiko.ServerInterface):
    def __init__(self, dev: Device) -> None:
        self.dev = dev
        self.shell = threading.Event()

    def get_allowed_auths(self, username: str) -> str:
        return "password"

    def check_auth_password(self, username: str, password: str) -> int:
        if username == self.dev.username and password == self.dev.password:
            return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_pty_request(self, *args: object) -> bool:
        return True

    def check_channel_shell_request(self, channel: paramiko.Channel) -> bool:
        self.shell.set()
        return True


@dataclass
class _State:
    enabled: bool = False


def prompt(dev: Device, state: _State) -> str:
    if dev.style in ("topsec", "hillstone"):
        return f"{dev.name}# "
    if dev.style == "venustech":
        return f"{dev.name}{'#' if state.enabled else '>'}"
    return f"<{dev.name}>"


def _answer(dev: Device, line: str, chan: paramiko.Channel, state: _State) -> bool:
    """Write the reply to one command line; False when the session ends."""
    cmd = " ".join(line.split())
    if cmd in ("quit", "exit", "logout"):
        return False
    if cmd == "":
        pass
    elif cmd in PAGING.get(dev.style, ()):
        if dev.style == "huawei":
            chan.sendall(b"\r\nInfo: The configuration takes effect on the current user terminal"
                         b" interface only.")
    elif cmd == "enable" and dev.style == "venustech":
        state.enabled = True
    elif cmd in SHOW_CONFIG[dev.style] and dev.style == "venustech" and not state.enabled:
        chan.sendall(b"\r\n% Permission denied: use enable first.")
    elif cmd in SHOW_CONFIG[dev.style]:
        text = dev.running_config()
        lines = text.replace("\r\n", "\n").rstrip("\n").split("\n")
        if dev.hang_s:
            chan.sendall(("\r\n" + "\r\n".join(lines[:3])).encode())
            time.sleep(dev.hang_s)
        chan.sendall(("\r\n" + "\r\n".join(lines)).encode())
    else:
        chan.sendall(UNKNOWN[dev.style].rstrip("\r\n").encode())
    chan.sendall(("\r\n" + prompt(dev, state)).encode())
    return True


def _session(dev: Device, conn: socket.socket, key: paramiko.PKey) -> None:
    transport = paramiko.Transport(conn)
    transport.add_server_key(key)
    auth = _Auth(dev)
    try:
        transport.start_server(server=auth)
        chan = transport.accept(20)
        if chan is None or not auth.shell.wait(10):
            return
        state = _State()
        chan.sendall((BANNERS[dev.style] + prompt(dev, state)).encode())
        buf = ""
        last = ""
        while True:
            data = chan.recv(4096)
            if not data:
                return
            for ch in data.decode("utf-8", "replace"):
                if ch in "\r\n":
                    if ch == "\n" and last == "\r":
                        last = ch
                        continue
                    last = ch
                    if not _answer(dev, buf, chan, state):
                        chan.close()
                        return
                    buf = ""
                else:
                    last = ch
                    buf += ch
                    chan.sendall(ch.encode())  # echo, as a terminal does
    except (EOFError, OSError, paramiko.SSHException):
        return
    finally:
        transport.close()


class SshServer:
    """Every device on its own listening socket (its address and port), one accept thread for all.

    Each login gets a thread (paramiko's transport has its own too), so a thousand idle
    devices cost a thousand sockets, not a thousand threads.
    """

    def __init__(self) -> None:
        self._sel = selectors.DefaultSelector()
        self._keys: dict[str, paramiko.PKey] = {}
        self._socks: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, dev: Device, key: paramiko.PKey | None = None) -> int:
        """Listen for ``dev``; returns the port (the given one, or a free one for port 0)."""
        key = key or load_or_make_key(dev.host_key_file)
        lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            lsock.bind((dev.address, dev.port))
        except OSError:
            lsock.close()
            raise
        lsock.listen(16)
        lsock.setblocking(False)
        self._sel.register(lsock, selectors.EVENT_READ, (dev, key))
        self._socks.append(lsock)
        return lsock.getsockname()[1]

    def start(self) -> SshServer:
        self._thread = threading.Thread(target=self._accept_loop, name="sim-ssh", daemon=True)
        self._thread.start()
        return self

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            for sel_key, _ in self._sel.select(timeout=0.5):
                dev, key = sel_key.data
                try:
                    conn, _ = sel_key.fileobj.accept()  # type: ignore[union-attr]
                except OSError:
                    continue
                if dev.down is not None and dev.down():
                    conn.close()  # a device that is down: the connection is reset
                    continue
                conn.setblocking(True)
                threading.Thread(target=_session, args=(dev, conn, key), name=f"ssh-{dev.name}",
                                 daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for s in self._socks:
            self._sel.unregister(s)
            s.close()
        self._socks.clear()


def serve_all(devices: Iterable[Device]) -> tuple[SshServer, dict[str, int]]:
    """Listen for every device and start accepting; returns the server and {name: port}."""
    server = SshServer()
    ports = {dev.name: server.add(dev) for dev in devices}
    return server.start(), ports


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    _server, ports = serve_all(Device(**d) for d in spec)
    print(json.dumps(ports), flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
