"""Fetch one portal page with httpx: every hop checked, time and size bounded.

A portal must not be able to hold the agent: the whole fetch (all redirects, the body)
runs under one deadline, so a slow-loris server costs at most ``total_s``; the body is
read in chunks and cut at ``max_bytes``; redirects are followed by hand, at most
``max_redirects``, so each hop's target passes the loopback guard and each hop's TLS is
seen.  A certificate that fails verification is recorded, then the page is fetched
again without verification so that its content is still checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import ssl
import time
import zlib
from dataclasses import dataclass, field

import httpx

from probes.common.netguard import TargetNotAllowed, check_target
from probes.portals import tlsinfo

USER_AGENT = "nms-portal-check/1 (+government portal monitoring)"
# Black-hat SEO on hacked sites shows its spam only to search engines' crawlers
CRAWLER_AGENT = "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)"


class _Unresolved(Exception):
    """The host's name does not resolve."""


@dataclass(frozen=True)
class Limits:
    total_s: float = 15.0
    max_bytes: int = 5 * 1024 * 1024
    max_redirects: int = 8
    ca_file: str | None = None


@dataclass
class Fetched:
    url: str
    final_url: str = ""
    status: int | None = None
    hops: list[dict] = field(default_factory=list)
    timings_ms: dict = field(default_factory=dict)
    tls: dict | None = None
    body: bytes | bytearray = b""
    truncated: bool = False
    content_type: str = ""
    error: str | None = None


@functools.cache
def _contexts(ca_file: str | None) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """Verifying and non-verifying contexts, made once: loading the trust store costs ~50 ms."""
    strict = ssl.create_default_context(cafile=ca_file)
    loose = ssl.create_default_context(cafile=ca_file)
    loose.check_hostname = False
    loose.verify_mode = ssl.CERT_NONE
    return strict, loose


class _Trace:
    """Collects httpcore's trace events (connect, TLS, response headers) as monotonic times."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}

    async def __call__(self, name: str, info: dict) -> None:
        self.at.setdefault(name, time.perf_counter())

    def span(self, what: str) -> float:
        a, b = self.at.get(f"{what}.started"), self.at.get(f"{what}.complete")
        return (b - a) * 1000 if a is not None and b is not None else 0.0


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def _verify_error(exc: BaseException) -> str | None:
    while exc is not None:
        if isinstance(exc, ssl.SSLCertVerificationError):
            return exc.verify_message or str(exc)
        exc = exc.__cause__ or exc.__context__
    return None


def _peer_cert(response: httpx.Response) -> bytes | None:
    stream = response.extensions.get("network_stream")
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    return ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None


async def fetch(url: str, limits: Limits | None = None, user_agent: str = USER_AGENT) -> Fetched:
    """Fetch ``url``; never raises for what the site does: ``error`` says what went wrong."""
    limits = limits or Limits()
    out = Fetched(url=url, final_url=url)
    _contexts(limits.ca_file)  # the trust store loads once, outside the timings
    start = time.perf_counter()
    try:
        async with asyncio.timeout(limits.total_s):
            await _fetch(out, limits, start, user_agent)
    except TimeoutError:
        got = f", {len(out.body)} bytes of body read" if out.status is not None else ", no response headers"
        out.error = f"no complete response within {limits.total_s:g} s{got}"
    except httpx.HTTPError as exc:
        out.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    except (TargetNotAllowed, _Unresolved) as exc:
        out.error = str(exc)
    out.timings_ms["total"] = (time.perf_counter() - start) * 1000
    out.timings_ms = {k: round(v, 1) for k, v in out.timings_ms.items()}
    out.body = bytes(out.body)
    return out


async def _fetch(out: Fetched, limits: Limits, start: float, user_agent: str) -> None:
    strict, loose = _contexts(limits.ca_file)
    # only the encodings _read_body can inflate in bounded steps
    headers = {"User-Agent": user_agent, "Accept": "text/html,*/*;q=0.5", "Accept-Encoding": "gzip, deflate"}
    timings = out.timings_ms
    for k in ("dns", "connect", "tls", "first_byte"):
        timings[k] = 0.0
    async with contextlib.AsyncExitStack() as stack:
        client = await stack.enter_async_context(
            httpx.AsyncClient(verify=strict, headers=headers, trust_env=False)
        )

        async def unverified() -> httpx.AsyncClient:
            """Made only when a certificate fails verification: most checks never need it."""
            return await stack.enter_async_context(
                httpx.AsyncClient(verify=loose, headers=headers, trust_env=False)
            )

        request = client.build_request("GET", out.url)
        for _hop in range(limits.max_redirects + 1):
            out.final_url = str(request.url)  # set first: a refused hop is still where it led
            host = request.url.host
            if not _is_ip(host):
                t0 = time.perf_counter()
                try:
                    await asyncio.get_running_loop().getaddrinfo(host, request.url.port or 443)
                except OSError as exc:
                    raise _Unresolved(f"{host}: cannot resolve ({exc})") from None
                timings["dns"] += (time.perf_counter() - t0) * 1000
                await asyncio.to_thread(check_target, host)  # resolves again, blocking: off the loop
            else:
                check_target(host)
            response, trace = await _send(out, client, unverified, request)
            try:
                timings["connect"] += trace.span("connection.connect_tcp")
                timings["tls"] += trace.span("connection.start_tls")
                # server time to first byte: request sent -> response headers in (the last hop's)
                sent = trace.at.get("http11.send_request_headers.started", start)
                got = trace.at.get("http11.receive_response_headers.complete", time.perf_counter())
                timings["first_byte"] = (got - sent) * 1000
                out.status = response.status_code
                out.hops.append({"url": str(request.url), "status": response.status_code})
                if response.next_request is None:
                    out.content_type = response.headers.get("content-type", "")
                    await _read_body(out, response, limits.max_bytes)
                    return
                request = response.next_request
            finally:
                await response.aclose()
        out.error = f"more than {limits.max_redirects} redirects (last to {request.url})"


async def _send(out: Fetched, client, unverified, request) -> tuple[httpx.Response, _Trace]:
    trace = _Trace()
    request.extensions["trace"] = trace
    try:
        response = await client.send(request, stream=True)
        tls_error = None
    except httpx.ConnectError as exc:
        tls_error = _verify_error(exc)
        if tls_error is None:
            raise
        trace = _Trace()
        request.extensions["trace"] = trace
        response = await (await unverified()).send(request, stream=True)
    der = _peer_cert(response)
    if der is not None and (out.tls is None or tls_error):
        facts = tlsinfo.describe(der, request.url.host)
        out.tls = {"valid": tls_error is None, "error": tls_error, **facts}
    return response, trace


async def _read_body(out: Fetched, response: httpx.Response, max_bytes: int) -> None:
    """Read at most ``max_bytes`` of the decoded body; a gzip bomb inflates no further."""
    encoding = response.headers.get("content-encoding", "").strip().lower()
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS if "gzip" in encoding else zlib.MAX_WBITS)
    buf = out.body = bytearray()
    async for raw in response.aiter_raw():
        if encoding in ("gzip", "x-gzip", "deflate"):
            try:
                chunk = inflate.decompress(raw, max_bytes - len(buf) + 1)
            except zlib.error as exc:
                raise httpx.DecodingError(f"bad {encoding} body: {exc}") from None
            if inflate.unconsumed_tail:
                chunk += b"x"  # more is waiting: the page is larger than the limit
        else:
            chunk = raw
        room = max_bytes - len(buf)
        buf += chunk[:room]
        if len(chunk) > room:
            out.truncated = True
            return
