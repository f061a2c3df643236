"""nms/balancer.py: real haproxy on loopback in front of two real HTTP servers."""

from __future__ import annotations

import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from nms.balancer import Balancer, BalancerError, haproxy_binary, haproxy_config
from tests.support.ports import free_port
from tests.support.processes import Centre, wait_for, write_inventory


class _Handler(BaseHTTPRequestHandler):
    """Answers with the server's name and the X-Forwarded-For it was given."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path == "/stream":
            return self._stream()
        body = f"{self.server.name} {self.headers.get('X-Forwarded-For')}".encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _stream(self) -> None:
        """Server-Sent Events: one event now, the next a moment later (as the wall's stream)."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        for n in (1, 2):
            self.wfile.write(f"data: {n}\n\n".encode())
            self.wfile.flush()
            time.sleep(0.5)

    def log_message(self, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # haproxy resets its health-check connections once it has the status line


class Backend:
    """A tiny HTTP server in a thread; stop() closes its port (connections are refused)."""

    def __init__(self, name: str, port: int = 0) -> None:
        self.server = _Server(("127.0.0.1", port), _Handler)
        self.server.name = name  # type: ignore[attr-defined]
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def _get(url: str) -> str:
    """One request on a connection of its own (haproxy balances connections' requests)."""
    with urllib.request.urlopen(url + "/x", timeout=5) as resp:
        return resp.read().decode()


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Balancer, Backend, Backend]]:
    try:
        haproxy_binary()
    except BalancerError as e:
        pytest.skip(str(e))
    a, b = Backend("a"), Backend("b")
    balancer = Balancer(tmp_path / "lb", free_port(), [("127.0.0.1", a.port), ("127.0.0.1", b.port)])
    balancer.start()
    try:
        wait_for(lambda: set(balancer.states().values()) == {"UP"}, 5, "both backends UP", every=0.05)
        yield balancer, a, b
    finally:
        balancer.stop()
        for backend in (a, b):
            if backend.thread.is_alive():
                backend.stop()


def test_round_robin_and_forwarded_for(pair: tuple[Balancer, Backend, Backend]) -> None:
    balancer, a, b = pair
    assert balancer.states() == {f"127.0.0.1:{a.port}": "UP", f"127.0.0.1:{b.port}": "UP"}
    names = [_get(balancer.url).split()[0] for _ in range(10)]
    assert all(x != y for x, y in zip(names, names[1:], strict=False)), names  # they alternate
    assert sorted(set(names)) == ["a", "b"]
    # The client's own X-Forwarded-For is replaced by its real address.
    req = urllib.request.Request(balancer.url + "/x", headers={"X-Forwarded-For": "203.0.113.9"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.read().decode().split()[1] == "127.0.0.1"


def test_events_stream_through_unbuffered(pair: tuple[Balancer, Backend, Backend]) -> None:
    balancer, _, _ = pair
    req = urllib.request.Request(balancer.url + "/stream", headers={"Accept": "text/event-stream"})
    started = time.monotonic()
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.headers["Content-Type"] == "text/event-stream"
        assert resp.readline() == b"data: 1\n"
        first = time.monotonic() - started
        assert resp.read() == b"\ndata: 2\n\n"
    assert first < 0.4, f"the first event waited {first:.2f}s: the balancer buffered the stream"


def test_dead_backend_is_taken_out_and_back(pair: tuple[Balancer, Backend, Backend]) -> None:
    balancer, a, b = pair
    b.stop()
    stopped = time.monotonic()
    failures, answers = 0, []
    while balancer.states()[f"127.0.0.1:{b.port}"] != "DOWN":
        assert time.monotonic() - stopped < 3, f"b not marked DOWN within 3 s: {balancer.log_tail()}"
        try:  # before detection a refused connection is re-dispatched to a
            answers.append(_get(balancer.url).split()[0])
        except urllib.error.URLError:
            failures += 1
        time.sleep(0.05)
    detected = time.monotonic() - stopped
    after = [_get(balancer.url).split()[0] for _ in range(20)]  # raises if any fails
    assert after == ["a"] * 20
    assert failures == 0 and set(answers) <= {"a"}, (failures, answers)
    assert detected < 3

    revived = Backend("b2", b.port)  # back on the same port: in the rotation after one good check
    try:
        wait_for(lambda: balancer.states()[f"127.0.0.1:{b.port}"] == "UP", 3, "b back UP", every=0.05)
        assert {_get(balancer.url).split()[0] for _ in range(6)} == {"a", "b2"}
    finally:
        revived.stop()


def test_config_needs_a_backend() -> None:
    with pytest.raises(ValueError, match="at least one backend"):
        haproxy_config(8080, [])
    text = haproxy_config(8080, [("127.0.0.1", 8081)], behind_proxy=True)
    assert "option forwardfor" not in text and "server centre1 127.0.0.1:8081" in text


def test_two_real_centres_one_killed(tmp_path: Path) -> None:
    """The health check fits ``nms serve`` as it is, and a kill -9 costs no request."""
    try:
        haproxy_binary()
    except BalancerError as e:
        pytest.skip(str(e))
    inventory = write_inventory(tmp_path / "inventory.yaml", roles=("firewall",))
    centres = []
    for name in ("c1", "c2"):
        (tmp_path / name).mkdir()
        centres.append(Centre(tmp_path / name, inventory))
    balancer = Balancer(tmp_path / "lb", free_port(), [("127.0.0.1", c.port) for c in centres])
    try:
        for centre in centres:
            centre.start()
        balancer.start()
        wait_for(lambda: set(balancer.states().values()) == {"UP"}, 10, "both centres UP", every=0.05)
        centres[1].proc.send_signal(signal.SIGKILL)
        centres[1].proc.wait()
        killed = f"127.0.0.1:{centres[1].port}"

        def answered() -> bool:
            with urllib.request.urlopen(balancer.url + "/login", timeout=5) as resp:
                assert resp.status == 200
            return balancer.states()[killed] == "DOWN"

        wait_for(answered, 3, "the killed centre marked DOWN", every=0.05)  # every request answered
        for _ in range(10):
            answered()
    finally:
        balancer.stop()
        for centre in centres:
            centre.stop()
