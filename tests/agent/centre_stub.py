"""A real HTTP server on loopback speaking the ingest contract, for agent tests.

Modes: ``store`` (behave like the centre: store each (agent, seq) once), ``fail``
(answer ``fail_status``, e.g. 500), ``forward`` (pass requests on to a real centre).
Used alone for push/spool tests and in front of the real centre as the "answers 500
for a while, then forwards" server.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class CentreStub:
    def __init__(
        self,
        token: str = "nms_test",
        mode: str = "store",
        fail_status: int = 500,
        forward_to: str | None = None,
    ) -> None:
        self.token = token
        self.mode = mode
        self.fail_status = fail_status
        self.forward_to = forward_to
        self.poison_device: str | None = None  # store mode: refuse samples of this device (422)
        self.max_skew_s: float | None = None  # store mode: refuse samples ahead as the centre does
        self.duplicate = False  # forward mode: send every request twice (as if an ack was lost)
        self.answers: list[dict[str, Any]] = []  # forward mode: the centre's answers
        self.batches: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self.arrivals: list[int] = []  # seq of every request, in arrival order (incl. repeats)
        self.requests = 0
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer = stub.handle(self.path, dict(self.headers), body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.requests += 1
            mode = self.mode
        if mode == "fail":
            return self.fail_status, {"error": "stub failing on purpose"}
        if mode == "forward":
            status, answer = self._forward(path, headers, body)
            if self.duplicate and status == 200:
                status, answer = self._forward(path, headers, body)
            return status, answer
        if path != "/api/v1/ingest":
            return 404, {"error": "no such path"}
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"error": "bad token"}
        try:
            batch = json.loads(body)
            key = (str(batch["agent"]), int(batch["seq"]))
            samples = list(batch["samples"])
        except (ValueError, KeyError, TypeError) as exc:
            return 400, {"error": f"body: {exc}"}
        for i, sample in enumerate(samples):
            if self.poison_device is not None and sample.get("device") == self.poison_device:
                return 422, {"error": f"samples[{i}].interfaces[0].name: 'GE0/0/1' appears twice"}
        if self.max_skew_s is not None:
            from nms.pipeline import BatchError, check_skew

            try:
                check_skew(samples, time.time(), self.max_skew_s)
            except BatchError as exc:
                return exc.status, {"error": exc.message, **exc.extra}
        with self.lock:
            self.arrivals.append(key[1])
            if key in self.batches:
                return 200, {"accepted": 0, "duplicate": True}
            self.batches[key] = samples
        return 200, {"accepted": len(samples), "duplicate": False}

    def _forward(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        assert self.forward_to is not None
        req = urllib.request.Request(
            self.forward_to.rstrip("/") + path,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": headers.get("Authorization", "")},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, answer = resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            status, answer = exc.code, {"error": exc.read().decode("utf-8", "replace")}
        except OSError as exc:
            status, answer = 502, {"error": f"centre unreachable: {exc}"}
        with self.lock:
            self.answers.append(dict(answer, status=status))
        return status, answer

    def samples(self) -> list[dict[str, Any]]:
        """Every stored sample, ordered by (seq, position in batch)."""
        with self.lock:
            return [s for key in sorted(self.batches) for s in self.batches[key]]

    def set_mode(self, mode: str) -> None:
        with self.lock:
            self.mode = mode

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
