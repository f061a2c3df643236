"""Control endpoint of a running simulator: HTTP+JSON on 127.0.0.1, and its client.

``GET /status``, ``GET /wan`` (the WAN forwarders: agent -> URL, cut off or not) and
``POST /fault`` (``{"action": "if-down", "args": [dev, if], "es": 0, "ses": 0}``).  Bound
to loopback only; anyone who can reach it can break the simulated network, which is its
purpose.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from probes.common.netguard import TargetNotAllowed, check_target
from probes.sim.errors import SimError

if TYPE_CHECKING:  # the province starts these; they only take it as an argument
    from probes.sim.province import SimulatedProvince


class ControlError(RuntimeError):
    """The control endpoint refused a request or could not be reached."""


async def serve_control(province: SimulatedProvince, port: int = 0) -> asyncio.base_events.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            length = 0
            for line in lines[1:]:
                if line.lower().startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            body = await reader.readexactly(length) if length else b""
            code, reply = _dispatch(province, method, path, body)
        except (TimeoutError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            code, reply = 400, {"error": "malformed HTTP request"}
        data = json.dumps(reply).encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}.get(code, "Error")
        writer.write(f"HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data)
        try:
            await writer.drain()
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", port)


def _dispatch(province: SimulatedProvince, method: str, path: str, body: bytes) -> tuple[int, dict]:
    if method == "GET" and path == "/status":
        return 200, province.status()
    if method == "GET" and path == "/wan":
        wan = province.wan
        return 200, wan.status() if wan is not None else {"centre": None, "agents": {}}
    if method == "POST" and path == "/fault":
        try:
            req = json.loads(body or b"{}")
            if not isinstance(req, dict) or not isinstance(req.get("action"), str):
                return 400, {"error": "body: expected {\"action\": str, \"args\": [str]}"}
            args = req.get("args") or []
            if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
                return 400, {"error": "args: expected a list of strings"}
            return 200, province.fault(req["action"], *args, es=int(req.get("es", 0)),
                                       ses=int(req.get("ses", 0)))
        except SimError as exc:
            return 400, {"error": str(exc)}
        except (ValueError, TypeError) as exc:
            return 400, {"error": f"body: {exc}"}
    return 404, {"error": f"no such endpoint {method} {path}"}


def _call(url: str, path: str, payload: dict | None = None, timeout: float = 10.0) -> dict:
    try:
        check_target(urlsplit(url).hostname or "")
    except TargetNotAllowed as exc:
        raise ControlError(str(exc)) from None
    data = json.dumps(payload).encode() if payload is not None else None
    req = urllib.request.Request(url.rstrip("/") + path, data=data, method="POST" if data else "GET",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback URL
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        try:
            msg = json.loads(exc.read()).get("error", str(exc))
        except ValueError:
            msg = str(exc)
        raise ControlError(msg) from None
    except (urllib.error.URLError, OSError) as exc:
        raise ControlError(f"cannot reach the simulator control at {url}: {exc}") from None


def send_fault(url: str, action: str, *args: str, es: int = 0, ses: int = 0) -> dict:
    return _call(url, "/fault", {"action": action, "args": list(args), "es": es, "ses": ses})


def get_status(url: str) -> dict:
    return _call(url, "/status")


def get_wan(url: str) -> dict:
    return _call(url, "/wan")
