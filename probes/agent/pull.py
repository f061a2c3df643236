"""The agent's assignment from the centre (``GET /api/v1/agents/<name>/config``), kept on disk.

Every ``--config-interval`` (a minute) the agent asks again with ``If-None-Match``: 304
while nothing changed.  A new answer is validated whole (:func:`probes.common.assignment.decode`:
pydantic, and the body must hash to its ``ETag``); only then is it written, atomically and
mode 0600, as the last good copy next to the spool, and applied.  A corrupt or truncated
answer is refused and the last good copy kept; while the centre is unreachable (a cut city)
the agent runs from that copy, also across restarts.

Each answer's ``Date`` tells how far the agent's clock is from the centre's
(:attr:`Puller.skew_s`); the agent logs minutes apart, exports the gauge and stamps its
samples with the centre's time meanwhile (:meth:`Puller.offset_s`).
"""

from __future__ import annotations

import asyncio
import http.client
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Literal

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from probes.agent.logs import log
from probes.agent.push import centre_opener, tls_problem
from probes.common.assignment import Assignment, AssignmentError, decode, etag_of

CONFIG_PATH = "/api/v1/agents/{}/config"
CLOCK_HEADER = "X-Agent-Time"  # our clock, for the centre's log (nms.agentconfig)
MAX_BODY = 32 * 1024 * 1024
# Samples are restamped with the centre's time from this far apart (Date has whole seconds).
CORRECT_FROM_S = 10.0
# Minutes apart are an operator's problem (NTP): logged as a warning.
WARN_FROM_S = 60.0


@dataclass(frozen=True)
class Pulled:
    """One ask: ``new`` (validated, saved), ``same`` (304), ``refused`` (bad answer) or ``failed``."""

    kind: Literal["new", "same", "refused", "failed"]
    assignment: Assignment | None = None
    detail: str = ""


