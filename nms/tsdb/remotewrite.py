"""Prometheus remote write 1.0, encoded by hand: a ``WriteRequest`` protobuf, snappy-compressed.

The message is small enough not to need a protobuf library (prompb/types.proto)::

    WriteRequest { repeated TimeSeries timeseries = 1; }
    TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
    Label        { string name = 1; string value = 2; }
    Sample       { double value = 1; int64 timestamp = 2; }   // milliseconds

A series' labels never change, so their encoded bytes are cached by the store
(:class:`nms.tsdb.remote.RemoteWriteStore`): encoding a sample is then a few byte joins.
Snappy (block format, as the protocol asks)
comes from ``cramjam``.
"""

from __future__ import annotations

import functools
import re
import struct
from collections.abc import Iterable, Mapping

import cramjam
import numpy as np

HEADERS = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}
_NAME_BAD = re.compile(r"[^a-zA-Z0-9_]")
DOUBLE = struct.Struct("<d")


def varint(n: int) -> bytes:
    """Protobuf base-128 varint of a non-negative int (or a negative int64 as its two's complement)."""
    if 0 <= n < _TABLE:
        return _SMALL[n]
    return _varint(n + (1 << 64) if n < 0 else n)


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_TABLE = 1 << 14  # lengths of series and samples: two bytes at most, looked up
_SMALL = [_varint(i) for i in range(_TABLE)]


def _field(tag: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return varint(tag << 3 | 2) + varint(len(payload)) + payload


def encode_labels(labels: Mapping[str, str]) -> bytes:
    """The ``labels`` fields of a TimeSeries, sorted by name as the protocol requires."""
    return b"".join(_label(k, str(v)) for k, v in sorted(labels.items()))


@functools.lru_cache(maxsize=1 << 18)
def _label(name: str, value: str) -> bytes:
    """One Label field; a device's site, network and the metric names repeat across its series."""
    return _field(1, _field(1, name.encode()) + _field(2, value.encode()))


def encode_sample(value: float, ts_ms_varint: bytes) -> bytes:
    """One ``samples`` field: tag 2, then Sample{value (fixed64), timestamp (varint)}."""
    body = b"\x09" + DOUBLE.pack(value) + b"\x10" + ts_ms_varint
    return b"\x12" + varint(len(body)) + body


def sample_parts(ts_ms: int) -> tuple[bytes, bytes]:
    """What comes before and after the 8 value bytes of a Sample field at ``ts_ms`` (cached per poll)."""
    ts_var = varint(ts_ms)
    return b"\x12" + varint(10 + len(ts_var)) + b"\x09", b"\x10" + ts_var


SUFFIX_LEN = 7  # a Sample's timestamp field: tag + 6-byte varint (ms from 1971-02 to 2109)
SAMPLE_LEN = 3 + 8 + SUFFIX_LEN


def sample_suffix(ts_ms: int) -> bytes:
    """The timestamp field closing a Sample (after its 8 value bytes)."""
    return b"\x10" + varint(ts_ms)


def series_head(labels: bytes) -> bytes:
    """A whole TimeSeries of one Sample up to its value: ``head + value (8 bytes) + sample_suffix``.

    The Sample's timestamp takes :data:`SUFFIX_LEN` bytes, so the lengths are known in advance
    and a series' head is cached: encoding a value is then three byte appends.
    """
    prefix, _ = sample_parts(1 << 41)
    return b"\x0a" + varint(len(labels) + SAMPLE_LEN) + labels + prefix


def compress(body: bytes | bytearray) -> bytes:
    """Snappy block format, as remote write asks."""
    return bytes(cramjam.snappy.compress_raw(bytes(body)))


def encode_samples(ts_ms: np.ndarray, values: np.ndarray) -> bytes:
    """Many ``samples`` fields at once (a long series: back-fills, the benchmark), as numpy rows.

    Every row is 1 tag + 1 length + 9 value + 1 tag + the timestamp varint; timestamps of
    the same varint width (ms since 2001 .. 2112: 6 bytes) make them all the same length.
    """
    ts_ms = np.asarray(ts_ms, dtype=np.uint64)
    if len(ts_ms) == 0:
        return b""
    width = len(varint(int(ts_ms[0])))
    if len(varint(int(ts_ms[-1]))) != width or int(ts_ms.min()) < (1 << (7 * (width - 1))):
        return b"".join(encode_sample(float(v), varint(int(t))) for t, v in zip(ts_ms, values, strict=True))
    rows = np.empty((len(ts_ms), 12 + width), dtype=np.uint8)
    rows[:, 0], rows[:, 1], rows[:, 2] = 0x12, 10 + width, 0x09
    rows[:, 3:11] = np.asarray(values, dtype="<f8").view(np.uint8).reshape(-1, 8)
    rows[:, 11] = 0x10
    t = ts_ms.copy()
    for k in range(width):
        rows[:, 12 + k] = (t & 0x7F).astype(np.uint8) | (0x80 if k < width - 1 else 0)
        t >>= np.uint64(7)
    return rows.tobytes()


def encode_request(batch: Iterable[tuple[object, bytes, list[bytes]]]) -> bytes:
    """Snappy-compressed WriteRequest of (key, encoded labels, encoded Sample fields) series."""
    parts: list[bytes] = []
    add = parts.append
    for _key, labels, samples in batch:
        body_len = len(labels) + sum(map(len, samples))
        add(b"\x0a" + varint(body_len) + labels)
        parts.extend(samples)
    return compress(b"".join(parts))


def decode_sample(encoded: bytes) -> tuple[int, float]:
    """(timestamp ms, value) of one Sample field made by :func:`sample_parts` (a refusal names it)."""
    value = DOUBLE.unpack_from(encoded, 3)[0]
    ts, shift = 0, 0
    for byte in encoded[12:]:
        ts |= (byte & 0x7F) << shift
        shift += 7
    return ts, value


def metric_name(kind: str, metric: str, counter: bool) -> str:
    """``nms_<kind>_<metric>`` (``_total`` for counters), characters outside [a-zA-Z0-9_] as ``_``."""
    return f"nms_{kind}_{_NAME_BAD.sub('_', metric)}" + ("_total" if counter else "")
