"""A running event service (trap + syslog receivers) on loopback, fed by real tools."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from probes.common.inventory_model import Device, Inventory
from probes.events.model import Event
from probes.events.service import EventService
from probes.snmp.credential import Credential
from tests.support.ports import free_port

V3 = Credential(version="v3", user="trapper", auth_proto="SHA-256", auth_key="trap-auth-key-1",
                priv_proto="AES", priv_key="trap-priv-key-1", name="v3-trap")
V2 = Credential(version="v2c", community="s3cret-trap", name="v2")
#: more v3 users: (user, auth, priv) with keys "<user>-auth-key" / "<user>-priv-key"
V3_MORE = [("sha1aes", "SHA", "AES"), ("sha512aes256", "SHA-512", "AES-256"),
           ("sha224aes192", "SHA-224", "AES-192")]
V3_EXTRA = [Credential(version="v3", user=u, auth_proto=a, auth_key=f"{u}-auth-key", priv_proto=p,
                       priv_key=f"{u}-priv-key", name=u) for u, a, p in V3_MORE]
#: net-snmp's options for the v3 credential above
V3_ARGS = ["-v3", "-l", "authPriv", "-u", "trapper", "-a", "SHA-256", "-A", "trap-auth-key-1",
           "-x", "AES", "-X", "trap-priv-key-1"]

DEVICES = {  # name -> (address, profile, vendor)
    "hf-rtr1": ("127.0.0.1", "huawei-vrp", "huawei"),
    "hf-sw1": ("127.0.0.2", "h3c-comware", "h3c"),
    "hf-cipher1": ("127.0.0.3", "cipher-gateway", "cipher"),
    "hf-cisco1": ("127.0.0.4", "auto", "cisco"),
    "hf-jnp1": ("127.0.0.5", "juniper", "juniper"),
}
UNKNOWN = "127.0.0.9"


def inventory() -> Inventory:
    inv = Inventory()
    for name, (addr, profile, vendor) in DEVICES.items():
        inv.devices[name] = Device(name=name, site="hefei", role="router", vendor=vendor, model="x",
                                   profile=profile, address=addr, credential="v2")
    return inv


def udp_tcp_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no port free for both UDP and TCP")


class Running:
    """The service on its own event loop thread; ``events`` fills as they arrive."""

    def __init__(self, sim: bool = False, inv: Inventory | None = None,
                 creds: list[Credential] | None = None) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()
        self.trap_port, self.syslog_port = free_port(kind=socket.SOCK_DGRAM), udp_tcp_port()
        self.loop = asyncio.new_event_loop()
        self.svc = EventService(inv or inventory(), self._emit, creds or [V2, V3, *V3_EXTRA], sim=sim)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(
            self.svc.start(f"127.0.0.1:{self.trap_port}", f"127.0.0.1:{self.syslog_port}", flush_s=0.5),
            self.loop).result(10)

    def _emit(self, ev: Event) -> None:
        with self._lock:
            self.events.append(ev)

    def wait(self, pred: Callable[[list[Event]], bool], timeout: float = 10.0) -> list[Event]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                evs = list(self.events)
            if pred(evs):
                return evs
            time.sleep(0.02)
        with self._lock:
            return list(self.events)

    def settle(self, seconds: float = 0.3) -> list[Event]:
        time.sleep(seconds)
        with self._lock:
            return list(self.events)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.svc.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def service() -> Iterator[Running]:
    run = Running()
    yield run
    run.stop()
