"""The hand-written remote-write encoding: varints, labels in protocol order, the numpy fast path."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from nms.tsdb import remotewrite as rw


def test_varint_and_label_order():
    assert rw.varint(1) == b"\x01" and rw.varint(300) == b"\xac\x02"
    assert rw.varint(-1) == b"\xff" * 9 + b"\x01"  # int64 -1: ten bytes
    enc = rw.encode_labels({"site": "hefei", "__name__": "nms_device_ok", "device": "r1"})
    assert enc.index(b"__name__") < enc.index(b"device") < enc.index(b"site")  # sorted by name


@given(st.lists(st.floats(allow_nan=False), min_size=1, max_size=50), st.integers(0, 2**44))
@hsettings(max_examples=60, deadline=None)
def test_numpy_samples_encode_as_one_by_one(values, start_ms):
    ts = np.arange(len(values), dtype=np.uint64) * 60_000 + np.uint64(start_ms)
    one_by_one = b"".join(rw.encode_sample(v, rw.varint(int(t))) for t, v in zip(ts, values, strict=True))
    assert rw.encode_samples(ts, np.array(values)) == one_by_one


def test_metric_names_follow_prometheus_conventions():
    assert rw.metric_name("interface", "in_octets", True) == "nms_interface_in_octets_total"
    assert rw.metric_name("device", "cpu.pct-x", False) == "nms_device_cpu_pct_x"


@given(st.floats(allow_nan=False), st.integers(2**35, 2**42 - 1), st.text(max_size=200))
@hsettings(max_examples=60, deadline=None)
def test_a_cached_series_head_makes_the_same_timeseries_as_the_grouped_encoding(value, ts_ms, device):
    """write()'s usual path (head + value + suffix) is byte for byte the grouped path's TimeSeries."""
    labels = rw.encode_labels({"__name__": "nms_device_ok", "device": device})
    fast = rw.series_head(labels) + rw.DOUBLE.pack(value) + rw.sample_suffix(ts_ms)
    assert len(rw.sample_suffix(ts_ms)) == rw.SUFFIX_LEN
    grouped = rw.encode_request([(None, labels, [rw.encode_sample(value, rw.varint(ts_ms))])])
    assert rw.compress(fast) == grouped
