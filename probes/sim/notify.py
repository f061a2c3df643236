"""What a simulated device says on its own when a fault changes it: traps and syslog.

Real routers announce a cut link themselves (issue 16): a linkDown/linkUp notification
(SNMPv2-Trap, v2c or v3 as the device's credential says) and a syslog line in the vendor's
own format.  :class:`Notifier` watches the province's faults (``fault_listeners``), compares
interface, tunnel and device state before and after, and sends from each changed device's
own 127.34.x.y address to its agent's receivers, so the agent maps the sender as it would
a real one.  A device that is down says nothing, and nor does one cut off from its
agent's host by the fault (the same graph the WAN forwarders use): its message would not
arrive in the real network either.
"""

from __future__ import annotations

import logging
import socket
import time
from collections import Counter
from collections.abc import Iterable, Mapping

from probes.common import topology
from probes.common.netguard import check_target
from probes.sim.wan import anchor_of
from probes.snmp import ber

log = logging.getLogger("probes.sim")
Addr = tuple[str, int]

SYS_UPTIME_0 = (1, 3, 6, 1, 2, 1, 1, 3, 0)
SNMP_TRAP_OID_0 = (1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0)
COLD_START = (1, 3, 6, 1, 6, 3, 1, 1, 5, 1)
LINK_DOWN = (1, 3, 6, 1, 6, 3, 1, 1, 5, 3)
LINK_UP = (1, 3, 6, 1, 6, 3, 1, 1, 5, 4)
IF_INDEX, IF_ADMIN, IF_OPER = ((1, 3, 6, 1, 2, 1, 2, 2, 1, c) for c in (1, 7, 8))
IF_NAME = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1)
TUNNEL_DOWN = (1, 3, 6, 1, 4, 1, 99934, 3, 0, 1)  # cipher-gateway.yaml: cipherTunnelDown / Up
TUNNEL_UP = (1, 3, 6, 1, 4, 1, 99934, 3, 0, 2)
TUNNEL_ROW = (1, 3, 6, 1, 4, 1, 99934, 2, 2, 1)  # .2 peer address, .3 peer name
LOCAL7 = 23
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


# ----- encoding ----------------------------------------------------------------------
def varbind(oid: tuple[int, ...], value: bytes) -> bytes:
    """One varbind; ``value`` is an encoded TLV."""
    return ber.tlv(ber.SEQUENCE, ber.enc_oid(oid) + value)


def trap_pdu(request_id: int, uptime_cs: int, trap_oid: tuple[int, ...], varbinds: Iterable[bytes]) -> bytes:
    """An SNMPv2-Trap PDU: sysUpTime.0, snmpTrapOID.0, then ``varbinds`` (RFC 3416 4.2.6)."""
    vbs = (varbind(SYS_UPTIME_0, ber.enc_int(uptime_cs % 2**32, ber.TIMETICKS))
           + varbind(SNMP_TRAP_OID_0, ber.enc_oid(trap_oid)) + b"".join(varbinds))
    return ber.tlv(0xA7, ber.enc_int(request_id) + ber.enc_int(0) + ber.enc_int(0)
                   + ber.tlv(ber.SEQUENCE, vbs))


def v2c_message(community: str, pdu: bytes) -> bytes:
    return ber.tlv(ber.SEQUENCE, ber.enc_int(1) + ber.tlv(ber.OCTET_STRING, community.encode()) + pdu)


def syslog_3164(facility: int, severity: int, host: str, text: str, now: float,
                encoding: str = "utf-8") -> bytes:
    """``<PRI>Mmm dd hh:mm:ss HOST TEXT`` (RFC 3164), local time as devices send it."""
    t = time.localtime(now)
    stamp = f"{MONTHS[t.tm_mon - 1]} {t.tm_mday:2d} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
    return f"<{facility * 8 + severity}>{stamp} {host} ".encode() + text.encode(encoding)


