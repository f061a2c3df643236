"""Compact blocks of samples: why a month of an interface fits in well under 100 KB.

A block holds the samples of one source (device or interface) for one time span:
a shared timestamp column and one column per metric.  Columns are delta-encoded,
zig-zagged, byte-shuffled (all low bytes together, then the next ...) and zlib'd,
the same idea as Gorilla/Blosc: steady 60 s timestamps and slowly changing values
turn into long runs of zero bytes.

Two column kinds:

* ``EXACT``: integers kept bit for bit modulo 2**64 (SNMP counters), so rates can be
  recomputed from them later; stored as delta of delta (a steady rate costs nothing).
* ``QUANT``: floats rounded to a per-column quantum of 10**e, chosen so the largest
  value of the block keeps ``digits`` significant digits: 4 for raw samples (error <=
  0.05 % of the hour's peak), 3 for rollups (<= 0.5 % of the day's peak).  Rates,
  gauges and rollups are drawn on charts; that precision is below a pixel there.

Missing values (None / NaN) survive in a bit mask.
"""

from __future__ import annotations

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


def _planes(words: np.ndarray) -> bytes:
    """Byte planes of a (columns, rows) uint64 matrix, all-zero planes left out.

    Starts with one byte per column saying which of its 8 planes follow; small numbers
    have zero high planes, so those cost one bit each instead of ``rows`` bytes.
    """
    c, n = words.shape
    planes = np.ascontiguousarray(words.astype("<u8", copy=False)).view(np.uint8).reshape(c, n, 8)
    planes = planes.transpose(0, 2, 1).reshape(c * 8, n)
    present = planes.any(axis=1)
    return np.packbits(present.reshape(c, 8), axis=1, bitorder="little").tobytes() + planes[present].tobytes()


def _unplanes(raw: bytes, c: int, n: int) -> tuple[np.ndarray, int]:
    """Inverse of :func:`_planes`; also returns how many bytes it used."""
    flags = np.frombuffer(raw[:c], dtype=np.uint8).reshape(c, 1)
    present = np.unpackbits(flags, axis=1, bitorder="little").reshape(c * 8).astype(bool)
    k = int(present.sum())
    planes = np.zeros((c * 8, n), dtype=np.uint8)
    planes[present] = np.frombuffer(raw[c : c + k * n], dtype=np.uint8).reshape(k, n)
    words = np.ascontiguousarray(planes.reshape(c, 8, n).transpose(0, 2, 1)).view("<u8").reshape(c, n)
    return words, c + k * n


def _zigzag(delta: np.ndarray) -> np.ndarray:
    d = delta.view(np.int64)
    return ((d << 1) ^ (d >> 63)).view(np.uint64)


def _unzigzag(z: np.ndarray) -> np.ndarray:
    return ((z >> np.uint64(1)) ^ (np.uint64(0) - (z & np.uint64(1)))).view(np.uint64)


def _delta(words: np.ndarray) -> np.ndarray:
    """Per row: first value, then differences, modulo 2**64 (a counter wrap is just a big delta)."""
    out = words.copy()
    if words.shape[-1] > 1:
        np.subtract(words[..., 1:], words[..., :-1], out=out[..., 1:])
    return out


def _exact(values, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(missing mask, uint64 words) of a counter column."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        signed = values.dtype.kind == "i"
        words = values.astype(np.int64, copy=False).view(np.uint64) if signed else values
        return np.zeros(n, dtype=bool), words.astype(np.uint64, copy=False)
    if isinstance(values, np.ndarray) and values.dtype.kind == "f":
        missing = ~np.isfinite(values)
        return missing, np.where(missing, 0, values).astype(np.int64).view(np.uint64)
    missing = np.fromiter((v is None or v != v for v in values), dtype=bool, count=n)
    words = np.fromiter(
        ((0 if m else int(v) & 0xFFFFFFFFFFFFFFFF) for v, m in zip(values, missing, strict=True)),
        dtype=np.uint64,
        count=n,
    )
    return missing, words


def _floats(values) -> np.ndarray:
    if isinstance(values, np.ndarray):
        return values.astype(np.float64, copy=False)
    return np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)


