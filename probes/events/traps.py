"""The SNMP notification receiver: v1/v2c traps and informs, v3 traps and informs (USM).

For v3 informs this receiver is the authoritative engine (RFC 3414 section 3.2): it
answers discovery with its engine ID, boots and time through the same
:class:`~probes.snmp.usm.UsmEngine` the simulator serves requests with.  For v3 traps the
sender is authoritative, so the user's keys are localised to the sender's engine ID on
first sight (cached) and the sender's clock is learnt to refuse replays.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from probes.events.notification import (
    CommunityMessage,
    Notification,
    decode_pdu,
    response_pdu,
    split_message,
)
from probes.events.udp import UdpListener
from probes.snmp import ber
from probes.snmp.credential import Credential
from probes.snmp.usm import (
    FLAG_AUTH,
    FLAG_PRIV,
    FLAG_REPORTABLE,
    TIME_WINDOW_S,
    UsmEngine,
    UsmUser,
    open_scoped,
    parse_v3,
)

log = logging.getLogger(__name__)
#: RFC 3411 engine ID, enterprise 8072 (net-snmp's arc) in text format: "nms-events"
DEFAULT_ENGINE_ID = bytes.fromhex("80001f8804") + b"nms-events"
MAX_ENGINES = 10_000  # sender engines whose clock is remembered
INFORM_MEMORY_S = 120.0  # informs remembered this long to drop retransmissions
MAX_INFORMS = 20_000

Handler = Callable[[Notification, str, bytes], None]


@dataclass
class _Clock:
    boots: int
    etime: int
    seen: float  # local monotonic time when learnt


@dataclass
class TrapReceiver:
    """Decode notifications and hand each to ``handler(notification, source_ip, raw)`` once.

    ``communities``: the accepted v1/v2c communities; ``users``: the v3 credentials.
    Every refusal is counted in ``stats`` (bad_ber, bad_community, unknown_user,
    wrong_digest, not_in_time_window, decryption_error, unsupported_level, ...).
    """

    handler: Handler
    communities: Iterable[str] = ()
    users: Iterable[Credential] = ()
    engine_id: bytes = DEFAULT_ENGINE_ID
    stats: Counter = field(default_factory=Counter)
    admit: Callable[[str], bool] = lambda _source: True  # flood control hook, before decoding
    boots: int = 1  # snmpEngineBoots: must grow with every start (see next_boots)

    def __post_init__(self) -> None:
        self._communities = {c.encode() for c in self.communities}
        self._creds = {c.user.encode(): c for c in self.users if c.version == "v3"}
        self._start = time.monotonic()
        self._engine = UsmEngine(self.engine_id, lambda: self.boots, self._uptime,
                                 [UsmUser.create(c, self.engine_id) for c in self._creds.values()])
        self._keys: dict[tuple[bytes, bytes], UsmUser] = {}
        self._clocks: dict[bytes, _Clock] = {}
        self._informs: dict[tuple[str, bytes, bytes], float] = {}

    def _uptime(self) -> int:
        return int(time.monotonic() - self._start)

    def set_credentials(self, communities: Iterable[str], users: Iterable[Credential]) -> None:
        """New accepted communities and v3 users (the agent's devices changed); the engine's
        identity, boots and time stay, so senders need not discover it again."""
        self.communities, self.users = list(communities), list(users)
        self._communities = {c.encode() for c in self.communities}
        self._creds = {c.user.encode(): c for c in self.users if c.version == "v3"}
        self._engine = UsmEngine(self.engine_id, lambda: self.boots, self._uptime,
                                 [UsmUser.create(c, self.engine_id) for c in self._creds.values()])
        self._keys.clear()

    def receive(self, data: bytes, source: str) -> bytes | None:
        """Process one datagram; the reply to send back (inform Response, Report) or None."""
        self.stats["packets"] += 1
        if not self.admit(source):
            self.stats["held"] += 1
            return None
        try:
            msg = split_message(data)
            if msg is None:
                return self._v3(data, source)
            return self._community(msg, data, source)
        except (ber.BerError, IndexError, ValueError, OverflowError) as exc:
            self.stats["bad_ber"] += 1
            log.debug("trap from %s: undecodable: %s", source, exc)
            return None

    def _deliver(self, note: Notification, source: str, raw: bytes) -> None:
        self.stats["notifications"] += 1
        self.handler(note, source, raw)

    def _community(self, msg: CommunityMessage, data: bytes, source: str) -> bytes | None:
        if msg.community not in self._communities:
            self.stats["bad_community"] += 1
            return None
        note = decode_pdu(msg.pdu, msg.version)
        note.community = msg.community
        if note.version == "v1" and msg.version != "v1":
            raise ber.BerError("v1 Trap-PDU in a v2c message")
        if note.inform:
            if not self._repeated(source, msg.community, msg.pdu):
                self._deliver(note, source, data)
            return data[:msg.pdu_at] + response_pdu(msg.pdu)
        self._deliver(note, source, data)
        return None

    def _repeated(self, source: str, who: bytes, pdu: bytes) -> bool:
        """Whether this inform (same sender, request-id and varbinds) was already delivered:
        a sender whose Response got lost sends it again, and it must count once."""
        now = time.monotonic()
        seen = self._informs
        while seen:
            oldest = next(iter(seen))
            if seen[oldest] > now - INFORM_MEMORY_S and len(seen) < MAX_INFORMS:
                break
            del seen[oldest]
        key = (source, who, pdu)
        if key in seen:
            self.stats["inform_repeat"] += 1
            return True
        seen[key] = now
        return False

    def _v3(self, data: bytes, source: str) -> bytes | None:
        m = parse_v3(data)
        if m is None:
            raise ber.BerError("not a USM message")
        if m.flags & FLAG_REPORTABLE or not m.engine_id or m.engine_id == self.engine_id:
            return self._v3_ours(data, source)
        # a trap: the sender is authoritative; its engine ID localises the keys
        level = m.flags & (FLAG_AUTH | FLAG_PRIV)
        cred = self._creds.get(m.user_name)
        if cred is None:
            self.stats["unknown_user"] += 1
            return None
        user = self._user(cred, m.engine_id)
        if level != user.level:
            self.stats["unsupported_level"] += 1
            return None
        if level & FLAG_AUTH:
            if not user.verify(m):
                self.stats["wrong_digest"] += 1
                return None
            if not self._in_window(m.engine_id, m.boots, m.etime):
                self.stats["not_in_time_window"] += 1
                return None
        try:
            _, pdu = open_scoped(m, user if level & FLAG_PRIV else None)
            note = decode_pdu(pdu, "v3")
        except ber.BerError:
            self.stats["decryption_error" if level & FLAG_PRIV else "bad_ber"] += 1
            return None
        if note.inform:  # an inform must use our engine ID; the sender discovers it
            self.stats["inform_wrong_engine"] += 1
            return None
        note.user = m.user_name
        self._deliver(note, source, data)
        return None

    def _v3_ours(self, data: bytes, source: str) -> bytes | None:
        """Discovery and informs (and traps sent to our engine ID): the USM engine answers."""
        m = parse_v3(data)
        user_name = b"v3:" + (m.user_name if m else b"")
        before = dict(self._engine.stats)
        delivered: list[Notification] = []

        def on_pdu(pdu: bytes, _max: int) -> bytes | None:
            note = decode_pdu(pdu, "v3")
            if not note.inform or not self._repeated(source, user_name, pdu):
                delivered.append(note)
            return response_pdu(pdu) if note.inform else None

        reply = self._engine.handle(data, on_pdu)
        for which, n in self._engine.stats.items():
            if n != before.get(which):
                self.stats[_REPORT_NAMES[which]] += 1
        for note in delivered:
            note.user = user_name[3:]
            self._deliver(note, source, data)
        return reply

    def _user(self, cred: Credential, engine_id: bytes) -> UsmUser:
        key = (cred.user.encode(), engine_id)
        user = self._keys.get(key)
        if user is None:
            if len(self._keys) >= MAX_ENGINES:
                self._keys.clear()
            user = self._keys[key] = UsmUser.create(cred, engine_id)
        return user

    def _in_window(self, engine_id: bytes, boots: int, etime: int) -> bool:
        """RFC 3414 3.2.7 b for a non-authoritative receiver: learn the sender's clock,
        refuse messages from an earlier boot or older than the window."""
        now = time.monotonic()
        clock = self._clocks.get(engine_id)
        if clock is None or boots > clock.boots:
            if len(self._clocks) >= MAX_ENGINES:
                self._clocks.clear()
            self._clocks[engine_id] = _Clock(boots, etime, now)
            return True
        if boots < clock.boots:
            return False
        expected = clock.etime + (now - clock.seen)
        if etime < expected - TIME_WINDOW_S:
            return False
        if etime > expected:
            self._clocks[engine_id] = _Clock(boots, etime, now)
        return True


_REPORT_NAMES = {1: "unsupported_level", 2: "not_in_time_window", 3: "unknown_user",
                 4: "discovery", 5: "wrong_digest", 6: "decryption_error"}


def next_boots(path: Path) -> int:
    """Read, increment and store snmpEngineBoots (RFC 3414 2.2.2): a sender that cached our
    clock must see a new boot after a restart, not a clock that went backwards."""
    try:
        boots = int(path.read_text(encoding="ascii").strip() or 0) + 1
    except FileNotFoundError:
        boots = 1
    except ValueError as exc:
        raise ValueError(f"{path}: not an engine boots counter: {exc}") from None
    boots = min(boots, 2**31 - 1)  # RFC 3414: stays at the maximum
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{boots}\n", encoding="ascii")
    tmp.replace(path)
    return boots


async def serve_traps(receiver: TrapReceiver, host: str, port: int) -> UdpListener:
    """Listen on ``host:port`` (UDP); ``close()`` the result to stop."""
    return UdpListener(receiver.receive, host, port)

