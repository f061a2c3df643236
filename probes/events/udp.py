"""A UDP listener that drains its socket on each wake-up.

asyncio's datagram transport reads one datagram per event-loop wake-up; during a trap
storm or syslog flood that costs an epoll round per packet.  This reader takes up to
``BATCH`` datagrams per wake-up and asks the kernel for a large receive buffer, so a
burst is absorbed instead of dropped.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

BATCH = 512
RCVBUF = 8 << 20  # capped by net.core.rmem_max

#: handler(data, source_ip) -> reply to send back to the sender, or None
Handler = Callable[[bytes, str], bytes | None]


class UdpListener:
    """Calls ``handler`` for each datagram on ``host:port``; ``close()`` stops it."""

    def __init__(self, handler: Handler, host: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
            self.sock.bind((host, port))
            self.sock.setblocking(False)
        except OSError:
            self.sock.close()
            raise
        self.handler = handler
        self.loop = asyncio.get_running_loop()
        self.loop.add_reader(self.sock.fileno(), self._drain)

    def _drain(self) -> None:
        recv, handler, sock = self.sock.recvfrom, self.handler, self.sock
        for _ in range(BATCH):
            try:
                data, addr = recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. ICMP port unreachable reported on the socket
                continue
            reply = handler(data, addr[0])
            if reply is not None:
                try:
                    sock.sendto(reply, addr)
                except OSError:
                    pass  # the sender retries an unanswered inform

    def close(self) -> None:
        if self.sock.fileno() >= 0:
            self.loop.remove_reader(self.sock.fileno())
            self.sock.close()