def _quantise(f: np.ndarray, digits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of floats -> (missing, int64 multiples of 10**exp, exp per row): ``digits`` of the row's peak."""
    missing = ~np.isfinite(f)
    a = np.where(missing, 0.0, f)
    peak = np.abs(a).max(axis=1) if a.shape[1] else np.zeros(a.shape[0])
    with np.errstate(divide="ignore"):
        exp = np.where(peak > 0, np.floor(np.log10(np.where(peak > 0, peak, 1.0))) - (digits - 1), 0)
    exp = np.clip(exp, -9, 30).astype(np.int64)
    q = np.round(a / np.power(10.0, exp)[:, None]).astype(np.int64)
    return missing, q, exp


def encode(
    ts: Sequence[int] | np.ndarray, columns: Mapping[int, tuple[int, Sequence]], digits: int = SIG_DIGITS
) -> bytes:
    """Encode rows: ``ts`` ascending ints, ``columns`` {metric id: (kind, values)}.

    QUANT columns keep ``digits`` significant digits of the column's peak in this block.
    """
    t = np.asarray(ts, dtype=np.int64)
    n = len(t)
    c = len(columns)
    masks = np.zeros((c, n), dtype=bool)
    words = np.zeros((c, n), dtype=np.uint64)
    exps = np.zeros(c, dtype=np.int64)
    exact = np.zeros(c, dtype=bool)
    quant_rows, quant_vals = [], []
    for row, (metric_id, (kind, values)) in enumerate(columns.items()):
        if len(values) != n:
            raise ValueError(f"column {metric_id}: {len(values)} values for {n} timestamps")
        if kind == EXACT:
            exact[row] = True
            masks[row], words[row] = _exact(values, n)
        else:
            quant_rows.append(row)
            quant_vals.append(_floats(values))
    if quant_rows:
        qm, qw, qe = _quantise(np.vstack(quant_vals), digits)
        masks[quant_rows], words[quant_rows], exps[quant_rows] = qm, qw.view(np.uint64), qe
    heads = [_HEAD.pack(VERSION, n, c)]
    for row, (metric_id, (kind, _)) in enumerate(columns.items()):
        heads.append(_COL.pack(metric_id, kind, int(exps[row])))
    # counters grow at a slowly changing rate: delta of delta is small; gauges: one delta
    words = _delta(words)
    words[exact] = _delta(words[exact])
    payload = (
        _planes(_zigzag(_delta(t.view(np.uint64)[None, :])))
        + np.packbits(masks, axis=1).tobytes()
        + _planes(_zigzag(words))
    )
    return b"".join(heads) + zlib.compress(payload, 6)


def decode(blob: bytes) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Inverse of :func:`encode`: int64 timestamps, {metric id: float64 array, NaN = missing}.

    EXACT columns come back as floats here (exact below 2**53); :func:`decode_raw` keeps
    them as uint64.
    """
    ts, cols = decode_raw(blob)
    return ts, {m: (w.astype(np.float64) if kind == EXACT else w) for m, (kind, w) in cols.items()}


def decode_raw(blob: bytes) -> tuple[np.ndarray, dict[int, tuple[int, np.ndarray]]]:
    """Timestamps and {metric id: (kind, array)}; EXACT arrays are uint64 (float with NaN if gaps)."""
    version, n, ncols = _HEAD.unpack_from(blob, 0)
    if version != VERSION:
        raise ValueError(f"block version {version} not supported")
    off = _HEAD.size
    specs = []
    for _ in range(ncols):
        specs.append(_COL.unpack_from(blob, off))
        off += _COL.size
    payload = zlib.decompress(blob[off:])
    mask_len = (n + 7) // 8
    tw, pos = _unplanes(payload, 1, n)
    ts = np.cumsum(_unzigzag(tw[0]), dtype=np.uint64).view(np.int64)
    masks = np.unpackbits(
        np.frombuffer(payload[pos : pos + ncols * mask_len], dtype=np.uint8).reshape(ncols, mask_len),
        axis=1,
        count=n,
    ).astype(bool)
    pos += ncols * mask_len
    words = np.cumsum(_unzigzag(_unplanes(payload[pos:], ncols, n)[0]), axis=1, dtype=np.uint64)
    cols: dict[int, tuple[int, np.ndarray]] = {}
    for row, (metric_id, kind, exp) in enumerate(specs):
        w = words[row]
        missing = masks[row]
        if kind == EXACT:
            w = np.cumsum(w, dtype=np.uint64)
            if missing.any():
                cols[metric_id] = (EXACT, np.where(missing, np.nan, w.astype(np.float64)))
            else:
                cols[metric_id] = (EXACT, w)
        else:
            vals = w.view(np.int64).astype(np.float64) * 10.0**exp
            vals[missing] = np.nan
            cols[metric_id] = (QUANT, vals)
    return ts, cols
