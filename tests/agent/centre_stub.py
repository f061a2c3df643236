"""A real HTTP server on loopback speaking the ingest contract, for agent tests.

Modes: ``store`` (behave like the centre: store each (agent, epoch, seq) once), ``fail``
(answer ``fail_status``, e.g. 500), ``forward`` (pass requests on to a real centre).
``GET /api/v1/agents/<name>/config`` answers ``config`` (body bytes) as told by
``config_mode``: ``ok`` (with its ETag, 304 for it), ``truncate`` (the connection closes
half-way through the announced length), ``as-is`` (the body and ETag given, e.g. corrupt);
``clock_offset_s`` puts the stub's ``Date`` that far from the real time.
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
        self.batches: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
        self.arrivals: list[int] = []  # seq of every request, in arrival order (incl. repeats)
        self.requests = 0
        self.config: bytes | None = None
        self.config_etag: str | None = None  # as-is mode: the ETag sent (None: the body's)
        self.config_mode = "ok"
        self.config_asks: list[int] = []  # status of every config answer
        self.clock_offset_s = 0.0
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def date_time_string(self, timestamp: float | None = None) -> str:
                return super().date_time_string(time.time() + stub.clock_offset_s)

            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                stub.answer_config(self)

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
            key = (str(batch["agent"]), str(batch.get("epoch", "")), int(batch["seq"]))
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
            self.arrivals.append(key[2])
            if key in self.batches:
                return 200, {"accepted": 0, "duplicate": True}
            self.batches[key] = samples
        return 200, {"accepted": len(samples), "duplicate": False}

    def answer_config(self, h: BaseHTTPRequestHandler) -> None:
        import hashlib

        body = self.config
        if body is None or not h.path.endswith("/config"):
            status, body, etag = 404, b'{"error": "no config"}', None
        else:
            etag = self.config_etag if self.config_mode == "as-is" else None
            etag = etag or hashlib.sha256(body).hexdigest()
            if h.headers.get("Authorization") != f"Bearer {self.token}":
                status, body = 401, b'{"error": "bad token"}'
            elif h.headers.get("If-None-Match", "").strip('"') == etag and self.config_mode == "ok":
                status, body = 304, b""
            else:
                status = 200
        with self.lock:
            self.config_asks.append(status)
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        if etag:
            h.send_header("ETag", f'"{etag}"')
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if self.config_mode == "truncate" and status == 200:
            h.wfile.write(body[: len(body) // 2])
            h.close_connection = True
        else:
            h.wfile.write(body)

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