class Puller:
    """Fetches, validates and keeps the agent's assignment; counts outcomes for ``/metrics``."""

    def __init__(
        self,
        centre: str,
        agent: str,
        token: str,
        cache_path: Path,
        timeout: float = 10.0,
        ca_file: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
    ) -> None:
        self.agent = agent
        self.url = centre.rstrip("/") + CONFIG_PATH.format(urllib.parse.quote(agent, safe=""))
        self._token = token
        self.timeout = timeout
        self.cache_path = cache_path
        self._opener = centre_opener(self.url, ca_file, cert_file, key_file)
        self.etag: str | None = None  # of the assignment in use
        self.skew_s: float | None = None  # centre's clock minus ours, from the last answer's Date
        self._centre_ref: tuple[float, float] | None = None  # (centre's time, our monotonic) then
        self.counts = {k: 0 for k in ("new", "same", "refused", "failed")}
        self.applied_ts: float | None = None

    def __repr__(self) -> str:  # the token never appears in a repr or a log
        return f"Puller(url={self.url!r})"

    # -- the copy on disk ------------------------------------------------------------
    def cached(self) -> tuple[Assignment | None, str]:
        """The last good copy (None and why when there is none or it is unusable)."""
        try:
            body = self.cache_path.read_bytes()
        except FileNotFoundError:
            return None, "no copy on disk yet"
        except OSError as exc:
            return None, f"{self.cache_path}: cannot read: {exc.strerror or exc}"
        try:
            assignment = decode(body, self.agent)
        except AssignmentError as exc:
            return None, f"{self.cache_path}: {exc}"
        self.etag = etag_of(body)
        return assignment, ""

    def _save(self, body: bytes) -> None:
        """Atomically: a crash leaves the old copy or the new one, never half of one."""
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.cache_path.with_name(self.cache_path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.cache_path)

    # -- asking the centre ----------------------------------------------------------
    def fetch(self) -> Pulled:
        """Blocking GET; never raises for network, HTTP or content problems."""
        pulled = self._fetch()
        self.counts[pulled.kind] += 1
        return pulled

    def _fetch(self) -> Pulled:
        headers = {
            "Authorization": f"Bearer {self._token}",
            "User-Agent": "nms-agent/0.1",
            "Accept": "application/json",
            CLOCK_HEADER: f"{time.time():.3f}",
        }
        if self.etag:
            headers["If-None-Match"] = f'"{self.etag}"'
        req = urllib.request.Request(self.url, headers=headers)
        sent = (time.time(), time.monotonic())
        try:
            with self._opener.open(req, timeout=self.timeout) as resp:
                self._clock(resp.headers.get("Date"), sent)
                etag = resp.headers.get("ETag")
                if int(resp.headers.get("Content-Length") or 0) > MAX_BODY:
                    return Pulled("refused", detail=f"larger than {MAX_BODY} bytes")
                body = resp.read()
        except urllib.error.HTTPError as exc:
            self._clock(exc.headers.get("Date") if exc.headers else None, sent)
            if exc.code == 304:
                return Pulled("same")
            text = exc.read(2000).decode("utf-8", "replace").strip()
            return Pulled("failed", detail=f"HTTP {exc.code}: {text[:300]}")
        except http.client.IncompleteRead as exc:
            return Pulled("refused", detail=f"truncated: {len(exc.partial)} bytes of a longer answer")
        except (urllib.error.URLError, OSError, TimeoutError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            return Pulled("failed", detail=tls_problem(reason) or f"unreachable: {reason}")
        if not etag:
            return Pulled("refused", detail="no ETag: cannot tell a whole answer from a cut one")
        try:
            assignment = decode(body, self.agent, etag)
        except AssignmentError as exc:
            return Pulled("refused", detail=str(exc))
        new = etag_of(body)
        if new == self.etag:
            return Pulled("same")
        try:
            self._save(body)
        except OSError as exc:  # run with it anyway; the next change tries to save again
            detail = f"cannot save {self.cache_path}: {exc.strerror or exc}"
        else:
            detail = ""
        self.etag = new
        self.applied_ts = time.time()
        return Pulled("new", assignment, detail)

    def _clock(self, date: str | None, sent: tuple[float, float]) -> None:
        """Skew from the answer's ``Date`` (whole seconds, so its middle), against the request's middle."""
        if not date:
            return
        try:
            centre = parsedate_to_datetime(date).timestamp() + 0.5
        except (TypeError, ValueError):
            return
        self.skew_s = centre - (sent[0] + time.time()) / 2
        self._centre_ref = (centre, (sent[1] + time.monotonic()) / 2)

    def offset_s(self) -> float:
        """What to add to our clock now to stamp a sample in the centre's time (0 while close enough).

        The centre's time is carried forward on the monotonic clock from the last answer, so
        when our wall clock jumps (NTP fixed at last) the offset follows at once instead of
        stamping samples minutes into the future until the next answer.
        """
        if self._centre_ref is None:
            return 0.0
        centre, mono = self._centre_ref
        offset = centre + (time.monotonic() - mono) - time.time()
        return offset if abs(offset) >= CORRECT_FROM_S else 0.0


class ConfigLane:
    """The agent's side of it: the copy on disk at start, then the centre every ``interval``.

    Logs what an operator needs, once per change of state: a refused answer, the centre
    unreachable (running from the last good copy), back again, the clock minutes apart.
    """

    def __init__(self, puller: Puller, interval: float) -> None:
        self.puller = puller
        self.interval = interval
        self.have: Assignment | None = None
        self.reachable = True
        self.skew_logged: float | None = None  # minutes last logged
        self._wanted = asyncio.Event()

    def wake(self) -> None:
        """Ask the centre now (SIGHUP)."""
        self._wanted.set()

    async def first(self) -> Assignment | None:
        """The newest good assignment there is at start: the centre's, else the copy on disk."""
        cached, why = self.puller.cached()
        if cached is None and why != "no copy on disk yet":
            log("error", "last good copy unusable", error=why)
        self.have = cached
        new = await self.ask()
        if new is None and cached is not None:
            log(
                "info",
                "running from the last good copy",
                path=str(self.puller.cache_path),
                devices=len(cached.devices),
                etag=self.puller.etag,
            )
        return new if new is not None else cached

    async def run(self, take: Callable[[Assignment], None]) -> None:
        """For ever: wait, ask, hand a new assignment to ``take``.  With nothing assigned yet
        (first start, centre not up) ask sooner: after 1, 2, 4, ... seconds."""
        backoff = 1.0
        while True:
            wait = self.interval if self.have is not None else backoff
            backoff = min(backoff * 2, self.interval)
            try:
                await asyncio.wait_for(self._wanted.wait(), wait)
            except TimeoutError:
                pass
            self._wanted.clear()
            if (new := await self.ask()) is not None:
                take(new)

    async def ask(self) -> Assignment | None:
        """Ask the centre once; a new, valid assignment or None (logged as needed)."""
        pulled = await asyncio.to_thread(self.puller.fetch)
        self._clock()
        if pulled.kind == "new" and pulled.assignment is not None:
            if pulled.detail:
                log("warning", "configuration not saved", error=pulled.detail)
            self.reachable, self.have = True, pulled.assignment
            log("info", "configuration received", devices=len(self.have.devices), etag=self.puller.etag)
            return self.have
        if pulled.kind == "same":
            if not self.reachable:
                log("info", "configuration from the centre again", etag=self.puller.etag)
            self.reachable = True
        elif pulled.kind == "refused":
            log(
                "error",
                "configuration from the centre refused, keeping the last good copy",
                error=pulled.detail,
                etag=self.puller.etag,
            )
        elif self.reachable:  # once per outage, not every minute
            self.reachable = False
            meanwhile = "running from the last good copy" if self.have is not None else "nothing to poll yet"
            log("warning", f"centre unreachable for configuration, {meanwhile}", error=pulled.detail)
        return None

    def _clock(self) -> None:
        """Minutes apart are logged when they first appear or change (not every minute)."""
        skew = self.puller.skew_s
        if skew is None:
            return
        minutes = round(skew / 60, 1)
        if abs(skew) < WARN_FROM_S:
            if self.skew_logged is not None:
                log("info", "clock in step with the centre's again", seconds=round(skew, 1))
            self.skew_logged = None
        elif self.skew_logged is None or abs(minutes - self.skew_logged) >= 1:
            self.skew_logged = minutes
            side = "behind" if skew > 0 else "ahead of"
            log(
                "warning",
                "clock skew",
                minutes=minutes,
                detail=f"this agent's clock is {abs(minutes)} minutes {side} the centre's; "
                "samples are stamped in the centre's time",
            )


class PullCollector(Collector):
    """``/metrics``: the clock skew, the configuration's age and the outcomes of asking for it."""

    def __init__(self, puller: Puller) -> None:
        self.puller = puller

    def collect(self) -> Iterator[Metric]:
        p = self.puller
        if p.skew_s is not None:
            skew = GaugeMetricFamily(
                "nms_agent_clock_skew_seconds",
                "The centre's clock minus the agent's, from the last configuration answer's Date.",
            )
            skew.add_metric([], round(p.skew_s, 3))
            yield skew
        if p.applied_ts is not None:
            ts = GaugeMetricFamily(
                "nms_agent_config_applied_timestamp_seconds", "When a new configuration was last applied."
            )
            ts.add_metric([], p.applied_ts)
            yield ts
        asks = CounterMetricFamily(
            "nms_agent_config_requests",
            "Configuration requests to the centre, by outcome.",
            labels=["outcome"],
        )
        for outcome, n in p.counts.items():
            asks.add_metric([outcome], float(n))
        yield asks
