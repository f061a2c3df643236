"""One simulated device: its walk, the inventory overlay, live values and faults.

The overlay puts the inventory on top of a real walk: sysName, the inventory's
interface names on the walk's first real ports (more rows are added when the walk
has fewer ports), link capacity as ifSpeed/ifHighSpeed, counters that grow with
the day curve, SONET-MIB rows on SDH interfaces, cipher tunnels, USG sessions.
"""

from __future__ import annotations

import hashlib
import random
import zlib
from collections.abc import Callable

from probes.common import topology
from probes.common.inventory_model import Device, Inventory, Link
from probes.sim import addressing, traffic
from probes.sim.state import SDH_INTERVAL_S, SdhState, SimInterface, SimTunnel
from probes.sim.view import DeviceView, KindView
from probes.sim.walks import SHARED, WalkCache, overlay_for, walk_for
from probes.snmp import ber
from probes.snmp.credential import Credential

SYS = (1, 3, 6, 1, 2, 1, 1)
IF_NUMBER = (1, 3, 6, 1, 2, 1, 2, 1, 0)
IF = (1, 3, 6, 1, 2, 1, 2, 2, 1)
IFX = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1)
SONET = (1, 3, 6, 1, 2, 1, 10, 39)
CIPHER = (1, 3, 6, 1, 4, 1, 99934, 2)
SECSTAT = (1, 3, 6, 1, 4, 1, 2011, 5, 25, 11, 1, 2, 1)
PORT_TYPES = {6, 22, 23, 39, 62, 69, 117}
# CPU-load columns that follow the day curve (rows with a non-zero recorded value):
# hwEntityCpuUsage, hh3cEntityExtCpuUsage, cipherCpuUsage, UCD ssCpuUser, hrProcessorLoad,
# Topsec CPU, Venustech per-CPU load, Hillstone sysCPU, ZXR10 unit CPU (2 and 5 min),
# Ruijie CPU (docs/profiles.md "Vendor health sources").
CPU_COLUMNS = ((1, 3, 6, 1, 4, 1, 2011, 5, 25, 31, 1, 1, 1, 1, 5),
               (1, 3, 6, 1, 4, 1, 25506, 2, 6, 1, 1, 1, 1, 6),
               (1, 3, 6, 1, 4, 1, 99934, 2, 1, 5),
               (1, 3, 6, 1, 4, 1, 2021, 11, 9),
               (1, 3, 6, 1, 2, 1, 25, 3, 3, 1, 2),
               (1, 3, 6, 1, 4, 1, 14331, 5, 5, 1, 4, 5),
               (1, 3, 6, 1, 4, 1, 15227, 200, 2, 1, 1, 2),
               (1, 3, 6, 1, 4, 1, 28557, 2, 2, 1, 3),
               (1, 3, 6, 1, 4, 1, 3902, 3, 3, 1, 1, 5),
               (1, 3, 6, 1, 4, 1, 3902, 3, 3, 1, 1, 12),
               (1, 3, 6, 1, 4, 1, 4881, 1, 1, 10, 2, 36, 1, 1, 3))
# Session gauges that follow the day curve like the USG's: Hillstone sysCurSession,
# Venustech session-table row count.
SESSION_SCALARS = ((1, 3, 6, 1, 4, 1, 28557, 2, 2, 1, 7, 0),
                   (1, 3, 6, 1, 4, 1, 15227, 1, 22, 101, 20, 0))
SDH_INTERVALS = 96  # interval rows served per SDH interface: a day, as RFC 3592 allows
STM1_BPS = 155_520_000
U32 = 2**32
U64 = 2**64

# Stand-in identity for vendors without a public walk (see walks.py).
IDENTITY = {
    "hillstone": ("Hillstone Networks StoneOS software version 5.0R4P5 SG-6000-E3960",
                  (1, 3, 6, 1, 4, 1, 28557, 1, 40)),
}
ENTERPRISE = {"huawei": 2011, "h3c": 25506, "ruijie": 4881, "zte": 3902, "topsec": 14331,
              "venustech": 15227, "sangfor": 35047, "hillstone": 28557}

_KINDS: dict[tuple[str, str | None], KindView] = {}


