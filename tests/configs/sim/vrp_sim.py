"""A small SSH server answering like the Huawei VRP, H3C Comware, Topsec TOS and
Venustech USG CLIs, for tests.

No simulator on PyPI covers these CLIs, so this one does. Huawei/H3C: prompt
``<name>``, ``screen-length 0 temporary`` / ``screen-length disable``, ``display
current-configuration``. Topsec (TOS): prompt ``name#``, ``system config show``.
Venustech (天清汉马 USG): prompt ``name>``, ``enable`` to ``name#``, ``show
running-config`` (refused before ``enable``). The configuration is read from a file at
every call, so a test can change the "running config" between fetches; ``quit`` /
``exit`` end the session.
A device with ``hang_s`` prints a few lines of its configuration and then stalls
that long, like a box whose CLI has wedged.

Run as a process: ``python -m tests.configs.sim.vrp_sim SPEC.json``; SPEC is a list
of ``{"name", "style": "huawei"|"h3c"|"topsec"|"venustech", "config_file", "host_key_file", "username",
"password", "port" (0 = any), "hang_s"}``.  It prints one JSON line
``{"name": port, ...}`` when every device listens, then serves until killed.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import paramiko

BANNERS = {
    "huawei": "\r\nInfo: The max number of VTY users is 10, and the number\r\n"
    "      of current VTY users on line is 1.\r\n",
    "h3c": "\r\n******************************************************************************\r\n"
    "* Copyright (c) 2004-2017 New H3C Technologies Co., Ltd. All rights reserved.*\r\n"
    "******************************************************************************\r\n",
    "topsec": "\r\nTopsec Network Security Operating System (TOS)\r\n",
    "venustech": "\r\nWelcome to Venustech USG-FW\r\n",
}
UNKNOWN = {
    "huawei": "\r\nError: Unrecognized command found at '^' position.\r\n",
    "h3c": "\r\n% Unrecognized command found at '^' position.\r\n",
    "topsec": "\r\nerror: unknown command\r\n",
    "venustech": "\r\n% Unknown command.\r\n",
}
# The command printing the running configuration, per style.
SHOW_CONFIG = {
    "huawei": ("display current-configuration", "dis cur"),
    "h3c": ("display current-configuration", "dis cur"),
    "topsec": ("system config show",),
    "venustech": ("show running-config",),
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
    if dev.style == "topsec":
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
    elif cmd in ("screen-length 0 temporary", "screen-length disable") and dev.style in ("huawei", "h3c"):
        if dev.style == "huawei":
            chan.sendall(b"\r\nInfo: The configuration takes effect on the current user terminal"
                         b" interface only.")
    elif cmd == "enable" and dev.style == "venustech":
        state.enabled = True
    elif cmd in SHOW_CONFIG[dev.style] and dev.style == "venustech" and not state.enabled:
        chan.sendall(b"\r\n% Permission denied: use enable first.")
    elif cmd in SHOW_CONFIG[dev.style]:
        text = Path(dev.config_file).read_text(encoding="utf-8")
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


def serve(dev: Device) -> int:
    key = load_or_make_key(dev.host_key_file)
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", dev.port))
    lsock.listen(16)

    def accept_loop() -> None:
        while True:
            conn, _ = lsock.accept()
            threading.Thread(target=_session, args=(dev, conn, key), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()
    return lsock.getsockname()[1]


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    ports = {d["name"]: serve(Device(**d)) for d in spec}
    print(json.dumps(ports), flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
