"""SQLite time-series store internals: codec round trips, compaction, retention, the rollup loop.

What every back end must answer alike is in test_store_contract.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from nms.db import transaction
from nms.schema import open_migrated
from nms.store import Retention, Sample, SqliteTimeSeriesStore
from nms.tsdb import codec

H = 3600
BASE = 1_764_000_000 // 86400 * 86400  # a UTC midnight


@given(st.lists(st.one_of(st.none(), st.integers(0, 2**64 - 1)), min_size=1, max_size=200))
@hsettings(max_examples=100, deadline=None)
def test_exact_columns_round_trip(values):
    ts = list(range(BASE, BASE + 60 * len(values), 60))
    t, cols = codec.decode_raw(codec.encode(ts, {7: (codec.EXACT, values)}))
    assert t.tolist() == ts
    kind, got = cols[7]
    back = [None if (isinstance(v, float) and math.isnan(v)) else int(v) for v in got.tolist()]
    if any(v is None for v in values):  # with gaps the column comes back as floats: exact below 2**53
        values = [None if v is None else float(v) for v in values]
        back = [None if v is None else float(v) for v in back]
    assert back == values


@given(st.lists(st.one_of(st.none(), st.floats(-1e12, 1e12)), min_size=1, max_size=200))
@hsettings(max_examples=100, deadline=None)
def test_quantised_columns_keep_four_digits_of_the_peak(values):
    ts = list(range(BASE, BASE + 60 * len(values), 60))
    _, cols = codec.decode(codec.encode(ts, {1: (codec.QUANT, values)}))
    peak = max((abs(v) for v in values if v is not None), default=0.0)
    for v, got in zip(values, cols[1].tolist(), strict=True):
        if v is None:
            assert math.isnan(got)
        else:
            assert abs(got - v) <= max(peak * 5e-4, 1e-9) + 1e-6


def fill(store, hours, start=BASE, device="r1", itf="GE0/0/1"):
    samples = []
    for k in range(hours * 60):
        t = start + 60 * k
        vals = {"in_octets": 10**12 + 750_000 * k, "in_bps": 5000.0 + 1000 * k}
        samples.append(Sample(device, itf, t, vals))
    store.write(samples)
    return samples


def test_rollup_compacts_finished_hours(metrics_db):
    """SQLite's own side of the contract (test_store_contract.py): finished hours leave the head."""
    store = SqliteTimeSeriesStore(metrics_db, Retention())
    fill(store, 3)
    stats = store.rollup(now=BASE + 2 * H + 600)  # hours 0 and 1 are finished, hour 2 is not
    assert stats.hours_compacted == 2 and stats.head_rows == 120
    assert metrics_db.execute("SELECT count(*) FROM ts_head").fetchone()[0] == 60
    levels = dict(metrics_db.execute("SELECT level, count(*) FROM ts_block GROUP BY level").fetchall())
    assert levels == {0: 2, 1: 1, 2: 1}
    assert "in_octets.avg" not in store.read_range("r1", "GE0/0/1", ["in_bps"], BASE, BASE + H, "5m").columns


def test_retention_drops_whole_blocks_per_level(metrics_db):
    ret = Retention(raw_s=2 * H, five_min_s=86400, hour_s=10 * 86400)
    store = SqliteTimeSeriesStore(metrics_db, ret)
    fill(store, 4)
    store.rollup(now=BASE + 4 * H + 600)
    levels = dict(metrics_db.execute("SELECT level, count(*) FROM ts_block GROUP BY level").fetchall())
    assert levels == {0: 2, 1: 1, 2: 1}  # raw: hours 2 and 3 kept (2 h), 5 min: today, 1 h: one span
    assert store.read_range("r1", "GE0/0/1", ["in_bps"], BASE, BASE + H, "raw").ts == []
    assert len(store.read_range("r1", "GE0/0/1", ["in_bps"], BASE, BASE + H - 1, "5m").ts) == 12
    store.expire(now=BASE + 2 * 86400)
    levels = dict(metrics_db.execute("SELECT level, count(*) FROM ts_block GROUP BY level").fetchall())
    assert levels == {2: 1}