def kind_view(vendor: str, role: str, cache: WalkCache = SHARED) -> KindView:
    key = (walk_for(vendor, role), overlay_for(vendor, role))
    if key not in _KINDS:
        _KINDS[key] = cache.kind(*key)
    return _KINDS[key]


def _int(value: bytes) -> int:
    _, start, end = ber.read_tlv(value, 0)
    return ber.dec_int(value, start, end)


def _str(text: str) -> bytes:
    return ber.tlv(ber.OCTET_STRING, text.encode("utf-8"))


def _g32(v: int) -> bytes:
    return ber.enc_int(max(0, min(v, U32 - 1)), ber.GAUGE32)


def _i(v: int) -> bytes:
    return ber.enc_int(v)


def wan_delay_s(inv: Inventory, dev: Device) -> float:
    """Typical WAN round trip from the centre: county ~30 ms, city ~10 ms, province ~1 ms."""
    kind = inv.sites[dev.site].kind if dev.site in inv.sites else "county"
    return {"province": 0.001, "department": 0.003, "city": 0.010, "county": 0.030}.get(kind, 0.030)


def link_ends_of(inv: Inventory) -> dict[str, dict[str, tuple[Link, bool]]]:
    """device -> interface -> (link, this end is the a end)."""
    ends: dict[str, dict[str, tuple[Link, bool]]] = {}
    for link in inv.links.values():
        ends.setdefault(link.a.device, {})[link.a.interface] = (link, True)
        ends.setdefault(link.b.device, {})[link.b.interface] = (link, False)
    return ends


def tunnel_peers_of(inv: Inventory) -> dict[str, tuple[str, ...]]:
    """Tunnels at both ends (:func:`probes.common.topology.expected_peers`: what the centre expects)."""
    return topology.build(inv).peers


def _while_up(tun: SimTunnel, value: bytes | Callable[[float], bytes]) -> Callable[[float], bytes | None]:
    """A tunnel-table cell that exists only while the tunnel is up: a dropped SA's row is
    removed from the table, as real cipher machines do, not left with a "down" state."""
    if isinstance(value, bytes):
        return lambda now: None if tun.outage.down else value
    return lambda now: None if tun.outage.down else value(now)


