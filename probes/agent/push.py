"""Getting spooled batches to the centre: one HTTP POST per batch, two lanes.

The live lane sends each new batch at once while the centre answers; the replay lane
walks the spool oldest first (after an outage, a restart or a failed live send), so
fresh results keep flowing while a backlog drains.  2xx deletes the batch; network
errors, 5xx, 408, 429 (and 401, a token problem) leave it spooled and back off; any
other 4xx is a permanent rejection of that batch and moves it to the dead-letter table.

Over HTTPS the centre's certificate is verified against ``--ca-file`` (or the system's
CAs); a refused certificate (expired, for another name, from an unknown CA) is a retry
named as such, like a 401 from the proxy about the agent's client certificate
(deploy/nginx/nms.conf).
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from probes.agent.logs import log
from probes.agent.spool import Batch, Spool
from probes.common.netguard import is_loopback

INGEST_PATH = "/api/v1/ingest"
# 408/429: try later.  401: the centre does not accept the agent's *token* (revoked,
# rotated, centre database restored): every batch would be refused alike, so moving them
# to the dead-letter table would throw away an outage's worth of data for a fixable
# credential problem; keep them spooled (bounded) and log loudly instead.
RETRYABLE_4XX = (401, 408, 429)


@dataclass(frozen=True)
class Outcome:
    kind: Literal["ok", "retry", "reject"]
    status: int | None
    detail: str
    duplicate: bool = False
    message: str = ""  # the centre's "error" field, naming the bad field
    samples: tuple[int, ...] = ()  # samples the centre refused for clock skew (all of them at once)
    tls: str = ""  # a TLS problem needing an operator (certificate refused), for the log


def tls_context(
    ca_file: str | None, cert_file: str | None = None, key_file: str | None = None
) -> ssl.SSLContext:
    """Verifying context (hostname checked, TLS 1.2+) with the agent's client certificate if given.

    Raises ``ValueError`` naming the file that cannot be used, at start rather than at each send.
    """
    if key_file and not cert_file:
        raise ValueError("--key-file needs --cert-file")
    try:
        ctx = ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"--ca-file {ca_file}: {exc}") from None
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert_file:
        try:
            ctx.load_cert_chain(cert_file, key_file)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"--cert-file {cert_file} / --key-file {key_file}: {exc}") from None
    return ctx


def centre_opener(
    url: str, ca_file: str | None, cert_file: str | None = None, key_file: str | None = None
) -> urllib.request.OpenerDirector:
    """An opener for the centre at ``url``: verified TLS (:func:`tls_context`) over https, and
    no proxy from the environment for a centre on loopback.  ``ValueError`` names a bad option."""
    https = url.startswith("https:")
    if not https and (ca_file or cert_file):
        raise ValueError("--ca-file/--cert-file need an https:// --centre")
    ctx = tls_context(ca_file, cert_file, key_file) if https else None
    host = urllib.parse.urlsplit(url).hostname or ""
    proxies = urllib.request.ProxyHandler({} if is_loopback(host) else None)
    return urllib.request.build_opener(proxies, urllib.request.HTTPSHandler(context=ctx))


def tls_problem(reason: object) -> str:
    """What is wrong with the TLS handshake, in words an operator can act on ("" if not TLS)."""
    if isinstance(reason, ssl.SSLCertVerificationError):
        what = reason.verify_message or str(reason)
        if reason.verify_code in (2, 18, 19, 20, 21):  # unknown issuer, self-signed, unverifiable
            what += " (the centre's certificate is not signed by a CA in --ca-file)"
        return f"centre certificate refused: {what}"
    if isinstance(reason, ssl.SSLError):
        return f"TLS handshake failed: {reason.reason or reason}"
    return ""


def bad_sample(message: str) -> int | None:
    """Index ``i`` when the centre's message names ``samples[i]`` as the bad field."""
    m = re.match(r"samples\[(\d+)\]", message)
    return int(m.group(1)) if m else None


class Sender:
    """POSTs a batch body to the centre's ingest URL with the agent's bearer token."""

    def __init__(
        self,
        centre: str,
        token: str,
        timeout: float = 10.0,
        ca_file: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
    ) -> None:
        self.url = centre.rstrip("/") + INGEST_PATH
        self._token = token
        self.timeout = timeout
        self._opener = centre_opener(self.url, ca_file, cert_file, key_file)

    def __repr__(self) -> str:  # the token never appears in a repr or a log
        return f"Sender(url={self.url!r})"

    def send(self, body: bytes) -> Outcome:
        """Blocking POST; classifies the answer, never raises for network or HTTP errors."""
        req = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {self._token}",
                "User-Agent": "nms-agent/0.1",
            },
        )
        try:
            with self._opener.open(req, timeout=self.timeout) as resp:
                status, text = resp.status, resp.read(65536).decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read(2000).decode("utf-8", "replace")
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            if problem := tls_problem(reason):
                return Outcome("retry", None, problem, tls=problem)
            return Outcome("retry", None, f"unreachable: {reason}")
        if 200 <= status < 300:
            try:
                duplicate = bool(json.loads(text).get("duplicate", False))
            except (ValueError, AttributeError):
                duplicate = False
            return Outcome("ok", status, "", duplicate)
        detail = f"HTTP {status}: {text.strip()[:300]}"
        try:
            answer = json.loads(text)
            message = str(answer.get("error") or "")
            ahead = tuple((answer.get("clock_skew") or {}).get("samples") or ())
        except (ValueError, AttributeError, TypeError):
            message, ahead = "", ()
        if status >= 500 or status in RETRYABLE_4XX or status < 400:
            # the proxy's word on this agent's client certificate needs an operator, like a bad server cert
            tls = message if status == 401 and message.startswith("client certificate") else ""
            return Outcome("retry", status, detail, tls=tls)
        return Outcome("reject", status, detail, message=message, samples=ahead)