# ----- vendor syslog formats --------------------------------------------------------------
def link_lines(vendor: str, ifname: str, down: bool, seq: int, now: float) -> list[tuple[int, str]]:
    """(severity, message) for each line a device of ``vendor`` logs when ``ifname`` goes
    down or up: the physical state, then the line protocol, as the vendors log them.
    Nothing for machines that only send traps (cipher gateways)."""
    word = "down" if down else "up"
    if vendor == "huawei":  # VRP / USG: %%01IFNET/4/IF_STATE(l)[seq]:... then LINK_STATE
        state = word.upper()
        return [(4, f"%%01IFNET/4/IF_STATE(l)[{seq}]:Interface {ifname} has turned into {state} state."),
                (4, f"%%01IFNET/4/LINK_STATE(l)[{seq + 1}]:The line protocol IP on the interface {ifname} "
                    f"has entered the {state} state.")]
    if vendor == "h3c":  # Comware
        return [(3, f"%%10IFNET/3/PHY_UPDOWN: Physical state on the interface {ifname} changed to {word}."),
                (5, f"%%10IFNET/5/LINK_UPDOWN: Line protocol state on the interface {ifname} "
                    f"changed to {word}.")]
    if vendor in ("ruijie", "cisco"):  # RGOS logs the IOS mnemonics
        return [(3, f"%LINK-3-UPDOWN: Interface {ifname}, changed state to {word}."),
                (5, f"%LINEPROTO-5-UPDOWN: Line protocol on Interface {ifname}, changed state to {word}.")]
    if vendor == "hillstone":  # StoneOS: "date, LEVEL@MODULE: description"
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
        return [(4, f"{stamp}, WARNING@NETWORK: Interface {ifname} link status changed to {word}")]
    if vendor == "cipher":
        return []
    # ZTE, Topsec, Venustech, Sangfor: no documented form in the profiles yet; a plain line
    return [(4, f"{vendor.upper()}-IF: interface {ifname} link {word}")]


# ----- sending ----------------------------------------------------------------------
def parse_target(text: str) -> tuple[str, Addr]:
    """``[AGENT=]HOST:PORT`` -> (agent or "*", (host, port)); ValueError names the problem."""
    agent, sep, addr = text.rpartition("=")
    host, colon, port = addr.rpartition(":")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"target {text!r}: expected [AGENT=]HOST:PORT")
    host = host.strip("[]")
    check_target(host)
    return (agent if sep else "*"), (host, int(port))


