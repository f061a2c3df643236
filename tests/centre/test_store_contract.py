"""The time-series store's contract, run on every back end: SQLite, VictoriaMetrics, Prometheus.

Charts, the wall and metric rules only see :class:`nms.store.TimeSeriesStore`; whatever
``NMS_TSDB_URL`` selects must answer these reads alike.  The engines are real processes
(tests/support/tsdb.py), shared by the session: each test writes its own device names.
Averages are compared to float rounding (Prometheus averages incrementally).
"""

from __future__ import annotations

import itertools
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

import pytest

from nms.store import Retention, Sample, SqliteTimeSeriesStore
from nms.tsdb.remote import RemoteWriteStore
from tests.support.tsdb import prometheus_rw, victoria  # noqa: F401

H = 3600
BASE = (int(time.time()) // 86400 - 3) * 86400  # a UTC midnight three days ago: inside every retention
_names = itertools.count()


@dataclass
class Backend:
    """A store under test, ``settle()`` to make what was written searchable, a fresh device name."""

    name: str
    store: Any
    engine: Any = None

    def settle(self) -> None:
        if self.name == "victoriametrics":  # VictoriaMetrics buffers for up to a second
            urllib.request.urlopen(self.engine.url + "/internal/force_flush", timeout=10).read()

    def device(self) -> str:
        return f"r{next(_names)}-{int(time.time() * 1000) % 10**8}"


@pytest.fixture(params=["sqlite", "victoriametrics", "prometheus"])
def backend(request, metrics_db) -> Backend:
    if request.param == "sqlite":
        return Backend("sqlite", SqliteTimeSeriesStore(metrics_db, Retention()))
    engine = request.getfixturevalue("victoria" if request.param == "victoriametrics" else "prometheus_rw")
    clock = [time.time()]
    store = RemoteWriteStore(engine.url, retention=Retention(), clock=lambda: clock[0])
    store.test_clock = clock  # tests set the time the engine is asked at
    return Backend(request.param, store, engine)


def fill(store, hours, device, start=BASE, itf="GE0/0/1"):
    samples = [
        Sample(device, itf, start + 60 * k, {"in_octets": 10**12 + 750_000 * k, "in_bps": 5000.0 + 1000 * k})
        for k in range(hours * 60)
    ]
    store.write(samples)
    return samples


def test_raw_5m_and_1h_read_back(backend):
    store, dev = backend.store, backend.device()
    fill(store, 3, dev)
    store.rollup(now=BASE + 2 * H + 600)  # SQLite compacts hours 0 and 1; the engines roll up when read
    backend.settle()
    raw = store.read_range(dev, "GE0/0/1", ["in_octets", "in_bps"], BASE, BASE + 3 * H, "raw")
    assert raw.level == "raw"
    assert raw.ts == list(range(BASE, BASE + 3 * H, 60))
    assert raw.columns["in_octets"] == [10**12 + 750_000 * k for k in range(180)]  # counters exact
    assert raw.columns["in_bps"][100] == 105_000.0
    five = store.read_range(dev, "GE0/0/1", ["in_bps"], BASE, BASE + 3 * H, "5m")
    assert five.ts == list(range(BASE, BASE + 3 * H, 300))
    assert five.columns["in_bps.min"][0] == 5000.0
    assert five.columns["in_bps.max"][0] == 9000.0
    assert five.columns["in_bps.avg"][13] == pytest.approx(72_000.0, rel=1e-12)
    hour = store.read_range(dev, "GE0/0/1", ["in_bps"], BASE, BASE + 3 * H, "1h")
    assert hour.ts == [BASE, BASE + H, BASE + 2 * H]
    assert hour.columns["in_bps.avg"] == pytest.approx([34_500.0, 94_500.0, 154_500.0], rel=1e-12)
    part = store.read_range(dev, "GE0/0/1", ["in_bps"], BASE + 600, BASE + H - 1, "5m")
    assert part.ts == list(range(BASE + 600, BASE + H, 300))  # buckets starting inside the range only
    assert list(part.columns) == ["in_bps.min", "in_bps.avg", "in_bps.max"]


def test_device_metrics_and_a_sub_range(backend):
    store, dev = backend.store, backend.device()
    store.write(
        [Sample(dev, "", BASE + 60 * k, {"cpu_pct": float(k), "ok": 1, "temp": None}) for k in range(30)]
    )
    store.write([Sample(dev, "GE0/0/1", BASE, {"in_bps": 7.0})])  # an interface of it: another series
    backend.settle()
    got = store.read_range(dev, "", ["cpu_pct", "ok"], BASE + 600, BASE + 900, "raw")
    assert got.ts == [BASE + 600 + 60 * k for k in range(6)]
    assert got.columns == {"cpu_pct": [10.0, 11.0, 12.0, 13.0, 14.0, 15.0], "ok": [1] * 6}


def test_late_sample_lands_in_its_hour(backend):
    store, dev = backend.store, backend.device()
    store.write([Sample(dev, "", BASE + 60 * k, {"cpu_pct": 10.0}) for k in range(60) if k != 30])
    store.rollup(now=BASE + H + 600)
    store.write([Sample(dev, "", BASE + 1800, {"cpu_pct": 70.0})])  # a spooled poll arrives late
    store.rollup(now=BASE + H + 700)
    backend.settle()
    raw = store.read_range(dev, "", ["cpu_pct"], BASE, BASE + H - 1, "raw")
    assert len(raw.ts) == 60 and raw.columns["cpu_pct"][30] == 70.0
    five = store.read_range(dev, "", ["cpu_pct"], BASE, BASE + H - 1, "5m")
    assert five.columns["cpu_pct.max"][6] == 70.0
    assert five.columns["cpu_pct.avg"][6] == pytest.approx(22.0, rel=1e-12)


def test_a_resent_batch_doubles_nothing(backend):
    store, dev = backend.store, backend.device()
    batch = [Sample(dev, "", BASE + 60 * k, {"cpu_pct": 5.0 + k}) for k in range(10)]
    store.write(batch)
    store.write(batch)
    backend.settle()
    five = store.read_range(dev, "", ["cpu_pct"], BASE, BASE + 599, "5m")
    assert five.columns["cpu_pct.avg"] == pytest.approx([7.0, 12.0], rel=1e-12)
    assert len(store.read_range(dev, "", ["cpu_pct"], BASE, BASE + 599, "raw").ts) == 10


def test_a_batch_out_of_time_order_reads_back_in_order(backend):
    """A spool flushed newest first: the remote store sorts each series (its grouped path)."""
    store, dev = backend.store, backend.device()
    store.write([Sample(dev, "", BASE + 60 * k, {"cpu_pct": float(k), "ok": 1}) for k in reversed(range(20))])
    backend.settle()
    got = store.read_range(dev, "", ["cpu_pct", "ok"], BASE, BASE + 1199, "raw")
    assert got.ts == [BASE + 60 * k for k in range(20)]
    assert got.columns == {"cpu_pct": [float(k) for k in range(20)], "ok": [1] * 20}


def test_auto_level_and_unknown_series(backend):
    store = backend.store
    now = BASE + 40 * 86400
    assert store.pick_level(now - H, now, now) == "raw"
    assert store.pick_level(now - 30 * 86400, now, now) == "5m"
    assert store.pick_level(now - 90 * 86400, now, now) == "1h"
    empty = store.read_range("nobody", "", ["cpu_pct"], BASE, BASE + H, "raw")
    assert empty.ts == [] and empty.columns == {"cpu_pct": []}
    with pytest.raises(ValueError, match="level 'weekly'"):
        store.read_range("nobody", "", ["cpu_pct"], BASE, BASE + H, "weekly")


def test_latest_values_for_the_wall(backend):
    store, dev = backend.store, backend.device()
    fill(store, 1, dev)
    backend.settle()
    if hasattr(store, "test_clock"):
        store.test_clock[0] = BASE + H  # the engine answers "now": a minute after the last poll
    got = store.latest([(dev, "GE0/0/1"), (dev, "nope"), ("ghost", "")])
    assert list(got) == [(dev, "GE0/0/1")]
    assert got[(dev, "GE0/0/1")]["ts"] == BASE + 59 * 60
    assert got[(dev, "GE0/0/1")]["in_bps"] == 5000.0 + 1000 * 59
    assert got[(dev, "GE0/0/1")]["in_octets"] == 10**12 + 750_000 * 59
    assert store.latest([(dev, "GE0/0/1")], newer_than=BASE + 3600) == {}
    many = [(f"{dev}-not-polled-{'x' * 40}-{i}", f"GigabitEthernet0/0/{i}") for i in range(1000)]
    got = store.latest([*many, (dev, "GE0/0/1")])  # a whole wall: longer than one query may be
    assert list(got) == [(dev, "GE0/0/1")] and got[(dev, "GE0/0/1")]["ts"] == BASE + 59 * 60


def test_open_timeseries_follows_nms_tsdb_url(settings, monkeypatch):
    """One setting picks the store: unset = SQLite, set = one remote store per URL; a bad URL is named."""
    from nms.config import Settings
    from nms.timeseries import open_timeseries

    local = open_timeseries(settings)
    assert isinstance(local, SqliteTimeSeriesStore)
    local.db.conn.close()
    monkeypatch.setenv("NMS_TSDB_URL", "http://127.0.0.1:9")
    remote = Settings(data_dir=settings.data_dir, inventory_path=settings.inventory_path)
    assert remote.tsdb_url == "http://127.0.0.1:9"
    store = open_timeseries(remote)
    assert isinstance(store, RemoteWriteStore) and open_timeseries(remote) is store
    assert store.long_url == "" and store.rollup().hours_compacted == 0  # no long engine: nothing to roll up
    monkeypatch.setenv("NMS_TSDB_LONG_URL", "http://127.0.0.1:10/")
    long = open_timeseries(Settings(data_dir=settings.data_dir, inventory_path=settings.inventory_path))
    assert long is not store and long.long_url == "http://127.0.0.1:10"
    assert long.max_age_s == long.retention.five_min_s  # the raw engine keeps the 5-minute level's span
    with pytest.raises(ValueError, match="NMS_TSDB_URL: '127.0.0.1:8428' is not an http"):
        open_timeseries(Settings(data_dir=settings.data_dir, tsdb_url="127.0.0.1:8428"))
