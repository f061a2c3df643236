"""Real HTTP and HTTPS servers on loopback for the portal tests, and a CA made at test time.

``Site`` serves whatever the test puts in ``routes``: a path maps to a ``Reply`` (status,
headers, body) or to a callable that writes the reply itself (endless redirects, a
50 MB body streamed in chunks, a slow-loris drip).
"""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from probes.sim.portal_ca import DemoCA


@dataclass
class Reply:
    body: bytes | str = b""
    status: int = 200
    headers: dict = field(default_factory=lambda: {"Content-Type": "text/html; charset=utf-8"})
    delay: float = 0.0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet test output
        pass

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        route = self.server.routes.get(self.path.split("?")[0])
        if route is None:
            route = Reply("not found", 404)
        if callable(route):
            try:
                route(self)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
                pass
            return
        time.sleep(route.delay)
        body = route.body.encode() if isinstance(route.body, str) else route.body
        self.send_response(route.status)
        for k, v in route.headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # the checker hangs up on purpose (size limit, deadline): not an error here


class Site:
    """One server on 127.0.0.1, plain or TLS; ``url(path)`` addresses it."""

    def __init__(self, context: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> None:
        self.server = _Server((host, 0), _Handler)
        self.server.routes = {}
        if context is not None:
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if context else "http"
        self.port = self.server.server_address[1]
        self.routes = self.server.routes
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class CA(DemoCA):
    """A certificate authority made now, and server certificates it (or nobody) signs."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory, "Portal Test CA")

    def server_context(
        self,
        name: str,
        *,
        days: float = 90,
        names: tuple[str, ...] = ("127.0.0.1", "localhost"),
        self_signed: bool = False,
    ) -> ssl.SSLContext:
        """A server context whose certificate ends ``days`` from now (negative: expired)."""
        return self.context(name, names, days=days, self_signed=self_signed)


# Replies that misbehave --------------------------------------------------------------


def endless_redirect(handler: BaseHTTPRequestHandler) -> None:
    n = int(handler.path.rsplit("=", 1)[1]) if "=" in handler.path else 0
    handler.send_response(302)
    handler.send_header("Location", f"{handler.path.split('?')[0]}?n={n + 1}")
    handler.send_header("Content-Length", "0")
    handler.end_headers()


def huge(size: int):
    """A page of ``size`` bytes, streamed in 64 KB chunks (the server never holds it)."""

    def reply(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Content-Length", str(size))
        handler.end_headers()
        chunk = b"<p>" + b"x" * (65536 - 7) + b"</p>\n"
        sent = 0
        while sent < size:
            part = chunk[: size - sent]
            handler.wfile.write(part)
            sent += len(part)

    return reply


def slow_loris(seconds: float):
    """Headers at once, then one byte every 0.2 s for ``seconds``."""

    def reply(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Content-Length", "100000")
        handler.end_headers()
        handler.wfile.flush()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            handler.wfile.write(b"<")
            handler.wfile.flush()
            time.sleep(0.2)

    return reply
