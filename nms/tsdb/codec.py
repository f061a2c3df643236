"""Compact blocks of samples: why a month of an interface fits in well under 100 KB.

A block holds the samples of one source (device or interface) for one time span:
a shared timestamp column and one column per metric.  Columns are delta-encoded,
zig-zagged, byte-shuffled (all low bytes together, then the next ...) and zlib'd,
the same idea as Gorilla/Blosc: steady 60 s timestamps and slowly changing values
turn into long runs of zero bytes.

Two column kinds:

* ``EXACT``: integers kept bit for bit modulo 2**64 (SNMP counters), so rates can be
  recomputed from them later.
* ``QUANT``: floats rounded to a per-column quantum of 10**e, chosen so the largest
  value of the block keeps 4 significant digits (error <= 0.05 % of the block's peak).
  Rates, gauges and rollups are shown on charts; that precision is plenty there.

Missing values (None / NaN) survive in a bit mask.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Mapping, Sequence

import numpy as np

EXACT = 0
QUANT = 1
VERSION = 1
_HEAD = struct.Struct("<BIH")  # version, rows, columns
_COL = struct.Struct("<HBb")  # metric id, kind, exponent
SIG_DIGITS = 4


def _shuffle(words: np.ndarray) -> bytes:
    """Byte planes of a uint64 array: high planes of small numbers are all zeros."""
    return words.astype("<u8").view(np.uint8).reshape(-1, 8).T.tobytes()


def _unshuffle(raw: bytes, n: int) -> np.ndarray:
    return np.frombuffer(raw, dtype=np.uint8).reshape(8, n).T.copy().view("<u8").reshape(n)


def _zigzag(delta: np.ndarray) -> np.ndarray:
    d = delta.view(np.int64)
    return ((d << 1) ^ (d >> 63)).view(np.uint64)


def _unzigzag(z: np.ndarray) -> np.ndarray:
    return ((z >> np.uint64(1)) ^ (np.uint64(0) - (z & np.uint64(1)))).view(np.uint64)


def _delta(words: np.ndarray) -> np.ndarray:
    """First value, then differences, modulo 2**64 (a counter wrap is just a big delta)."""
    out = np.empty_like(words)
    if len(words):
        out[0] = words[0]
        with np.errstate(over="ignore"):
            np.subtract(words[1:], words[:-1], out=out[1:])
    return out


def _exponent(values: np.ndarray) -> int:
    finite = values[np.isfinite(values)]
    peak = float(np.max(np.abs(finite))) if finite.size else 0.0
    if peak == 0.0:
        return 0
    return max(-9, min(30, math.floor(math.log10(peak)) - (SIG_DIGITS - 1)))


def encode(ts: Sequence[int] | np.ndarray, columns: Mapping[int, tuple[int, Sequence]]) -> bytes:
    """Encode rows: ``ts`` ascending ints, ``columns`` {metric id: (kind, values)}."""
    t = np.asarray(ts, dtype=np.int64)
    n = len(t)
    parts = [_shuffle(_zigzag(_delta(t.view(np.uint64))))]
    heads = [_HEAD.pack(VERSION, n, len(columns))]
    for metric_id, (kind, values) in columns.items():
        if len(values) != n:
            raise ValueError(f"column {metric_id}: {len(values)} values for {n} timestamps")
        if kind == EXACT:
            missing = np.fromiter((v is None for v in values), dtype=bool, count=n)
            words = np.fromiter(
                ((0 if v is None else int(v) & 0xFFFFFFFFFFFFFFFF) for v in values), dtype=np.uint64, count=n
            )
            exp = 0
        else:
            f = np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)
            missing = ~np.isfinite(f)
            exp = _exponent(f)
            q = np.where(missing, 0.0, np.round(f / 10.0**exp))
            words = q.astype(np.int64).view(np.uint64)
        heads.append(_COL.pack(metric_id, kind, exp))
        parts.append(np.packbits(missing).tobytes())
        parts.append(_shuffle(_zigzag(_delta(words))))
    return b"".join(heads) + zlib.compress(b"".join(parts), 6)


def decode(blob: bytes) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Inverse of :func:`encode`: int64 timestamps, {metric id: float64 array, NaN = missing}.

    EXACT columns come back as float64 only when asked through :func:`decode_exact`;
    here they are floats (exact below 2**53, which covers any realistic counter delta use).
    """
    ts, cols = decode_raw(blob)
    return ts, {m: (w.astype(np.float64) if kind == EXACT else w) for m, (kind, w) in cols.items()}


def decode_raw(blob: bytes) -> tuple[np.ndarray, dict[int, tuple[int, np.ndarray]]]:
    """Timestamps and {metric id: (kind, array)}; EXACT arrays are uint64 with missing as 0."""
    version, n, ncols = _HEAD.unpack_from(blob, 0)
    if version != VERSION:
        raise ValueError(f"block version {version} not supported")
    off = _HEAD.size
    specs = []
    for _ in range(ncols):
        specs.append(_COL.unpack_from(blob, off))
        off += _COL.size
    payload = zlib.decompress(blob[off:])
    pos = 0

    def take(size: int) -> bytes:
        nonlocal pos
        chunk = payload[pos : pos + size]
        pos += size
        return chunk

    ts = np.cumsum(_unzigzag(_unshuffle(take(8 * n), n)), dtype=np.uint64).view(np.int64)
    cols: dict[int, tuple[int, np.ndarray]] = {}
    for metric_id, kind, exp in specs:
        missing = np.unpackbits(np.frombuffer(take((n + 7) // 8), dtype=np.uint8), count=n).astype(bool)
        words = np.cumsum(_unzigzag(_unshuffle(take(8 * n), n)), dtype=np.uint64)
        if kind == EXACT:
            cols[metric_id] = (EXACT, words)
            if missing.any():
                cols[metric_id] = (EXACT, np.where(missing, np.nan, words.astype(np.float64)))
        else:
            vals = words.view(np.int64).astype(np.float64) * 10.0**exp
            vals[missing] = np.nan
            cols[metric_id] = (QUANT, vals)
    return ts, cols