class SimDevice:
    def __init__(self, inv: Inventory, dev: Device, address: str, creds: Credential,
                 start: float, seed: int = 0, wan_delay: float = 0.0,
                 link_ends: dict[str, tuple[Link, bool]] | None = None,
                 tunnel_peers: tuple[str, ...] | None = None) -> None:
        self.name = dev.name
        self.device = dev
        self.address = address
        self.creds = creds
        self.rng = random.Random(zlib.crc32(dev.name.encode()) ^ seed)
        self.boot = start - self.rng.uniform(3, 200) * 86400
        self.engine_boots = self.rng.randint(1, 30)
        ent = ENTERPRISE.get(dev.vendor.lower(), 99934)
        self.engine_id = (bytes.fromhex("%08x" % (0x80000000 | ent)) + b"\x05"
                          + hashlib.sha1(dev.name.encode()).digest()[:8])
        self.down = False
        self.slow_s = 0.0
        self.wan_delay = wan_delay
        self.jitter = 0.2 * wan_delay
        self.view = DeviceView(kind_view(dev.vendor, dev.role))
        self.interfaces: dict[str, SimInterface] = {}
        self.tunnels: dict[str, SimTunnel] = {}
        self.session_peak = self.rng.randint(20_000, 200_000)
        self.discrepancies: set[str] = set()  # address-plan faults switched on (probes.sim.addressing)
        self._ends = link_ends if link_ends is not None else link_ends_of(inv).get(dev.name, {})
        self._peers = tunnel_peers if tunnel_peers is not None else tunnel_peers_of(inv).get(dev.name, ())
        self._build(inv)

    # ----- building the overlay -------------------------------------------------
    def _build(self, inv: Inventory) -> None:
        v, dev = self.view, self.device
        v.set(SYS + (5, 0), _str(dev.name))
        v.set(SYS + (3, 0), self._uptime)
        if dev.vendor.lower() in IDENTITY:
            descr, oid = IDENTITY[dev.vendor.lower()]
            v.set(SYS + (1, 0), _str(descr))
            v.set(SYS + (2, 0), ber.enc_oid(oid))
        if dev.role == "cipher":
            v.set(SYS + (1, 0), _str(f"SJW-IPSEC Network Encryption Gateway {dev.model}, firmware V3.2.7"))
            v.set(CIPHER + (1, 1, 0), _str(dev.model))
        self._build_interfaces(inv)
        if v.base.value(CIPHER + (2, 1, 1, 1)) is not None:
            self._build_tunnels(inv)
        for prefix in CPU_COLUMNS:
            for oid, val in v.base.column(prefix):
                if val[0] in (ber.INTEGER, ber.GAUGE32) and 0 < _int(val) <= 100:
                    v.set(oid, self._cpu_fn(val[0], _int(val)))
        if v.base.value(SECSTAT + (4, 0)) is not None:
            for col, share in ((4, 1.0), (6, 0.7), (7, 0.28), (8, 0.02), (3, 1 / 60)):
                v.set(SECSTAT + (col, 0), self._sessions_fn(share))
        for oid in SESSION_SCALARS:
            val = v.base.value(oid)
            if val is not None:
                v.set(oid, self._sessions_fn(1.0, val[0]))
        addressing.build(self, inv)

    def _build_interfaces(self, inv: Inventory) -> None:
        v = self.view
        base = v.base
        ends = self._ends
        names = list(dict.fromkeys([*self.device.interfaces, *ends]))
        walk_ports = [(o[-1], _int(val)) for o, val in base.column(IF + (3,))]
        ports = [idx for idx, t in walk_ports if t in PORT_TYPES]
        has_hc = bool(base.column(IFX + (6,)))
        has_x = has_hc or bool(base.column(IFX + (1,)))
        types = dict(walk_ports)
        next_index = max(types, default=0) + 1
        added = 0
        for pos, name in enumerate(names):
            if pos < len(ports):
                index = ports[pos]
                hc = base.value(IFX + (6, index)) is not None
                xtable = hc or base.value(IFX + (1, index)) is not None
                walk_type = types.get(index, 6)
            else:
                index, next_index, hc, xtable, walk_type = next_index, next_index + 1, has_hc, has_x, 6
                added += 1
            end = ends.get(name)
            if end is not None:
                link, is_a = end
                speed = link.capacity_bps
                lr = random.Random(zlib.crc32(link.id.encode()))
                ab = speed / 8 * lr.uniform(0.10, 0.60)
                ba = speed / 8 * lr.uniform(0.10, 0.60)
                peak_out, peak_in = (ab, ba) if is_a else (ba, ab)
                peer = link.b if is_a else link.a
                alias = f"to {peer.device} {peer.interface}"
                if link.circuit_id and link.circuit_id != "-":
                    alias += f" ({link.circuit_id})"
                sdh = SdhState(circuit=link.circuit_id) if link.kind == "sdh-stm1" else None
            else:
                hs = base.value(IFX + (15, index))
                speed = _int(hs) * 1_000_000 if hs is not None and _int(hs) > 0 else 1_000_000_000
                peak_in = speed / 8 * self.rng.uniform(0.01, 0.10)
                peak_out = speed / 8 * self.rng.uniform(0.01, 0.10)
                alias, sdh = "", None
            iftype = 39 if sdh is not None else walk_type
            if sdh is not None:
                speed = STM1_BPS
            itf = SimInterface(index=index, name=name, speed_bps=speed, iftype=iftype, hc=hc, xtable=xtable,
                               peak_in=peak_in, peak_out=peak_out, alias=alias, sdh=sdh)
            itf.outage.last_change = self.boot
            self.interfaces[name] = itf
            self._overlay_interface(itf)
            if sdh is not None:
                self._overlay_sdh(itf)
        self._rename_walk_clashes(walk_ports)
        if added:
            count = base.value(IF_NUMBER)
            v.set(IF_NUMBER, _i((_int(count) if count else len(walk_ports)) + added))

    def _rename_walk_clashes(self, walk_ports: list[tuple[int, int]]) -> None:
        """A walk port not overlaid but named like an inventory port gets a unique name.

        Real devices name each port once; without this, the walk's own port called, say,
        GigabitEthernet0/0/9 would stand beside the inventory's port of that name.
        """
        taken = {itf.name for itf in self.interfaces.values()}
        overlaid = {itf.index for itf in self.interfaces.values()}
        for index, _type in walk_ports:
            if index in overlaid:
                continue
            for col in (IF + (2,), IFX + (1,)):
                raw = self.view.base.value(col + (index,))
                if raw is None:
                    continue
                _tag, start, end = ber.read_tlv(raw, 0)
                name = raw[start:end].decode("utf-8", "replace")
                if name in taken:
                    self.view.set(col + (index,), _str(f"{name}-w{index}"))

    def _overlay_interface(self, itf: SimInterface) -> None:
        v, i = self.view, itf.index
        v.set(IF + (1, i), _i(i))
        v.set(IF + (2, i), _str(itf.name))
        v.set(IF + (3, i), _i(itf.iftype))
        v.set(IF + (4, i), _i(4470 if itf.sdh else 1500))
        v.set(IF + (5, i), _g32(itf.speed_bps))
        v.set(IF + (7, i), _i(1))
        v.set(IF + (8, i), lambda now: _i(2 if itf.outage.down or self.down else 1))
        v.set(IF + (9, i), lambda now: ber.enc_int(
            int(max(0.0, itf.outage.last_change - self.boot) * 100) % U32, ber.TIMETICKS))
        c32 = ber.COUNTER32
        v.set(IF + (10, i), lambda now: ber.enc_int(itf.octets(self.boot, now)[0] % U32, c32))
        v.set(IF + (11, i), lambda now: ber.enc_int(itf.octets(self.boot, now)[0] // 700 % U32, c32))
        v.set(IF + (13, i), lambda now: ber.enc_int(itf.octets(self.boot, now)[0] // 350_000_000 % U32, c32))
        v.set(IF + (14, i), lambda now: ber.enc_int(itf.octets(self.boot, now)[0] // 2_000_000_000 % U32,
                                                    c32))
        v.set(IF + (16, i), lambda now: ber.enc_int(itf.octets(self.boot, now)[1] % U32, c32))
        v.set(IF + (17, i), lambda now: ber.enc_int(itf.octets(self.boot, now)[1] // 500 % U32, c32))
        v.set(IF + (19, i), lambda now: ber.enc_int(itf.octets(self.boot, now)[1] // 500_000_000 % U32, c32))
        v.set(IF + (20, i), lambda now: ber.enc_int(0, c32))
        for col in (12, 15, 18):
            v.set(IF + (col, i), ber.enc_int(0, c32))
        v.set(IF + (21, i), _g32(0))
        if not itf.xtable:
            return  # a 32-bit-only walk (e.g. Topsec) stays 32-bit only
        v.set(IFX + (1, i), _str(itf.name))
        for col in (2, 3, 4, 5):
            v.set(IFX + (col, i), ber.enc_int(0, c32))
        if itf.hc:
            c64 = ber.COUNTER64
            v.set(IFX + (6, i), lambda now: ber.enc_int(itf.octets(self.boot, now)[0] % U64, c64))
            v.set(IFX + (7, i), lambda now: ber.enc_int(itf.octets(self.boot, now)[0] // 700, c64))
            v.set(IFX + (10, i), lambda now: ber.enc_int(itf.octets(self.boot, now)[1] % U64, c64))
            v.set(IFX + (11, i), lambda now: ber.enc_int(itf.octets(self.boot, now)[1] // 500, c64))
            for col in (8, 9, 12, 13):
                v.set(IFX + (col, i), ber.enc_int(0, c64))
        v.set(IFX + (14, i), _i(2))
        v.set(IFX + (15, i), _g32(round(itf.speed_bps / 1_000_000)))
        v.set(IFX + (16, i), _i(1))
        v.set(IFX + (17, i), _i(1))
        v.set(IFX + (18, i), _str(itf.alias))
        v.set(IFX + (19, i), ber.enc_int(0, ber.TIMETICKS))

    def _overlay_sdh(self, itf: SimInterface) -> None:
        """SONET-MIB rows of one STM-1 port: medium, section/line/path current and intervals.

        All layers come from the same :meth:`SdhState.counts`, so they agree: a LOS shows
        at the section, AIS downstream at line and path, RDI at the far end; SES turn into
        UAS after 10 s.  The section layer has no UAS in the MIB, so it keeps counting.
        """
        v, i, sdh = self.view, itf.index, itf.sdh
        assert sdh is not None

        def span(now: float, n: int) -> tuple[float, float]:
            cur = now - now % SDH_INTERVAL_S
            return (cur - n * SDH_INTERVAL_S, cur - (n - 1) * SDH_INTERVAL_S) if n else (cur, now)

        def layer(k: int, mult: int = 1, section: bool = False, n: int = 0):  # noqa: ANN202 - closure
            def fn(now: float) -> bytes:
                es, ses, uas, cv = sdh.counts(*span(now, n))
                if section:  # no UAS at the section layer: its seconds stay errored
                    es, ses = es + uas, ses + uas
                return _g32((es, ses, uas, cv * mult)[k])
            return fn

        def sefs(n: int = 0):  # noqa: ANN202 - closure
            return lambda now: _g32(sdh.los_seconds(*span(now, n)))

        def valid(n: int):  # noqa: ANN202 - closure
            return lambda now: _i(1 if span(now, n)[0] >= self.boot else 2)

        def held(now: float) -> bytes:
            done = int((now - now % SDH_INTERVAL_S - self.boot) // SDH_INTERVAL_S)
            return _i(max(0, min(SDH_INTERVALS, done)))

        def section_status(now: float) -> bytes:
            return _i(2 if sdh.los_since is not None else 1)

        def line_status(now: float) -> bytes:
            if sdh.los_since is not None:
                return _i(2)  # AIS downstream of our own LOS
            return _i(4 if sdh.far_los else 1)

        def path_status(now: float) -> bytes:
            if sdh.los_since is not None:
                return _i(4)
            return _i(8 if sdh.far_los else 1)

        m = SONET + (1, 1, 1, 1)
        v.set(m + (1, i), _i(2))
        v.set(m + (2, i), lambda now: _i(int(now % SDH_INTERVAL_S)))
        v.set(m + (3, i), held)
        v.set(m + (4, i), _i(4))
        v.set(m + (5, i), _i(2))
        v.set(m + (6, i), _str(sdh.circuit))
        v.set(m + (7, i), _i(0))
        sc, lc, pc = SONET + (1, 2, 1, 1), SONET + (1, 3, 1, 1), SONET + (2, 1, 1, 1)
        v.set(sc + (1, i), section_status)
        v.set(lc + (1, i), line_status)
        v.set(pc + (1, i), _i(2))
        v.set(pc + (2, i), path_status)
        ES, SES, UAS, CV = range(4)
        v.set(sc + (2, i), layer(ES, section=True))
        v.set(sc + (3, i), layer(SES, section=True))
        v.set(sc + (4, i), sefs())
        v.set(sc + (5, i), layer(CV, 3))
        for col, k, mult in ((2, ES, 1), (3, SES, 1), (4, CV, 2), (5, UAS, 1)):
            v.set(lc + (col, i), layer(k, mult))
            v.set(pc + (col + 1, i), layer(k))
        si, li, pi = SONET + (1, 2, 2, 1), SONET + (1, 3, 2, 1), SONET + (2, 1, 2, 1)
        for n in range(1, SDH_INTERVALS + 1):
            v.set(si + (2, i, n), layer(ES, section=True, n=n))
            v.set(si + (3, i, n), layer(SES, section=True, n=n))
            v.set(si + (4, i, n), sefs(n))
            v.set(si + (5, i, n), layer(CV, 3, n=n))
            v.set(si + (6, i, n), valid(n))
            for col, k, mult in ((2, ES, 1), (3, SES, 1), (4, CV, 2), (5, UAS, 1)):
                v.set(li + (col, i, n), layer(k, mult, n=n))
                v.set(pi + (col, i, n), layer(k, n=n))
            v.set(li + (6, i, n), valid(n))
            v.set(pi + (6, i, n), valid(n))

    def _build_tunnels(self, inv: Inventory) -> None:
        v = self.view
        t = CIPHER + (2, 1)
        for col in range(1, 9):
            v.hide(t + (col, 1))
        algo = v.base.value(t + (8, 1)) or _str("SM4-CBC/SM3")
        for n, peer in enumerate(self._peers, 1):
            pdev = inv.devices.get(peer)
            addr = pdev.address if pdev is not None else "0.0.0.0"
            try:
                raw = bytes(int(p) for p in addr.split("."))
            except ValueError:
                raw = b"\x00\x00\x00\x00"
            tun = SimTunnel(index=n, peer=peer, peer_address=addr,
                            peak=self.rng.uniform(60_000, 600_000), established=self.boot)
            self.tunnels[peer] = tun
            ip = ber.tlv(ber.IP_ADDRESS, raw if len(raw) == 4 else b"\0\0\0\0")
            row = {
                1: _i(n), 2: ip, 3: _str(peer), 4: _i(1),
                5: lambda now, tun=tun: ber.enc_int(
                    int(tun.peak * tun.outage.active_integral(self.boot, now)), ber.COUNTER64),
                6: lambda now, tun=tun: ber.enc_int(
                    int(tun.peak * 0.8 * tun.outage.active_integral(self.boot, now)), ber.COUNTER64),
                7: lambda now, tun=tun: ber.enc_int(
                    int((now - max(tun.established, self.boot)) * 100) % U32, ber.TIMETICKS),
                8: algo,
            }
            for col, value in row.items():
                v.set(t + (col, n), _while_up(tun, value))
        v.set(CIPHER + (1, 3, 0), _g32(len(self.tunnels)))
        v.set(CIPHER + (1, 4, 0), lambda now: _g32(sum(not x.outage.down for x in self.tunnels.values())))

    def _sessions_fn(self, share: float, tag: int = ber.COUNTER64):  # noqa: ANN202 - closure factory
        def fn(now: float) -> bytes:
            wobble = 1.0 + 0.05 * ((int(now // 60) * 2654435761) % 1000 / 1000.0 - 0.5)
            return ber.enc_int(int(self.session_peak * traffic.level(now) * wobble * share), tag)
        return fn

    @staticmethod
    def _cpu_fn(tag: int, recorded: int):  # noqa: ANN205 - closure factory
        """The recorded load at mid-day level, lower at night, never above 100."""
        def fn(now: float) -> bytes:
            return ber.enc_int(max(1, min(100, round(recorded * (0.4 + traffic.level(now))))), tag)
        return fn

    def _uptime(self, now: float) -> bytes:
        return ber.enc_int(int((now - self.boot) * 100) % U32, ber.TIMETICKS)

    # ----- faults ---------------------------------------------------------------
    def interface(self, name: str) -> SimInterface:
        try:
            return self.interfaces[name]
        except KeyError:
            raise KeyError(f"{self.name}: no interface {name!r} (has {', '.join(self.interfaces)})") from None

    def reboot(self, now: float) -> None:
        """Counters and sysUpTime start again from zero; faults stay as they are."""
        self.boot = now
        self.engine_boots += 1
        for itf in self.interfaces.values():
            itf.outage.reset(now)
        for tun in self.tunnels.values():
            tun.outage.reset(now)
            tun.established = now

    def set_los(self, name: str, on: bool, now: float) -> None:
        itf = self.interface(name)
        if itf.sdh is None:
            raise ValueError(f"{self.name} {name}: not an SDH interface")
        sdh = itf.sdh
        if on and sdh.los_since is None:
            sdh.los_since = now
            itf.outage.add("los", now)
        elif not on and sdh.los_since is not None:
            sdh.los_periods.append((sdh.los_since, now))
            sdh.los_since = None
            itf.outage.remove("los", now)
        sdh.prune(now, (SDH_INTERVALS + 1) * SDH_INTERVAL_S)

    def status(self, now: float) -> dict:
        return {
            "name": self.name, "address": self.address, "down": self.down, "slow_s": self.slow_s,
            "wan_delay_ms": round(self.wan_delay * 1000, 1), "uptime_s": round(now - self.boot, 1),
            "interfaces_down": sorted(n for n, i in self.interfaces.items() if i.outage.down),
            "sdh_los": sorted(n for n, i in self.interfaces.items() if i.sdh and i.sdh.los_since is not None),
            "tunnels_down": sorted(p for p, t in self.tunnels.items() if t.outage.down),
            "discrepancies": sorted(self.discrepancies),
        }