def test_a_rolled_back_write_leaves_no_stale_source_id(metrics_db):
    """A batch whose transaction rolls back made its new source's id for nothing: the next
    write must not reuse it (SQLite hands that rowid to the next source another centre makes)."""
    store = SqliteTimeSeriesStore(metrics_db, Retention())
    with pytest.raises(RuntimeError), transaction(metrics_db):
        store.write([Sample("ghost", "", BASE, {"ok": 1})])
        raise RuntimeError("the batch failed after its samples")
    metrics_db.execute("INSERT INTO ts_source (device, interface) VALUES ('other', '')")  # another centre
    with transaction(metrics_db):
        store.write([Sample("ghost", "", BASE + 60, {"ok": 1})])
    owners = metrics_db.execute(
        "SELECT s.device, count(*) FROM ts_head h JOIN ts_source s ON s.id = h.source_id GROUP BY s.device"
    ).fetchall()
    assert [tuple(r) for r in owners] == [("ghost", 1)]
    assert store.read_range("ghost", "", ["ok"], BASE, BASE + 120, "raw").ts == [BASE + 60]


def test_a_rolled_back_rollup_leaves_no_stale_metric_id(metrics_db):
    """The same for a metric name first seen by a rollup whose transaction rolls back."""
    store = SqliteTimeSeriesStore(metrics_db, Retention())
    sid = store.source_ids([("r1", "")])[("r1", "")]
    with pytest.raises(RuntimeError), transaction(metrics_db):
        store.write_block(sid, 0, BASE, [BASE], {"ghost_bps": np.array([1.0])})
        raise RuntimeError("the rollup failed after its block")
    metrics_db.execute("INSERT INTO ts_metric (name) VALUES ('other_bps')")  # another centre
    with transaction(metrics_db):
        store.write_block(sid, 0, BASE, [BASE], {"ghost_bps": np.array([1.0])})
    (data,) = metrics_db.execute("SELECT data FROM ts_block").fetchone()
    names = [metrics_db.execute("SELECT name FROM ts_metric WHERE id = ?", (m,)).fetchone()
             for m in codec.decode(data)[1]]
    assert [tuple(n) for n in names if n is not None] == [("ghost_bps",)] and None not in names


def test_block_is_small(metrics_db):
    """A day of 5-minute min/avg/max of two noisy rates stays well under a kilobyte per metric-day."""
    rng = np.random.default_rng(1)
    t = np.arange(BASE, BASE + 86400, 300)
    x = 3e7 + 2e7 * np.sin(t / 86400 * 2 * np.pi) + rng.normal(0, 1e6, len(t))
    blob = codec.encode(t, {i: (codec.QUANT, x * (1 + i / 10)) for i in range(6)})
    assert len(blob) < 6 * 288 * 2


def test_serve_rollup_loop_compacts_in_background(settings):
    import threading

    from nms.serve import rollup_loop

    db = open_migrated(settings, "metrics")
    store = SqliteTimeSeriesStore(db, Retention())
    old = int(__import__("time").time()) // 3600 * 3600 - 2 * H  # two hours ago: a finished hour
    store.write([Sample("r1", "", old + 60 * k, {"cpu_pct": 5.0}) for k in range(60)])
    stop = threading.Event()
    t = threading.Thread(target=rollup_loop, args=(settings, 0.05, stop), daemon=True)
    t.start()
    try:
        for _ in range(200):
            if db.execute("SELECT count(*) FROM ts_head").fetchone()[0] == 0:
                break
            stop.wait(0.05)
    finally:
        stop.set()
        t.join(5)
    assert db.execute("SELECT count(*) FROM ts_head").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM ts_block WHERE level = 0").fetchone()[0] == 1
    db.conn.close()