class Notifier:
    """Sends each device's traps and syslog lines to its agent's receivers after every fault.

    ``traps``/``syslog``: {agent or "*": (host, port)}; "*" for every agent (and for
    devices no agent polls).  Attach with :meth:`attach` on the serving loop.
    """

    def __init__(self, province, traps: Mapping[str, Addr], syslog: Mapping[str, Addr]) -> None:  # noqa: ANN001

        inv = province.inventory
        self.province = province
        self.traps, self.syslog = dict(traps), dict(syslog)
        unknown = sorted((set(self.traps) | set(self.syslog)) - set(inv.agents) - {"*"})
        if unknown:
            raise ValueError(f"event target for unknown agent(s) {', '.join(unknown)} "
                             f"(have {', '.join(sorted(inv.agents)) or 'none'})")
        self.agent_of = {d.name: a for a in sorted(inv.agents, reverse=True) for d in inv.devices_of_agent(a)}
        self.anchor: dict[str, str | None] = {}
        for a in inv.agents:
            try:
                self.anchor[a] = anchor_of(inv, a)
            except ValueError:  # SimError: an agent with no linked device sits next to its devices
                self.anchor[a] = None
        self.topo = topology.build(inv)
        self.sent: Counter = Counter()
        self._socks: dict[str, socket.socket] = {}
        self._request_id = 0
        self._seq: Counter = Counter()
        self._state = self.snapshot()

    def attach(self) -> None:
        self.province.fault_listeners.append(self.on_fault)

    def close(self) -> None:
        if self.on_fault in self.province.fault_listeners:
            self.province.fault_listeners.remove(self.on_fault)
        for s in self._socks.values():
            s.close()
        self._socks.clear()

    def snapshot(self) -> dict[tuple[str, str, str], object]:
        out: dict[tuple[str, str, str], object] = {}
        for name, dev in self.province.devices.items():
            out[(name, "device", "")] = (dev.down, dev.boot)
            for itf in dev.interfaces.values():
                out[(name, "if", itf.name)] = (itf.outage.down, "admin" in itf.outage.reasons)
            for peer, tun in dev.tunnels.items():
                out[(name, "tunnel", peer)] = tun.outage.down
        return out

    def on_fault(self) -> None:
        """Compare with the state before this fault and send what changed."""
        before, after = self._state, self.snapshot()
        self._state = after
        changed = [k for k, v in after.items() if before.get(k) != v]
        if not changed:
            return
        island = self._islands()
        now = self.province.clock()
        for name, what, sub in changed:
            dev = self.province.devices[name]
            if dev.down or not self._reaches(name, island):
                if not dev.down:
                    self.sent["unreachable"] += 1
                continue
            if what == "device":
                self._trap(dev, COLD_START, [], now)
            elif what == "if":
                self._interface(dev, dev.interfaces[sub], now)
            else:
                self._tunnel(dev, dev.tunnels[sub], now)

    def _islands(self) -> dict[str, int]:
        return self.topo.components(*self.province.down_and_cut())

    def _reaches(self, device: str, island: dict[str, int]) -> bool:
        """Whether ``device`` still has a path to its agent's host (devices off the graph have)."""
        anchor = self.anchor.get(self.agent_of.get(device, ""))
        if anchor is None or device not in self.topo.adj:
            return True
        return device in island and island[device] == island.get(anchor)

    def _target(self, table: dict[str, Addr], device: str) -> Addr | None:
        return table.get(self.agent_of.get(device, "*")) or table.get("*")

    def _interface(self, dev, itf, now: float) -> None:  # noqa: ANN001
        down = itf.outage.down
        i = itf.index
        vbs = [varbind(IF_INDEX + (i,), ber.enc_int(i)),
               varbind(IF_ADMIN + (i,), ber.enc_int(2 if "admin" in itf.outage.reasons else 1)),
               varbind(IF_OPER + (i,), ber.enc_int(2 if down else 1)),
               varbind(IF_NAME + (i,), ber.tlv(ber.OCTET_STRING, itf.name.encode()))]
        self._trap(dev, LINK_DOWN if down else LINK_UP, vbs, now)
        for severity, text in link_lines(dev.device.vendor, itf.name, down, self._seq[dev.name] + 1, now):
            self._seq[dev.name] += 1
            self._syslog(dev, severity, text, now)

    def _tunnel(self, dev, tun, now: float) -> None:  # noqa: ANN001
        try:
            raw = bytes(int(p) for p in tun.peer_address.split("."))
        except ValueError:
            raw = b""
        ip = ber.tlv(ber.IP_ADDRESS, raw if len(raw) == 4 else bytes(4))
        vbs = [varbind(TUNNEL_ROW + (3, tun.index), ber.tlv(ber.OCTET_STRING, tun.peer.encode())),
               varbind(TUNNEL_ROW + (2, tun.index), ip)]
        self._trap(dev, TUNNEL_DOWN if tun.outage.down else TUNNEL_UP, vbs, now)

    def _trap(self, dev, trap_oid: tuple[int, ...], vbs: list[bytes], now: float) -> None:  # noqa: ANN001
        target = self._target(self.traps, dev.name)
        if target is None:
            return
        self._request_id = (self._request_id + 1) % 2**31
        pdu = trap_pdu(self._request_id, int((now - dev.boot) * 100), trap_oid, vbs)
        usm = self.province.usm_engine(dev.name)
        if usm is not None:
            data = usm.notification(self._request_id, dev.creds.user.encode(), pdu)
        else:
            data = v2c_message(dev.creds.community or "public", pdu)
        self._send(dev, data, target, "traps")

    def _syslog(self, dev, severity: int, text: str, now: float) -> None:  # noqa: ANN001
        target = self._target(self.syslog, dev.name)
        if target is not None:
            self._send(dev, syslog_3164(LOCAL7, severity, dev.name, text, now), target, "syslog")

    def _send(self, dev, data: bytes, target: Addr, what: str) -> None:  # noqa: ANN001
        sock = self._socks.get(dev.name)
        try:
            if sock is None:
                v6 = ":" in target[0]
                sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
                if not v6:
                    sock.bind((dev.address, 0))  # from the device's own address
                sock.setblocking(False)
                self._socks[dev.name] = sock
            sock.sendto(data, target)
            self.sent[what] += 1
        except OSError as exc:
            self.sent["errors"] += 1
            log.warning("%s: cannot send %s to %s:%s: %s", dev.name, what, *target, exc)
