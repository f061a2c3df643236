"""Syslog off the wire: RFC 3164 and RFC 5424 messages, UDP datagrams and TCP streams
with octet-counting or newline framing (RFC 6587).

Chinese devices often send GBK/GB2312 instead of UTF-8: text that is not valid UTF-8 is
decoded as GB18030 (a superset of both) when it is valid there, else UTF-8 with
replacement characters and counted; the raw bytes are always kept.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from probes.events.udp import UdpListener

log = logging.getLogger(__name__)
MAX_MESSAGE = 1 << 20  # 1 MiB: longer lines are counted and dropped, never buffered
_BOM = "\ufeff"
_PRI = re.compile(rb"<(\d{1,3})>")
_RFC3164_HEAD = re.compile(
    r"(?P<ts>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d+)?(?: \d{4})?) (?:(?P<host>[^\s:\[]+) )?"
)
_TAG = re.compile(r"(?P<tag>[^\s:\[]{1,48})(?:\[(?P<pid>[^\]]*)\])?: ?")
SEVERITY_NAMES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")


@dataclass(slots=True)
class SyslogMessage:
    """One parsed message; ``text`` is the MSG part, decoded (see ``charset``)."""

    facility: int
    severity: int  # 0 emerg .. 7 debug
    text: str
    raw: bytes
    format: str  # "rfc5424", "rfc3164" or "bare" (no PRI)
    hostname: str = ""
    app: str = ""
    timestamp: str = ""
    charset: str = "utf-8"  # utf-8, gb18030, or "invalid" (decoded with replacement)


def decode_text(data: bytes) -> tuple[str, str]:
    """(text, charset): UTF-8 when valid, else GB18030 (GBK/GB2312), else "invalid"."""
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace"), "invalid"


def parse(raw: bytes) -> SyslogMessage:
    """Parse one message (no framing left); ValueError for an empty or bad-PRI message."""
    data = raw.rstrip(b"\r\n\x00")
    if not data:
        raise ValueError("empty message")
    m = _PRI.match(data)
    if m is None:
        text, cs = decode_text(data)
        return SyslogMessage(1, 5, text, raw, "bare", charset=cs)  # RFC 3164 4.3.3: user.notice
    pri = int(m.group(1))
    if pri > 191 or (len(m.group(1)) > 1 and m.group(1)[0] == 0x30):
        raise ValueError(f"bad PRI <{m.group(1).decode()}>")
    rest = data[m.end():]
    if rest[:2] == b"1 ":
        return _rfc5424(pri, rest[2:], raw)
    text, cs = decode_text(rest)
    msg = SyslogMessage(pri >> 3, pri & 7, text, raw, "rfc3164", charset=cs)
    h = _RFC3164_HEAD.match(text)
    if h:
        msg.timestamp, msg.hostname = h.group("ts"), h.group("host") or ""
        text = text[h.end():]
    t = _TAG.match(text)
    if t:
        msg.app, text = t.group("tag"), text[t.end():]
    msg.text = text
    return msg


def _rfc5424(pri: int, rest: bytes, raw: bytes) -> SyslogMessage:
    parts = rest.split(b" ", 5)  # TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD+MSG
    if len(parts) < 6:
        raise ValueError("RFC 5424 header has fewer than 6 fields")
    ts, host, app, _pid, _msgid, tail = parts
    body = _skip_sd(tail)
    text, cs = decode_text(body)
    if text.startswith(_BOM):
        text = text[1:]
    nil = {"-"}
    return SyslogMessage(pri >> 3, pri & 7, text, raw, "rfc5424",
                         "" if host.decode(errors="replace") in nil else host.decode(errors="replace"),
                         "" if app == b"-" else app.decode(errors="replace"),
                         "" if ts == b"-" else ts.decode(errors="replace"), cs)


def _skip_sd(tail: bytes) -> bytes:
    """The MSG after STRUCTURED-DATA ("-" or [id param="..."]... with escaped quotes)."""
    if tail[:1] == b"-":
        return tail[2:]
    i, n = 0, len(tail)
    while i < n and tail[i:i + 1] == b"[":
        quoted = False
        i += 1
        while i < n:
            c = tail[i]
            if c == 0x5C and quoted:  # backslash escapes inside a value
                i += 2
                continue
            if c == 0x22:
                quoted = not quoted
            elif c == 0x5D and not quoted:
                break
            i += 1
        i += 1
    if i > n:
        raise ValueError("unterminated STRUCTURED-DATA")
    return tail[i + 1:] if tail[i:i + 1] == b" " else tail[i:]


Handler = Callable[[SyslogMessage, str], None]


@dataclass
class SyslogReceiver:
    """Parse messages and hand each to ``handler(message, source_ip)``.

    ``stats`` counts messages, invalid (unparseable), oversize (> 1 MiB, dropped),
    invalid_charset (neither UTF-8 nor GB18030), gb18030, bad_frame.
    """

    handler: Handler
    stats: Counter = field(default_factory=Counter)
    admit: Callable[[str], bool] = lambda _source: True  # flood control hook, before parsing
    max_connections: int = 512  # TCP senders at once
    connections: int = 0

    def receive(self, raw: bytes, source: str) -> None:
        """Count, admit, parse and hand over one message (returns None: syslog has no replies)."""
        self.stats["messages"] += 1
        if len(raw) > MAX_MESSAGE:
            self.stats["oversize"] += 1
            return
        if not self.admit(source):
            self.stats["held"] += 1
            return
        try:
            msg = parse(raw)
        except ValueError as exc:
            self.stats["invalid"] += 1
            log.debug("syslog from %s: %s", source, exc)
            return
        if msg.charset != "utf-8":
            self.stats["invalid_charset" if msg.charset == "invalid" else msg.charset] += 1
        self.handler(msg, source)


class Framer:
    """RFC 6587 de-framing of one TCP stream: octet-counting ("LEN SP MSG") when a frame
    starts with a digit, else newline-terminated; never buffers more than 1 MiB."""

    def __init__(self, receiver: SyslogReceiver, source: str) -> None:
        self.receiver, self.source = receiver, source
        self.buf = bytearray()
        self.skip = 0  # bytes still to discard of an oversize frame
        self.skip_line = False  # discarding an oversize newline-framed line

    def feed(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        while buf:
            if self.skip:
                n = min(self.skip, len(buf))
                del buf[:n]
                self.skip -= n
                continue
            if self.skip_line:
                nl = buf.find(b"\n")
                if nl < 0:
                    buf.clear()
                    return
                del buf[:nl + 1]
                self.skip_line = False
                continue
            if 0x31 <= buf[0] <= 0x39:  # octet counting: MSG-LEN starts with a non-zero digit
                sp = buf.find(b" ", 0, 9)
                if sp < 0:
                    if (len(buf) >= 9 or not buf.isdigit()) and self._bad_frame():
                        continue
                    return
                if not buf[:sp].isdigit():
                    if self._bad_frame():
                        continue
                    return
                size = int(buf[:sp])
                if size > MAX_MESSAGE:
                    self.receiver.stats["messages"] += 1
                    self.receiver.stats["oversize"] += 1
                    del buf[:sp + 1]
                    self.skip = size
                    continue
                if len(buf) < sp + 1 + size:
                    return
                frame = bytes(buf[sp + 1:sp + 1 + size])
                del buf[:sp + 1 + size]
                self.receiver.receive(frame, self.source)
                continue
            nl = buf.find(b"\n")
            if nl < 0:
                if len(buf) > MAX_MESSAGE:
                    self.receiver.stats["messages"] += 1
                    self.receiver.stats["oversize"] += 1
                    buf.clear()
                    self.skip_line = True
                return
            frame = bytes(buf[:nl])
            del buf[:nl + 1]
            if frame.strip():
                self.receiver.receive(frame, self.source)

    def _bad_frame(self) -> bool:
        """A digit-led frame that is no length: taken as a newline-framed line once its
        newline arrives. False when it has to wait for more data."""
        nl = self.buf.find(b"\n")
        if nl < 0:
            if len(self.buf) <= MAX_MESSAGE:
                return False
            self.receiver.stats["bad_frame"] += 1
            self.buf.clear()
            self.skip_line = True
            return True
        self.receiver.stats["bad_frame"] += 1
        frame = bytes(self.buf[:nl])
        del self.buf[:nl + 1]
        self.receiver.receive(frame, self.source)
        return True

    def close(self) -> None:
        if self.buf and not self.skip and not self.skip_line and not self.buf[:1].isdigit():
            self.receiver.receive(bytes(self.buf), self.source)  # a last line without LF
        self.buf.clear()


class _Tcp(asyncio.Protocol):
    """One TCP sender; beyond ``max_connections`` at once a connection is closed at once
    (each may hold up to 1 MiB of an unfinished line)."""

    def __init__(self, receiver: SyslogReceiver) -> None:
        self.receiver = receiver
        self.framer: Framer | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        rx = self.receiver
        if rx.connections >= rx.max_connections:
            rx.stats["tcp_refused"] += 1
            transport.close()
            return
        rx.connections += 1
        peer = transport.get_extra_info("peername") or ("?",)
        self.framer = Framer(rx, peer[0])

    def data_received(self, data: bytes) -> None:
        if self.framer is not None:
            self.framer.feed(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.framer is not None:
            self.framer.close()
            self.framer = None
            self.receiver.connections -= 1


async def serve_syslog(receiver: SyslogReceiver, host: str, port: int) -> tuple[UdpListener, asyncio.Server]:
    """Listen on ``host:port`` over UDP and TCP; close both returned objects to stop."""
    udp = UdpListener(receiver.receive, host, port)
    tcp = await asyncio.get_running_loop().create_server(lambda: _Tcp(receiver), host, port)
    return udp, tcp
