"""The time series on a Prometheus-compatible engine: remote write in, PromQL out.

Selected by ``NMS_TSDB_URL`` (:func:`nms.timeseries.open_timeseries`); VictoriaMetrics is the
engine the docs run (docs/storage.md), Prometheus with ``--web.enable-remote-write-receiver``
works too, and only the standard HTTP API is used (``/api/v1/write``, ``/api/v1/query``,
``/api/v1/query_range``), so Mimir or Thanos could take their place.

Series: ``nms_device_<metric>`` and ``nms_interface_<metric>`` (counters end in ``_total``)
with labels ``device``, ``interface`` (absent for device metrics), ``site`` and ``network``
(from the inventory, when the store was given one).  Rollup levels are computed by the engine
at read time (``min/avg/max_over_time``), so :meth:`RemoteWriteStore.rollup` has nothing to do.
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
    ) -> None:
        if not re.match(r"^https?://[^/\s]+", url):
            raise ValueError(f"NMS_TSDB_URL: {url!r} is not an http(s) URL such as http://127.0.0.1:8428")
        self.url = url.rstrip("/")
        self.labels_of = labels_of or _no_labels
        # Levels are picked as on SQLite (so charts look the same); the engine itself must keep
        # raw samples at least ``hour_s`` (its -retentionPeriod, docs/storage.md).
        self.retention = retention or Retention.from_env()
        self.max_age_s = max_age_s if max_age_s is not None else float(self.retention.hour_s)
        self.timeout_s = timeout_s
        self.clock = clock
        self._lock = threading.Lock()
        self._sources: dict[tuple, dict[str, bytes]] = {}  # (device, interface, extra) -> metric -> labels
        self._key_of: dict[bytes, tuple] = {}  # label bytes -> (device, interface, metric, extra)
        self._pool = ThreadPoolExecutor(max_workers=6, thread_name_prefix="promql")

    # ---- write -------------------------------------------------------------------------
    def write(self, samples: Iterable[Any], refused: list[Refused] | None = None) -> int:
        """Remote-write every non-null value; returns how many the engine accepted.

        Raises :class:`TsdbUnavailable` when the engine cannot take the batch now (the caller
        must not acknowledge it).  Samples the engine refuses for themselves (older than its
        retention, out of order) are appended to ``refused`` (logged either way).
        """
        units: dict[bytes, list[bytes]] = {}  # series (its label bytes) -> its encoded Sample fields
        oldest = self.clock() - self.max_age_s
        too_old: list[Refused] = []
        stamps: dict[int, tuple[bytes, bytes]] = {}  # ts -> encoded Sample prefix and suffix
        pack = rw.DOUBLE.pack
        sources = self._sources
        for s in samples:
            ts, dev, itf = int(s.ts), s.device, s.interface
            if ts < oldest:
                reason = f"older than the store's retention ({self.max_age_s / 86400:g} d)"
                too_old += [
                    Refused(dev, itf, m, ts, float(v), reason) for m, v in s.values.items() if v is not None
                ]
                continue
            extra = self.labels_of(dev)
            labs = sources.get((dev, itf, extra))
            if labs is None:
                labs = self._source(dev, itf, extra)
            pre_post = stamps.get(ts)
            if pre_post is None:
                pre_post = stamps[ts] = rw.sample_parts(ts * 1000)
            pre, post = pre_post
            for metric, value in s.values.items():
                if value is not None:
                    lab = labs.get(metric)
                    if lab is None:
                        lab = self._series(labs, dev, itf, metric, extra)
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

    def _source(self, device: str, interface: str, extra: tuple) -> dict[str, bytes]:
        """The label bytes of a source's series by metric (kept per process; a few hundred MB at most)."""
        with self._lock:
            if len(self._sources) >= 2_000_000:  # devices renamed over months: start afresh
                self._sources.clear()
                self._key_of.clear()
            return self._sources.setdefault((device, interface, extra), {})

    def _series(self, labs: dict, device: str, interface: str, metric: str, extra: tuple) -> bytes:
        """Encode a series' labels the first time it is seen."""
        key = (device, interface, metric, extra)
        lab = rw.encode_labels(self._labels(*key))
        with self._lock:
            self._key_of[lab] = key
            labs[metric] = lab
        return lab

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

    def _post(self, body: bytes) -> tuple[int, str]:
        req = urllib.request.Request(self.url + "/api/v1/write", data=body, headers=rw.HEADERS, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                return resp.status, ""
        except urllib.error.HTTPError as exc:
            text = exc.read().decode(errors="replace").strip()
            if (exc.code >= 500 or exc.code == 429) and not SAMPLE_REFUSED.search(text):
                raise TsdbUnavailable(f"{self.url}: HTTP {exc.code} on remote write: {text[:200]}") from None
            return exc.code, text
        except (OSError, urllib.error.URLError) as exc:
            raise TsdbUnavailable(f"{self.url}: remote write failed: {exc}") from None

    # ---- read --------------------------------------------------------------------------
    def query(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """``/api/v1/<path>`` (query or query_range); the ``result`` list."""
        url = f"{self.url}/api/v1/{path}?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=self.timeout_s) as resp:
                answer = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            text = exc.read().decode(errors="replace")[:300]
            expr = params.get("query")
            raise TsdbUnavailable(f"{self.url}: HTTP {exc.code} on {path} {expr!r}: {text}") from None
        except (OSError, urllib.error.URLError) as exc:
            raise TsdbUnavailable(f"{self.url}: {path} failed: {exc}") from None
        return answer["data"]["result"]

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
            expr = f"{{__name__=~{_quote(regex)},{sel}}}[{t1 - t0 + 1}s]"
            for r in self.query("query", query=expr, time=t1):
                t, v = _arrays(r["values"])
                keep = (t >= t0) & (t <= t1)
                parts.append((names[r["metric"]["__name__"]], t[keep], v[keep]))
            names_out = list(metrics)
        else:
            b = BUCKET_S[level]
            first, last = -(-t0 // b) * b, t1 // b * b
            names_out = [f"{m}.{a}" for m in metrics for a in AGGS]
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

    def rollup(self, now: float | None = None) -> Any:
        """Nothing to compact: the engine computes rollups when read and applies its own retention."""
        return RollupStats()

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
