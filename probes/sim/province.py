"""The whole simulated province in one asyncio process: a UDP socket per device.

Each device answers on its own loopback address (``Inventory.sim_address``) and a
shared port.  Replies are delayed by the device's WAN round trip (the kernel here
has no netem) plus any injected slowness; a device that is down never answers.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import fnmatch
import logging
import random
import resource
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from probes.common import topology
from probes.common.inventory_model import Inventory
from probes.common.secrets import resolve
from probes.sim import addressing
from probes.sim.agent import Stats, handle_community, handle_pdu
from probes.sim.control import serve_control
from probes.sim.device import SimDevice, link_ends_of, tunnel_peers_of, wan_delay_s
from probes.sim.errors import SimError
from probes.sim.notify import Notifier
from probes.sim.runconfig import running_configs
from probes.sim.sshfleet import SshFleet
from probes.sim.wan import WanProxies
from probes.snmp import ber
from probes.snmp.credential import Credential
from probes.snmp.usm import UsmEngine, UsmUser, engine_time

log = logging.getLogger("probes.sim")
T = TypeVar("T")


def raise_nofile(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(max(soft, need), hard) if hard != resource.RLIM_INFINITY else max(soft, need)
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def resolve_credentials(inv: Inventory,
                        overrides: dict[str, Credential] | None = None) -> dict[str, Credential]:
    """Secrets for each credential name, via probes.common.secrets (env or 0600 file)."""
    out = dict(overrides or {})
    for name, ref in inv.credentials.items():
        if name not in out:
            out[name] = resolve(ref)
    return out


class _Endpoint(asyncio.DatagramProtocol):
    def __init__(self, province: SimulatedProvince, dev: SimDevice) -> None:
        self.province = province
        self.dev = dev
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:  # noqa: ANN001
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:  # noqa: ANN001
        dev = self.dev
        if dev.down:
            return
        try:
            resp = self.province.answer(dev, data)
        except (ber.BerError, IndexError, ValueError) as exc:
            log.debug("%s: bad request from %s: %s", dev.name, addr, exc)
            self.province.stats.dropped += 1
            return
        if resp is None or self.transport is None:
            return
        delay = dev.slow_s + dev.wan_delay
        if dev.jitter:
            delay += random.uniform(-dev.jitter, dev.jitter)
        if delay > 0.0005:
            loop = asyncio.get_running_loop()
            loop.call_later(delay, self._send, resp, addr)
        else:
            self.transport.sendto(resp, addr)

    def _send(self, resp: bytes, addr) -> None:  # noqa: ANN001
        if self.transport is not None and not self.transport.is_closing() and not self.dev.down:
            self.transport.sendto(resp, addr)


# address-plan faults; each ACTION-clear removes it again (probes.sim.addressing)
ADDRESS_FAULTS = ("addr-unknown", "addr-duplicate", "addr-mismatch", "lldp-miscabled")


class SimulatedProvince:
    """Every inventory device (or those matching ``devices`` globs) as an SNMP agent.

    ``port=0`` picks a free port shared by all devices.  ``wan_delay``: "auto" (by
    site kind), "0" or a number of milliseconds for every device.
    """

    def __init__(self, inventory: Inventory, port: int = 1161, *, devices: Iterable[str] | None = None,
                 wan_delay: str | float = "0", credentials: dict[str, Credential] | None = None,
                 seed: int = 0) -> None:
        self.inventory = inventory
        self.port = port
        self.stats = Stats()
        self.clock: Callable[[], float] = time.time  # what "now" is for answers and faults (tests move it)
        self.started_at = time.time()
        patterns = list(devices or [])
        names = sorted(inventory.devices)
        if patterns:
            names = [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)]
            if not names:
                raise SimError(f"no device matches {', '.join(patterns)}")
        creds = resolve_credentials(inventory, credentials)
        self.devices: dict[str, SimDevice] = {}
        self._usm: dict[str, UsmEngine] = {}
        self._communities: dict[str, set[bytes]] = {}
        now = self.started_at
        ends = link_ends_of(inventory)
        peers = tunnel_peers_of(inventory)
        for name in names:
            d = inventory.devices[name]
            if d.credential not in creds:
                raise SimError(f"device {name}: credential {d.credential!r} not in the inventory")
            if wan_delay == "auto":
                delay = wan_delay_s(inventory, d)
            else:
                delay = float(wan_delay or 0) / 1000.0
            dev = SimDevice(inventory, d, inventory.sim_address(name), creds[d.credential], now,
                            seed=seed, wan_delay=delay, link_ends=ends.get(name, {}),
                            tunnel_peers=peers.get(name, ()))
            self.devices[name] = dev
            c = creds[d.credential]
            if c.version == "v3":
                user = UsmUser.create(c, dev.engine_id)
                self._usm[name] = UsmEngine(dev.engine_id, lambda dev=dev: dev.engine_boots,
                                            lambda dev=dev: engine_time(dev.boot), [user])
            else:
                self._communities[name] = {(c.community or "public").encode()}
        self.configs = running_configs(inventory, names, now)  # routers and firewalls with a CLI
        self.ssh: SshFleet | None = None  # once start_ssh() is called
        self.build_s = time.time() - now
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._transports: list[asyncio.DatagramTransport] = []
        # called on the serving loop after every fault (probes.sim.wan cuts agents off)
        self.fault_listeners: list[Callable[[], None]] = []
        self.wan = None  # probes.sim.wan.WanProxies once started
        self.notifier = None  # probes.sim.notify.Notifier once event targets are given

    # ----- serving --------------------------------------------------------------
    def answer(self, dev: SimDevice, data: bytes) -> bytes | None:
        self.stats.requests += 1
        if len(data) < 2 or data[0] != ber.SEQUENCE:
            raise ber.BerError("not a SEQUENCE")
        _, ms, _ = ber.read_tlv(data, 0)
        _, vs, ve = ber.read_tlv(data, ms)
        version = ber.dec_int(data, vs, ve)
        if version == 3:
            usm = self._usm.get(dev.name)
            if usm is None:
                return None
            now = self.clock()
            return usm.handle(data, lambda pdu, size: handle_pdu(dev.view, 1, pdu, self.stats, size, now))
        communities = self._communities.get(dev.name)
        if communities is None:
            return None
        return handle_community(dev.view, communities, data, self.stats, self.clock())

    async def start_async(self) -> None:
        raise_nofile(len(self.devices) + 256)
        self._loop = asyncio.get_running_loop()
        names = list(self.devices)
        if self.port != 0:
            await self._bind_all(names, self.port)
            return
        # A free port on the first address may be taken on another: try a few.
        for attempt in range(5):
            port = self._free_port(self.devices[names[0]].address)
            try:
                await self._bind_all(names, port)
                self.port = port
                return
            except SimError:
                if attempt == 4:
                    raise

    async def _bind_all(self, names: list[str], port: int) -> None:
        loop = asyncio.get_running_loop()
        for name in names:
            dev = self.devices[name]
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 18)
            try:
                sock.bind((dev.address, port))
            except OSError as exc:
                sock.close()
                await self.stop_async()
                raise SimError(f"{name}: cannot bind {dev.address}:{port}: {exc.strerror}") from None
            transport, _ = await loop.create_datagram_endpoint(lambda dev=dev: _Endpoint(self, dev),
                                                               sock=sock)
            self._transports.append(transport)

    @staticmethod
    def _free_port(address: str) -> int:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((address, 0))
            return s.getsockname()[1]

    async def stop_async(self) -> None:
        for t in self._transports:
            t.close()
        self._transports.clear()

    def start(self) -> SimulatedProvince:
        """Serve from a background thread (for tests and in-process use)."""
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start_async())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                errors.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop_async())
            loop.close()

        self._thread = threading.Thread(target=run, name="sim-province", daemon=True)
        self._thread.start()
        ready.wait()
        if errors:
            raise errors[0]
        return self

    def start_control(self, port: int = 0) -> str:
        """Serve the HTTP control endpoint from the running loop; returns its URL."""
        if self._loop is None:
            raise SimError("start() the province before its control endpoint")
        fut = asyncio.run_coroutine_threadsafe(serve_control(self, port), self._loop)
        server = fut.result(timeout=10)
        self._control = server
        return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"

    def start_wan(self, centre_url: str, base_port: int = 0) -> dict[str, str]:
        """Start the WAN forwarders (:mod:`probes.sim.wan`) on the running loop; {agent: URL}."""
        if self._loop is None:
            raise SimError("start() the province before its WAN forwarders")
        wan = WanProxies(self, centre_url, base_port)
        return asyncio.run_coroutine_threadsafe(wan.start_async(), self._loop).result(timeout=10)

    def start_events(self, traps: dict[str, tuple[str, int]], syslog: dict[str, tuple[str, int]]) -> None:
        """Make faults send traps and syslog (:mod:`probes.sim.notify`) to these receivers:
        {agent or "*": (host, port)}.  Call before or after :meth:`start`."""

        def attach() -> None:
            if self.notifier is not None:
                self.notifier.close()
            self.notifier = Notifier(self, traps, syslog)
            self.notifier.attach()

        self._on_loop(attach)

    def start_ssh(self, port: int, key_dir: str | None = None) -> SshFleet:
        """Routers and firewalls answer SSH on their own address (:mod:`probes.sim.sshfleet`)."""
        raise_nofile(len(self.devices) + len(self.configs) + 512)  # UDP + TCP listeners + logins
        self.ssh = SshFleet(self, port, key_dir).start()
        return self.ssh

    def usm_engine(self, name: str) -> UsmEngine | None:
        """The v3 engine a device answers (and sends traps) with; None for v1/v2c devices."""
        return self._usm.get(name)

    def stop(self) -> None:
        if self.ssh is not None:
            self.ssh.stop()
            self.ssh = None
        if self.notifier is not None:
            self.notifier.close()
            self.notifier = None
        if self._loop is not None and self._thread is not None and self.wan is not None:
            asyncio.run_coroutine_threadsafe(self.wan.stop_async(), self._loop).result(timeout=10)
            self.wan = None
        if self._loop is not None and getattr(self, "_control", None) is not None:
            self._loop.call_soon_threadsafe(self._control.close)
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> SimulatedProvince:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- faults -----------------------------------------------------------------
    def device(self, name: str) -> SimDevice:
        try:
            return self.devices[name]
        except KeyError:
            raise SimError(f"no simulated device {name!r}") from None

    def address(self, name: str) -> tuple[str, int]:
        return self.device(name).address, self.port

    def fault(self, action: str, *args: str, es: int = 0, ses: int = 0) -> dict:
        """Inject or clear a fault; the CLI and the control endpoint call this.

        From another thread (in-process tests) the change is made on the serving loop,
        so a request never sees a fault half-applied.
        """
        return self._on_loop(lambda: self._fault_now(action, args, es, ses))

    def _on_loop(self, fn: Callable[[], T]) -> T:
        """``fn()`` on the serving loop when called from another thread, else here."""
        loop = self._loop
        if loop is not None and loop.is_running() and self._thread is not None \
                and threading.current_thread() is not self._thread:
            fut: concurrent.futures.Future = concurrent.futures.Future()

            def run() -> None:
                try:
                    fut.set_result(fn())
                except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                    fut.set_exception(exc)

            loop.call_soon_threadsafe(run)
            return fut.result(timeout=30)
        return fn()

    def _fault_now(self, action: str, args: tuple[str, ...], es: int, ses: int) -> dict:
        now = self.clock()
        try:
            out = self._fault(action, list(args), now, es, ses)
            self._route_tunnels(now)
            for listener in self.fault_listeners:
                listener()
            return out
        except SimError:
            raise
        except KeyError as exc:
            raise SimError(str(exc.args[0])) from None
        except ValueError as exc:
            raise SimError(str(exc)) from None
        except (TypeError, IndexError):
            raise SimError(f"{action}: wrong arguments {list(args)}") from None

    def _need(self, args: list[str], n: int, action: str) -> None:
        if len(args) != n:
            raise SimError(f"{action}: expected {n} argument(s), got {len(args)}")

    def _fault(self, action: str, args: list[str], now: float, es: int, ses: int) -> dict:
        if action == "clear-all":
            self._need(args, 0, action)
            for dev in self.devices.values():
                self._set_device_down(dev, False, now)
                dev.slow_s = 0.0
                for itf in dev.interfaces.values():
                    if itf.sdh is not None:
                        if itf.sdh.los_since is not None:
                            dev.set_los(itf.name, False, now)
                        itf.sdh.far_los = False
                    for r in list(itf.outage.reasons):
                        itf.outage.remove(r, now)
                for tun in dev.tunnels.values():
                    for r in list(tun.outage.reasons):
                        tun.set(r, False, now)
                dev.discrepancies.clear()
            return {"ok": True}
        if action in ("device-down", "device-up"):
            self._need(args, 1, action)
            self._set_device_down(self.device(args[0]), action == "device-down", now)
        elif action == "reboot":
            self._need(args, 1, action)
            self.device(args[0]).reboot(now)
        elif action in ("if-down", "if-up"):
            self._need(args, 2, action)
            itf = self.device(args[0]).interface(args[1])
            (itf.outage.add if action == "if-down" else itf.outage.remove)("admin", now)
        elif action in ("link-down", "link-up"):
            self._need(args, 1, action)
            self._link(args[0], action == "link-down", now)
        elif action in ("sdh-los", "sdh-clear"):
            self._need(args, 2, action)
            self._los(args[0], args[1], action == "sdh-los", now)
        elif action == "sdh-errors":
            self._need(args, 2, action)
            itf = self.device(args[0]).interface(args[1])
            if itf.sdh is None:
                raise SimError(f"{args[0]} {args[1]}: not an SDH interface")
            if es < 0 or ses < 0:
                raise SimError("sdh-errors: --es and --ses must be >= 0")
            itf.sdh.errors.append((now, int(es), int(ses)))
        elif action in ("tunnel-down", "tunnel-up"):
            self._need(args, 2, action)
            self._tunnel(args[0], args[1], action == "tunnel-down", now)
        elif action == "config-change":
            if not args:
                raise SimError("config-change: expected DEVICE [LINE...]")
            rc = self.configs.get(args[0])
            if rc is None:
                self.device(args[0])  # unknown device: its own error
                raise SimError(f"{args[0]}: no running configuration here (only routers and firewalls "
                               "with an SSH CLI have one)")
            return {"ok": True, "device": args[0], "added": rc.change(" ".join(args[1:]) or None, now)}
        elif action == "slow":
            self._need(args, 2, action)
            try:
                secs = float(args[1])
            except ValueError:
                raise SimError(f"slow: seconds must be a number, got {args[1]!r}") from None
            if not 0 <= secs <= 120:
                raise SimError("slow: seconds must be between 0 and 120")
            self.device(args[0]).slow_s = secs
        elif action.removesuffix("-clear") in ADDRESS_FAULTS:
            self._need(args, 1, action)
            kind = action.removesuffix("-clear").removeprefix("addr-")
            self._discrepancy(args[0], kind, not action.endswith("-clear"))
        else:
            raise SimError(f"unknown fault {action!r}")
        return {"ok": True}

    def _discrepancy(self, target: str, kind: str, on: bool) -> None:
        """Switch an address-plan discrepancy (:mod:`probes.sim.addressing`) on a device or link."""
        if kind == "lldp-miscabled":
            link = self.inventory.links.get(target)
            if link is None:
                raise SimError(f"no link {target!r}")
            dev, key = self.device(link.a.device), f"miscabled:{target}"
            far = self.inventory.devices.get(link.b.device)
            if far is None or not {dev.device.role, far.role} <= addressing.LLDP_ROLES:
                raise SimError(f"link {target}: its ends do not both speak LLDP")
        else:
            dev, key = self.device(target), kind
            if kind != "mismatch" and dev.device.role not in addressing.ARP_ROLES:
                raise SimError(f"{target}: a {dev.device.role} holds no ARP table")
        (dev.discrepancies.add if on else dev.discrepancies.discard)(key)

    def _set_device_down(self, dev: SimDevice, down: bool, now: float) -> None:
        dev.down = down
        for other in self.devices.values():
            tun = other.tunnels.get(dev.name)
            if tun is not None:
                tun.set(f"peer-down:{dev.name}", down, now)

    def _link(self, link_id: str, down: bool, now: float) -> None:
        link = self.inventory.links.get(link_id)
        if link is None:
            raise SimError(f"no link {link_id!r}")
        reason = f"link:{link_id}"
        for end in (link.a, link.b):
            dev = self.devices.get(end.device)
            if dev is None:
                continue
            itf = dev.interface(end.interface)
            (itf.outage.add if down else itf.outage.remove)(reason, now)
            if itf.sdh is not None:
                dev.set_los(end.interface, down, now)

    def _far_end(self, device: str, ifname: str) -> tuple[SimDevice, str] | None:
        for link in self.inventory.links.values():
            for near, far in ((link.a, link.b), (link.b, link.a)):
                if near.device == device and near.interface == ifname and far.device in self.devices:
                    return self.devices[far.device], far.interface
        return None

    def _los(self, device: str, ifname: str, on: bool, now: float) -> None:
        self.device(device).set_los(ifname, on, now)
        far = self._far_end(device, ifname)
        if far is not None:
            fitf = far[0].interface(far[1])
            if fitf.sdh is not None:
                fitf.sdh.far_los = on

    def _tunnel(self, device: str, peer: str, down: bool, now: float) -> None:
        dev = self.device(device)
        if peer not in dev.tunnels:
            raise SimError(f"{device}: no tunnel to {peer!r} (has {', '.join(dev.tunnels) or 'none'})")
        dev.tunnels[peer].set("fault", down, now)
        other = self.devices.get(peer)
        if other is not None and device in other.tunnels:
            other.tunnels[device].set("fault", down, now)

    def down_and_cut(self) -> tuple[set[str], set[str]]:
        """(devices down, links with an end interface down: link fault, SDH LOS, admin down):
        what the province's graph (:mod:`probes.common.topology`) has lost right now."""
        cut = {
            link.id
            for link in self.inventory.links.values()
            for end in (link.a, link.b)
            if end.device in self.devices
            and (itf := self.devices[end.device].interfaces.get(end.interface)) is not None
            and itf.outage.down
        }
        return {name for name, d in self.devices.items() if d.down}, cut

    def _route_tunnels(self, now: float) -> None:
        """A tunnel whose two cipher machines no longer have a path between them drops.

        The path is the province's graph (:mod:`probes.common.topology`) without cut links (an end
        interface down: link fault, SDH LOS, admin down) and down devices; the tunnel's
        rows vanish at both ends and come back when a path does.
        """
        topo = topology.build(self.inventory)
        down, cut = self.down_and_cut()
        island = topo.components(down, cut) if cut or down else {}
        for name, dev in self.devices.items():
            for peer, tun in dev.tunnels.items():
                # a down end is the peer-down fault's business, not the path's
                cut_off = name in island and peer in island and island[name] != island[peer]
                tun.set("path", cut_off, now)

    def status(self) -> dict:
        now = time.time()
        faulty = [d.status(now) for d in self.devices.values()
                  if d.down or d.slow_s or any(i.outage.down for i in d.interfaces.values())
                  or any(t.outage.down for t in d.tunnels.values()) or d.discrepancies]
        out = {"devices": len(self.devices), "port": self.port, "uptime_s": round(now - self.started_at, 1),
               "build_s": round(self.build_s, 2), "stats": self.stats.as_dict(), "faulty": faulty}
        if self.notifier is not None:
            out["events_sent"] = dict(self.notifier.sent)
        if self.ssh is not None:
            out["ssh"] = self.ssh.status()
        return out