@dataclass
class PushStats:
    """What the metrics collector shows about pushing (updated on the event loop)."""

    last_success_ts: float = 0.0
    last_error: str = ""
    sent_ok: int = 0
    duplicates: int = 0
    retries: int = 0
    rejected: int = 0
    healthy: bool = False


class Forwarder:
    """Runs the live and replay lanes over one spool and one sender."""

    def __init__(
        self,
        spool: Spool,
        sender: Sender,
        backoff_min: float = 1.0,
        backoff_max: float = 60.0,
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> None:
        self.spool = spool
        self.sender = sender
        self.backoff_min = backoff_min
        self.backoff_max = backoff_max
        self.stats = PushStats()
        self._on_outcome = on_outcome
        self._live: asyncio.Queue[int] = asyncio.Queue()
        self._live_waiting: set[int] = set()
        self._inflight: set[int] = set()
        self._wake = asyncio.Event()
        self._nudged = asyncio.Event()
        self._stopping = False
        self._tls_logged = ""

    def submit(self, batch: Batch) -> None:
        """A batch was just sealed (and committed): try it on the live lane."""
        self._live_waiting.add(batch.seq)
        self._live.put_nowait(batch.seq)

    async def _send(self, batch: Batch, lane: str) -> Outcome:
        self._inflight.add(batch.seq)
        try:
            outcome = await asyncio.to_thread(self.sender.send, batch.body)
            if outcome.kind == "ok":
                self.spool.ack(batch.seq)
                self.stats.last_success_ts = time.time()
                self.stats.sent_ok += 1
                self.stats.duplicates += int(outcome.duplicate)
                if not self.stats.healthy:
                    log("info", "centre reachable", lane=lane, seq=batch.seq)
                self.stats.healthy = True
                self._tls_logged = ""
                self._wake.set()
            elif outcome.kind == "reject":
                index = outcome.samples or bad_sample(outcome.message)
                devices = self.spool.dead_letter(batch.seq, outcome.status, outcome.detail, index)
                self.stats.rejected += 1
                n_bad = len(outcome.samples) if outcome.samples else 1 if index is not None else batch.samples
                log(
                    "error",
                    "rejected by the centre (clock skew: fix this host's clock, then run with"
                    " --requeue-dead-letters), moved to dead letter"
                    if outcome.samples
                    else "rejected by the centre, moved to dead letter",
                    seq=batch.seq,
                    what="whole batch" if n_bad >= batch.samples else f"{n_bad} sample(s)",
                    devices=devices,
                    status=outcome.status,
                    detail=outcome.detail,
                )
                self._wake.set()  # the rest of a batch (if any) is queued again
            else:
                self.spool.note_failure(batch.seq, outcome.detail)
                self.stats.retries += 1
                self.stats.last_error = outcome.detail
                if outcome.tls and outcome.tls != self._tls_logged:  # needs an operator: say it each change
                    log(
                        "error",
                        "TLS problem, spooling",
                        lane=lane,
                        seq=batch.seq,
                        problem=outcome.tls,
                        url=self.sender.url,
                    )
                self._tls_logged = outcome.tls
                if self.stats.healthy:
                    log(
                        "warning",
                        "centre unreachable, spooling",
                        lane=lane,
                        seq=batch.seq,
                        status=outcome.status,
                        detail=outcome.detail,
                    )
                self.stats.healthy = False
            if self._on_outcome:
                self._on_outcome(outcome)
            return outcome
        finally:
            self._inflight.discard(batch.seq)

    def nudge(self) -> None:
        """Try the centre again now rather than after the backoff (a link just came back up)."""
        self._nudged.set()

    async def live_lane(self) -> None:
        while True:
            seq = await self._live.get()
            self._live_waiting.discard(seq)
            if not self.stats.healthy or seq in self._inflight:
                self._wake.set()  # leave it to the replay lane
                continue
            batch = self.spool.get(seq)
            if batch is not None:
                await self._send(batch, "live")

    async def replay_lane(self) -> None:
        delay = self.backoff_min
        while True:
            batches = self.spool.next_batches(exclude=self._inflight | self._live_waiting)
            if not batches:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self.backoff_max)
                except TimeoutError:
                    pass
                continue
            outcome = await self._send(batches[0], "replay")
            if outcome.kind == "retry":
                self._nudged.clear()
                try:  # back off, unless something says the way may be open again
                    await asyncio.wait_for(self._nudged.wait(), timeout=delay)
                    delay = self.backoff_min
                except TimeoutError:
                    delay = min(delay * 2, self.backoff_max)
            else:
                delay = self.backoff_min

    async def flush(self, deadline_s: float) -> int:
        """On shutdown: try to send everything spooled until ``deadline_s``; returns batches left."""
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            batches = self.spool.next_batches(exclude=self._inflight)
            if not batches:
                break
            outcome = await self._send(batches[0], "flush")
            if outcome.kind == "retry":
                break
        return self.spool.stats().batches
