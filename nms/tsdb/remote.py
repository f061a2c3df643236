"""The time series on a Prometheus-compatible engine: remote write in, PromQL out.

Selected by ``NMS_TSDB_URL`` (:func:`nms.timeseries.open_timeseries`); VictoriaMetrics is the
engine the docs run (docs/storage.md), Prometheus with ``--web.enable-remote-write-receiver``
works too, and only the standard HTTP API is used (``/api/v1/write``, ``/api/v1/query``,
``/api/v1/query_range``), so Mimir or Thanos could take their place.

Series: ``nms_device_<metric>`` and ``nms_interface_<metric>`` (counters end in ``_total``)
with labels ``device``, ``interface`` (absent for device metrics), ``site`` and ``network``
(from the inventory, when the store was given one).  Rollup levels are computed by the engine
at read time (``min/avg/max_over_time``).  VictoriaMetrics open source has one retention per
instance and no downsampling, so for the long range :meth:`RemoteWriteStore.rollup` keeps
hourly rollups on a second engine (``NMS_TSDB_LONG_URL``, a longer ``-retentionPeriod``):
closed hours' min/avg/max of every series, as ``<series>:1h_min`` ... with the same labels,
and ``nms_rollup_done_until`` (how far it got, so a restart resumes there).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from nms.store import (
    AGGS,
    Retention,
    RollupStats,
    Series,
    TimeSeriesUnavailable,
    is_counter,
    pick_level,
    resolve_level,
)
from nms.tsdb import remotewrite as rw

log = logging.getLogger(__name__)

MAX_SERIES_PER_REQUEST = 20_000
# Prometheus answers some refusals of a sample itself with 500 ("too old sample" in 2.42):
# these bodies mean "never", not "later", whatever the status.
SAMPLE_REFUSED = re.compile(r"too old|out of bounds|out of order|duplicate sample", re.IGNORECASE)
BUCKET_S = {"5m": 300, "1h": 3600}
H = 3600
OURS = '__name__=~"nms_(device|interface)_.+"'
DONE = "nms_rollup_done_until"  # on the long engine: end of the last hour rolled up, at that hour
ROLLUP_GRACE_S = 120  # an hour is closed this long after its end (late polls of its last minute)
LabelsOf = Callable[[str], tuple[tuple[str, str], ...]]


class TsdbUnavailable(TimeSeriesUnavailable):
    """The engine is down, timed out or answered 5xx/429: nothing of the write may be assumed stored."""


@dataclass(frozen=True)
class Refused:
    """One sample the engine refused for itself (too old, out of order): dead-lettered, not retried."""

    device: str
    interface: str
    metric: str
    ts: int
    value: float
    reason: str


def _no_labels(_device: str) -> tuple[tuple[str, str], ...]:
    return ()


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _selector(device: str, interface: str) -> str:
    return f"device={_quote(device)},interface={_quote(interface)}"


def prom_name(metric: str, interface: str) -> str:
    return rw.metric_name("interface" if interface else "device", metric, is_counter(metric))


def our_name(name: str) -> tuple[str, str] | None:
    """(kind, metric) of a series name written by this store, None for anything else."""
    for kind in ("device", "interface"):
        prefix = f"nms_{kind}_"
        if name.startswith(prefix):
            metric = name[len(prefix) :]
            return kind, metric[: -len("_total")] if metric.endswith("_total") else metric
    return None


class RemoteWriteStore:
    """:class:`nms.store.TimeSeriesStore` on an engine at ``url``; one instance per process (thread-safe)."""

    def __init__(
        self,
        url: str,
        *,
        labels_of: LabelsOf | None = None,
        max_age_s: float | None = None,
        timeout_s: float = 30.0,
        clock: Callable[[], float] = time.time,
        retention: Any = None,
        long_url: str = "",
        rollup_max_hours: int = 24,
        rollup_budget_s: float = 240.0,
    ) -> None:
        for var, u in (("NMS_TSDB_URL", url), ("NMS_TSDB_LONG_URL", long_url or url)):
            if not re.match(r"^https?://[^/\s]+", u):
                raise ValueError(f"{var}: {u!r} is not an http(s) URL such as http://127.0.0.1:8428")
        self.url = url.rstrip("/")
        # Hourly rollups on a second engine with a longer retention ('' = none: every level
        # from the raw samples, bounded by the engine's retention).
        self.long_url = long_url.rstrip("/")
        self.rollup_max_hours = rollup_max_hours
        self.rollup_budget_s = rollup_budget_s  # one call stops starting hours after this long
        self._done: int | None = None  # rollups exist for every hour before this (None: ask the engine)
        self._redo: set[int] = set()  # hours already rolled up that got late samples since
        self.labels_of = labels_of or _no_labels
        # Levels are picked as on SQLite (so charts look the same); the engine itself must keep
        # raw samples at least ``hour_s`` (its -retentionPeriod, docs/storage.md).
        self.retention = retention or Retention.from_env()
        # The raw engine keeps NMS_RETENTION_5M_D when the long range is on the second engine.
        raw_keep = self.retention.five_min_s if self.long_url else self.retention.hour_s
        self.max_age_s = max_age_s if max_age_s is not None else float(raw_keep)
        self.timeout_s = timeout_s
        self.clock = clock
        self._lock = threading.Lock()
        self._sources: dict[tuple, dict[str, bytes]] = {}  # (device, interface, extra) -> metric -> labels
        self._heads: dict[tuple, dict[str, bytes]] = {}  # the same -> metric -> rw.series_head(labels)
        self._key_of: dict[bytes, tuple] = {}  # label bytes -> (device, interface, metric, extra)
        self._pool = ThreadPoolExecutor(max_workers=6, thread_name_prefix="promql")

    # ---- write -------------------------------------------------------------------------
    def write(self, samples: Iterable[Any], refused: list[Refused] | None = None) -> int:
        """Remote-write every non-null value; returns how many the engine accepted.

        Raises :class:`TsdbUnavailable` when the engine cannot take the batch now (the caller
        must not acknowledge it).  Samples the engine refuses for themselves (older than its
        retention, out of order) are appended to ``refused`` (logged either way).

        The usual batch (every source's samples in time order) is encoded straight into the
        request body, one TimeSeries per value from cached bytes (:func:`rw.series_head`):
        three byte appends a value.  Anything else (a source's samples out of order, a
        timestamp outside 1971-2109) and a request the engine answers 4xx take
        :meth:`_write_grouped`, which groups and sorts by series and isolates refused samples.
        """
        samples = samples if isinstance(samples, list) else list(samples)
        now = self.clock()
        oldest = now - self.max_age_s
        closed = self._rolled_limit(now)
        too_old: list[Refused] = []
        chunks: list[tuple[bytearray, int, int, int]] = []  # (body, first sample, end, values)
        body, start, n = bytearray(), 0, 0
        posts: dict[int, bytes] = {}  # ts -> encoded timestamp field of a Sample
        last: dict[int, int] = {}  # id(a source's cache) -> its latest ts in this batch
        pack = rw.DOUBLE.pack
        heads_of = self._heads
        for i, s in enumerate(samples):
            ts, dev, itf = int(s.ts), s.device, s.interface
            if ts < oldest:
                too_old += self._too_old(s)
                continue
            post = posts.get(ts)
            if post is None:
                post = posts[ts] = rw.sample_suffix(ts * 1000)
                if len(post) != rw.SUFFIX_LEN:
                    return self._write_grouped(samples, refused)
                if ts < closed:
                    self._redo.add(ts // H * H)
            extra = self.labels_of(dev)
            heads = heads_of.get((dev, itf, extra))
            if heads is None:
                heads = self._source(dev, itf, extra)[1]
            if last.get(id(heads), ts) > ts:
                return self._write_grouped(samples, refused)
            last[id(heads)] = ts
            if n >= MAX_SERIES_PER_REQUEST:
                chunks.append((body, start, i, n))
                body, start, n = bytearray(), i, 0
            for metric, value in s.values.items():
                if value is not None:
                    head = heads.get(metric)
                    if head is None:
                        head = self._series(dev, itf, metric, extra)[1]
                    body += head
                    body += pack(value)
                    body += post
                    n += 1
        chunks.append((body, start, len(samples), n))
        self._refuse(too_old, refused)
        written = 0
        for body, i0, i1, n in chunks:
            if n == 0:
                continue
            status, _text = self._post(rw.compress(body))
            if status < 300:
                written += n
            else:  # a refused sample in there: find it the slow way (re-sending the rest is harmless)
                written += self._write_grouped([s for s in samples[i0:i1] if int(s.ts) >= oldest], refused)
        return written

    def _too_old(self, s: Any) -> list[Refused]:
        reason = f"older than the store's retention ({self.max_age_s / 86400:g} d)"
        return [
            Refused(s.device, s.interface, m, int(s.ts), float(v), reason)
            for m, v in s.values.items()
            if v is not None
        ]

    def _write_grouped(self, samples: list[Any], refused: list[Refused] | None) -> int:
        """:meth:`write` by series: each series' samples sorted by time in one TimeSeries."""
        units: dict[bytes, list[bytes]] = {}  # series (its label bytes) -> its encoded Sample fields
        now = self.clock()
        oldest = now - self.max_age_s
        closed = self._rolled_limit(now)
        too_old: list[Refused] = []
        stamps: dict[int, tuple[bytes, bytes]] = {}  # ts -> encoded Sample prefix and suffix
        pack = rw.DOUBLE.pack
        sources = self._sources
        for s in samples:
            ts, dev, itf = int(s.ts), s.device, s.interface
            if ts < oldest:
                too_old += self._too_old(s)
                continue
            extra = self.labels_of(dev)
            labs = sources.get((dev, itf, extra))
            if labs is None:
                labs = self._source(dev, itf, extra)[0]
            pre_post = stamps.get(ts)
            if pre_post is None:
                pre_post = stamps[ts] = rw.sample_parts(ts * 1000)
                if ts < closed:
                    self._redo.add(ts // H * H)
            pre, post = pre_post
            for metric, value in s.values.items():
                if value is not None:
                    lab = labs.get(metric)
                    if lab is None:
                        lab = self._series(dev, itf, metric, extra)[0]
                    encoded = pre + pack(float(value)) + post
                    unit = units.get(lab)
                    if unit is None:
                        units[lab] = [encoded]
                    else:
                        unit.append(encoded)
        batch = []
        key_of = self._key_of
        for lab, sbs in units.items():
            if len(sbs) > 1:
                sbs.sort(key=lambda b: rw.decode_sample(b)[0])
            batch.append((key_of[lab], lab, sbs))
        self._refuse(too_old, refused)
        written = 0
        for i in range(0, len(batch), MAX_SERIES_PER_REQUEST):
            written += self._send(batch[i : i + MAX_SERIES_PER_REQUEST], refused)
        return written

    def _source(self, device: str, interface: str, extra: tuple) -> tuple[dict[str, bytes], dict[str, bytes]]:
        """A source's label bytes and series heads by metric (kept per process; a few hundred MB at most)."""
        key = (device, interface, extra)
        with self._lock:
            if len(self._sources) >= 2_000_000:  # devices renamed over months: start afresh
                self._sources.clear()
                self._heads.clear()
                self._key_of.clear()
            return self._sources.setdefault(key, {}), self._heads.setdefault(key, {})

    def _series(self, device: str, interface: str, metric: str, extra: tuple) -> tuple[bytes, bytes]:
        """Encode a series' labels (and its TimeSeries head) the first time it is seen."""
        key = (device, interface, metric, extra)
        lab = rw.encode_labels(self._labels(*key))
        head = rw.series_head(lab)
        labs, heads = self._source(device, interface, extra)
        with self._lock:
            self._key_of[lab] = key
            labs[metric] = lab
            heads[metric] = head
        return lab, head

    @staticmethod
    def _labels(device: str, interface: str, metric: str, extra: tuple[tuple[str, str], ...]) -> dict:
        labels = {"__name__": prom_name(metric, interface), "device": device, **dict(extra)}
        if interface:
            labels["interface"] = interface
        return labels

    def _refuse(self, items: list[Refused], refused: list[Refused] | None) -> None:
        if not items:
            return
        first = items[0]
        log.warning(
            "tsdb refused %d sample(s), dead-lettered; first: %s %s %s ts=%d: %s",
            len(items),
            first.device,
            first.interface or "-",
            first.metric,
            first.ts,
            first.reason,
        )
        if refused is not None:
            refused.extend(items)

    def _send(self, batch: list, refused: list[Refused] | None) -> int:
        """POST ``batch``; on a 4xx split it in halves until the refused samples stand alone."""
        status, text = self._post(rw.encode_request(batch))
        if status < 300:
            return sum(len(pts) for _k, _l, pts in batch)
        if len(batch) == 1 and len(batch[0][2]) == 1:
            (device, interface, metric, _extra), _labels, (encoded,) = batch[0]
            ts_ms, v = rw.decode_sample(encoded)
            why = f"HTTP {status}: {text[:200]}"
            self._refuse([Refused(device, interface, metric, ts_ms // 1000, v, why)], refused)
            return 0
        if len(batch) == 1:
            key, labels, pts = batch[0]
            half = len(pts) // 2
            head, tail = [(key, labels, pts[:half])], [(key, labels, pts[half:])]
            return self._send(head, refused) + self._send(tail, refused)
        half = len(batch) // 2
        return self._send(batch[:half], refused) + self._send(batch[half:], refused)

    def _post(self, body: bytes, base: str = "") -> tuple[int, str]:
        base = base or self.url
        req = urllib.request.Request(base + "/api/v1/write", data=body, headers=rw.HEADERS, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                return resp.status, ""
        except urllib.error.HTTPError as exc:
            text = exc.read().decode(errors="replace").strip()
            if (exc.code >= 500 or exc.code == 429) and not SAMPLE_REFUSED.search(text):
                raise TsdbUnavailable(f"{base}: HTTP {exc.code} on remote write: {text[:200]}") from None
            return exc.code, text
        except (OSError, urllib.error.URLError) as exc:
            raise TsdbUnavailable(f"{base}: remote write failed: {exc}") from None

    # ---- read --------------------------------------------------------------------------
    def query(self, path: str, base: str = "", **params: Any) -> Any:
        """``/api/v1/<path>`` (query, query_range: the ``result`` list; label values: the list)."""
        base = base or self.url
        url = f"{base}/api/v1/{path}?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=self.timeout_s) as resp:
                data = json.loads(resp.read())["data"]
        except urllib.error.HTTPError as exc:
            text = exc.read().decode(errors="replace")[:300]
            expr = params.get("query")
            raise TsdbUnavailable(f"{base}: HTTP {exc.code} on {path} {expr!r}: {text}") from None
        except (OSError, urllib.error.URLError) as exc:
            raise TsdbUnavailable(f"{base}: {path} failed: {exc}") from None
        return data["result"] if isinstance(data, dict) else data

    def pick_level(self, t0: int, t1: int, now: float | None = None) -> str:
        return pick_level(self.retention, t0, t1, self.clock() if now is None else now)

    def read_range(
        self, device: str, interface: str, metrics: Sequence[str], t0: int, t1: int, level: str = "auto"
    ) -> Any:
        level = resolve_level(self, level, t0, t1)
        sel = _selector(device, interface)
        parts: list[tuple[str, np.ndarray, np.ndarray]] = []  # (column, ts, values) per answered series
        if level == "raw":
            names = {prom_name(m, interface): m for m in metrics}
            regex = "|".join(re.escape(n) for n in names)
            expr = f"{{__name__=~{_quote(regex)},{sel}}}[{t1 - t0 + 2}s]"
            for r in self.query("query", query=expr, time=t1 + 1):  # VictoriaMetrics leaves out t itself
                t, v = _arrays(r["values"])
                keep = (t >= t0) & (t <= t1)
                parts.append((names[r["metric"]["__name__"]], t[keep], v[keep]))
            names_out = list(metrics)
        else:
            b = BUCKET_S[level]
            first, last = -(-t0 // b) * b, t1 // b * b
            names_out = [f"{m}.{a}" for m in metrics for a in AGGS]
            if level == "1h" and self.long_url and last >= first:
                done = min(self.rolled_until(), last + b)  # rolled-up hours from the long engine
                if done > first:
                    parts += self._read_rollups(sel, interface, metrics, first, done - b)
                    first = done
            if last >= first:
                # one request: every column labelled by label_replace, joined by ``or``
                window = f"[{b * 1000 - 1}ms]"
                expr = " or ".join(
                    f"label_replace({a}({a}_over_time({prom_name(m, interface)}{{{sel}}}{window})),"
                    f' "nms_column", "{m}.{a}", "", "")'
                    for m in metrics
                    for a in AGGS
                )
                for r in self.query("query_range", query=expr, start=first + b - 1, end=last + b - 1, step=b):
                    t, v = _arrays(r["values"])
                    parts.append((r["metric"].get("nms_column", ""), t - (b - 1), v))
        return _series(level, names_out, parts)

    def latest(
        self, keys: Iterable[tuple[str, str]], newer_than: float = 0
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """Newest values of each (device, interface) within the engine's lookback (5 minutes), with ``ts``."""
        wanted = set(keys)
        devices = sorted({re.escape(d) for d, _i in wanted})
        itfs = "|".join(sorted({re.escape(i) for _d, i in wanted}))  # '' also matches "no interface label"
        itf_match = f",interface=~{_quote(itfs)}" if len(itfs) <= 6000 else ""
        chunks = _alternations(devices, 12_000 - len(itf_match))
        now = self.clock()

        def ask(selectors: list[str]) -> list[dict[str, Any]]:
            answers = self._pool.map(lambda e: self.query("query", query=e, time=now), selectors)
            return [r for got in answers for r in got]

        ours = '__name__=~"nms_(device|interface)_.+"'
        values = ask([f"{{{ours},device=~{_quote(c)}{itf_match}}}" for c in chunks])
        by_name: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for r in values:
            m = r["metric"]
            key = (m.get("device", ""), m.get("interface", ""))
            if key in wanted:
                by_name[m.get("__name__", "")].add(key)
        # timestamp() of a plain selector is the sample's own time (all values of a poll share it):
        # ask it of as few names as cover every source, most common first.
        cover, left = [], set().union(*by_name.values()) if by_name else set()
        while left:
            name = max(by_name, key=lambda n: len(by_name[n] & left))
            cover.append(name)
            left -= by_name[name]
        stamps = ask([f"timestamp({n}{{device=~{_quote(c)}{itf_match}}})" for n in cover for c in chunks])
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for r in stamps:
            key = (r["metric"].get("device", ""), r["metric"].get("interface", ""))
            ts = float(r["value"][1])
            if key in wanted and key not in out and ts >= newer_than:
                out[key] = {"ts": int(ts)}
        for r in values:
            m = r["metric"]
            row = out.get((m.get("device", ""), m.get("interface", "")))
            parsed = our_name(m.get("__name__", ""))
            if row is not None and parsed is not None:
                row[parsed[1]] = _value(parsed[1], float(r["value"][1]))
        return out

    def _read_rollups(
        self, sel: str, interface: str, metrics: Sequence[str], h0: int, h1: int
    ) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """Hours ``h0``..``h1`` (starts) of the long engine's rollups: one instant range-selector query."""
        names = {f"{prom_name(m, interface)}:1h_{a}": f"{m}.{a}" for m in metrics for a in AGGS}
        regex = "|".join(re.escape(n) for n in names)
        expr = f"{{__name__=~{_quote(regex)},{sel}}}[{h1 - h0 + 2}s]"
        parts = []
        for r in self.query("query", base=self.long_url, query=expr, time=h1 + 1):  # as a raw read
            t, v = _arrays(r["values"])
            keep = (t >= h0) & (t <= h1)
            parts.append((names[r["metric"]["__name__"]], t[keep], v[keep]))
        return parts

    def rolled_until(self) -> int:
        """Rollups exist on the long engine for every hour before this (0: none yet).

        Remembered, else asked of the long engine (so it survives restarts).
        """
        if self._done is None:
            expr = f"max_over_time({DONE}[{self.retention.hour_s}s])"
            got = self.query("query", base=self.long_url, query=expr, time=self.clock())
            self._done = int(float(got[0]["value"][1])) if got else 0
        return self._done

    def _rolled_limit(self, now: float) -> int:
        """A sample before this may be in an hour rolled up already (a spooled batch): that hour
        is redone.  Before the job's progress is known, any closed hour; no long engine: none."""
        if not self.long_url:
            return -1
        return self._done if self._done is not None else int(now - ROLLUP_GRACE_S) // H * H

    def rollup(self, now: float | None = None) -> RollupStats:
        """Roll closed hours up onto the long engine (``long_url``); without one, nothing to do.

        Idempotent: an hour rolled up again writes the same points (the engines keep one sample
        per series and timestamp).  Hours of late samples are redone; the first run starts where
        the raw engine's retention does; at most ``rollup_max_hours`` hours with data and about
        ``rollup_budget_s`` per call (the ``nms serve`` loop calls again every few minutes; a
        province hour takes a minute or so).
        """
        stats = RollupStats()
        if not self.long_url:
            return stats
        now = self.clock() if now is None else now
        closed = int(now - ROLLUP_GRACE_S) // H * H
        done = self.rolled_until() or int(now - self.max_age_s) // H * H + H  # first run: the raw retention
        with self._lock:
            redo = sorted(h for h in self._redo if h < done)
            self._redo.difference_update(redo)
        todo = redo + list(range(done, closed, H))
        started, i = time.monotonic(), 0
        try:
            for i, h in enumerate(todo):  # noqa: B007 (i: where a failure or the budget stopped)
                if (
                    stats.hours_compacted >= self.rollup_max_hours
                    or time.monotonic() - started > self.rollup_budget_s
                ):
                    break
                n = self.rollup_hour(h)
                stats.hours_compacted += n > 0
                stats.head_rows += n
                if h >= done:
                    self._mark_done(h + H)
                    done = h + H
            else:
                i = len(todo)
        finally:  # late hours not redone yet wait for the next call
            with self._lock:
                self._redo.update(x for x in todo[i:] if x < done)
        return stats

    def rollup_hour(self, h: int) -> int:
        """min/avg/max of hour ``h`` of every series, written to the long engine; how many written."""
        names = self.query(
            "label/__name__/values", **{"match[]": f"{{{OURS}}}", "start": h, "end": h + H - 1}
        )
        names = [n for n in names if our_name(n) is not None and ":" not in n]
        window = f"[{H * 1000 - 1}ms]"

        def ask(name: str) -> tuple[str, list[dict[str, Any]]]:
            expr = " or ".join(
                f'label_replace({a}_over_time({name}{window}), "nms_agg", "{a}", "", "")' for a in AGGS
            )
            return name, self.query("query", query=expr, time=h + H - 1)

        ts_var = rw.varint(h * 1000)
        batch = []
        for name, result in map(ask, names):  # one by one: a province's names take seconds each
            for r in result:
                labels = dict(r["metric"])
                labels["__name__"] = f"{name}:1h_{labels.pop('nms_agg', '')}"
                v = float(r["value"][1])
                if v == v:
                    batch.append((None, rw.encode_labels(labels), [rw.encode_sample(v, ts_var)]))
        for i in range(0, len(batch), MAX_SERIES_PER_REQUEST):
            status, text = self._post(rw.encode_request(batch[i : i + MAX_SERIES_PER_REQUEST]), self.long_url)
            if status >= 300:
                log.warning(
                    "tsdb rollup of hour %d refused by %s: HTTP %d %s", h, self.long_url, status, text[:200]
                )
        return len(batch)

    def _mark_done(self, until: int) -> None:
        """Remember on the long engine that every hour before ``until`` is rolled up."""
        sample = rw.encode_sample(float(until), rw.varint((until - H) * 1000))
        status, text = self._post(
            rw.encode_request([(None, rw.encode_labels({"__name__": DONE}), [sample])]), self.long_url
        )
        if status >= 300:
            raise TsdbUnavailable(f"{self.long_url}: rollup progress refused: HTTP {status} {text[:200]}")
        self._done = until

    def close(self) -> None:
        self._pool.shutdown(wait=False)


def _alternations(escaped: list[str], limit: int) -> list[str]:
    """``a|b|c`` regexes of at most ``limit`` characters (a single longer name stands alone)."""
    out: list[str] = []
    cur: list[str] = []
    size = 0
    for e in escaped:
        if cur and size + len(e) + 1 > limit:
            out.append("|".join(cur))
            cur, size = [], 0
        cur.append(e)
        size += len(e) + 1
    if cur:
        out.append("|".join(cur))
    return out


def _arrays(values: list[list]) -> tuple[np.ndarray, np.ndarray]:
    """A PromQL answer's [[t, "v"], ...] as int64 seconds and float64 values."""
    t = np.fromiter((p[0] for p in values), dtype=np.float64, count=len(values)).astype(np.int64)
    v = np.fromiter((float(p[1]) for p in values), dtype=np.float64, count=len(values))
    return t, v


def _series(level: str, names: list[str], parts: list[tuple[str, np.ndarray, np.ndarray]]) -> Any:
    """Columns on the union of timestamps (None where a column has no value); counters as ints.

    Two series of one column (a device moved to another site: other labels) merge by time.
    """
    ts = np.unique(np.concatenate([t for _n, t, _v in parts])) if parts else np.empty(0, dtype=np.int64)
    cols = {n: np.full(len(ts), np.nan) for n in names}
    for n, t, v in parts:
        if n in cols:
            cols[n][np.searchsorted(ts, t)] = v
    out = Series(level=level, ts=ts.tolist())
    for n, col in cols.items():
        exact = is_counter(n) and "." not in n and len(col) and np.all(np.isnan(col) | (np.abs(col) < 2**53))
        out.columns[n] = [None if x != x else (int(x) if exact else x) for x in col.tolist()]
    return out


def _value(name: str, v: float | None) -> float | int | None:
    """Counters come back as integers (exact below 2**53, docs/storage.md); NaN as None."""
    if v is None or v != v:
        return None
    if is_counter(name.split(".")[0]) and "." not in name and v.is_integer():
        return int(v)
    return v
