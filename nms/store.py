"""Time series of the centre (metrics.db), behind a small interface.

Callers only see :class:`TimeSeriesStore` (write / read_range / latest / rollup), made by
:func:`open_timeseries`: SQLite here by default, a Prometheus-compatible engine
(:mod:`nms.tsdb.remote`, VictoriaMetrics) when ``NMS_TSDB_URL`` is set (docs/storage.md).
The SQLite implementation keeps:

* ``ts_source``  (id, device, interface)   integer ids; ``interface`` '' = the device
* ``ts_metric``  (id, name)                 integer ids for metric names
* ``ts_head``    (source_id, ts, vals)      freshly ingested samples, one row per source
  and poll (JSON {metric: value}); cheap to insert, WITHOUT ROWID keyed (source_id, ts)
* ``ts_block``   (source_id, level, t0, n, data)  compressed blocks (nms.tsdb.codec), a rowid
  table (blobs of 0.5-4 KB sit on their leaf pages; WITHOUT ROWID would spill them):
  level 0 = raw samples of one hour, 1 = 5-minute min/avg/max/n of one day,
  2 = 1-hour min/avg/max/n of a 30-day span.

:meth:`SqliteTimeSeriesStore.rollup` turns finished hours of ``ts_head`` into blocks and
rollups and applies the retention of each level (:class:`Retention`).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import sqlite_utils

from nms.db import transaction
from nms.tsdb import codec

RAW, FIVE_MIN, HOUR = 0, 1, 2
LEVELS = {"raw": RAW, "5m": FIVE_MIN, "1h": HOUR}
BLOCK_SPAN = {RAW: 3600, FIVE_MIN: 86400, HOUR: 30 * 86400}
BUCKET = {FIVE_MIN: 300, HOUR: 3600}
AGGS = ("min", "avg", "max")
RAW_DIGITS, ROLLUP_DIGITS = 4, 3  # significant digits of a block's peak kept for gauges (nms.tsdb.codec)

# Counters are stored exactly (so rates can be recomputed); everything else is a gauge.
COUNTER_SUFFIXES = ("_octets", "_pkts", "_errors", "_discards")


def is_counter(metric: str) -> bool:
    return metric.endswith(COUNTER_SUFFIXES)


class TimeSeriesUnavailable(RuntimeError):
    """The time-series engine cannot answer now (down, timed out, 5xx): readers show "unknown"
    and say why rather than fail the whole page (:class:`nms.tsdb.remote.TsdbUnavailable`)."""


@dataclass(frozen=True)
class Retention:
    """How long each level is kept, in seconds.  Whole blocks go, so at least this much stays."""

    raw_s: int = 48 * 3600
    five_min_s: int = 30 * 86400
    hour_s: int = 400 * 86400

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Retention:
        """``NMS_RETENTION_RAW_H``, ``NMS_RETENTION_5M_D``, ``NMS_RETENTION_1H_D``."""
        env = os.environ if env is None else env
        r = cls()
        try:
            return cls(
                raw_s=int(float(env.get("NMS_RETENTION_RAW_H", r.raw_s / 3600)) * 3600),
                five_min_s=int(float(env.get("NMS_RETENTION_5M_D", r.five_min_s / 86400)) * 86400),
                hour_s=int(float(env.get("NMS_RETENTION_1H_D", r.hour_s / 86400)) * 86400),
            )
        except ValueError as exc:
            raise ValueError(f"NMS_RETENTION_*: not a number ({exc})") from None

    def of(self, level: int) -> int:
        return {RAW: self.raw_s, FIVE_MIN: self.five_min_s, HOUR: self.hour_s}[level]


@dataclass(frozen=True)
class Sample:
    """One source's values at one time, e.g. an interface's counters and rates of one poll."""

    device: str
    interface: str  # '' for device-level metrics
    ts: int
    values: Mapping[str, float | int | None]


@dataclass
class Series:
    """Result of a read: timestamps and one column per metric (rollups: ``metric.min`` ...)."""

    level: str
    ts: list[int] = field(default_factory=list)
    columns: dict[str, list[float | None]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"level": self.level, "ts": self.ts, "columns": self.columns}


@dataclass
class RollupStats:
    hours_compacted: int = 0
    head_rows: int = 0
    blocks_deleted: int = 0


class TimeSeriesStore(Protocol):
    """What charts, the wall, metric rules and ingest use: SQLite or a remote engine alike.

    ``write`` raises :class:`nms.tsdb.remote.TsdbUnavailable` when nothing may be assumed
    stored (the batch is then not acknowledged); samples refused for themselves go to
    ``refused``.  :func:`open_timeseries` picks the implementation.
    """

    retention: Retention

    def write(self, samples: Iterable[Sample], refused: list | None = None) -> int: ...

    def read_range(
        self, device: str, interface: str, metrics: Sequence[str], t0: int, t1: int, level: str = "auto"
    ) -> Series: ...

    def latest(
        self, keys: Iterable[tuple[str, str]], newer_than: float = 0
    ) -> dict[tuple[str, str], dict[str, Any]]: ...

    def pick_level(self, t0: int, t1: int, now: float | None = None) -> str: ...

    def rollup(self, now: float | None = None) -> RollupStats: ...


def pick_level(retention: Retention, t0: int, t1: int, now: float) -> str:
    """The level a chart of [t0, t1] reads: raw up to 6 h, 5 min up to 35 days, else 1 h (if still kept)."""
    span = t1 - t0
    slack = 3600  # "the last 30 days" asked a moment ago is still within 30 days of blocks
    if span <= 6 * 3600 and t0 >= now - retention.raw_s - slack:
        return "raw"
    if span <= 35 * 86400 and t0 >= now - retention.five_min_s - slack:
        return "5m"
    return "1h"


def resolve_level(store: TimeSeriesStore, level: str, t0: int, t1: int) -> str:
    """``level`` of a read, ``auto`` picked by the store; anything else is a ValueError naming it."""
    if level == "auto":
        level = store.pick_level(t0, t1)
    if level not in LEVELS:
        raise ValueError(f"level {level!r}: expected auto, raw, 5m or 1h")
    return level


PAGE_SIZE = 16384


def _large_pages(db: sqlite_utils.Database) -> None:
    """A new metrics.db gets 16 KB pages: 1-7 KB blocks pack with little waste (4 KB pages waste ~40 %).

    The page size of a WAL database is fixed once written, so an empty file briefly leaves WAL
    mode, is vacuumed with the new size and goes back.  If another connection holds the file
    the switch is skipped (the database then simply keeps 4 KB pages).
    """
    if getattr(db, "engine", "sqlite") != "sqlite" or db.table_names():
        return
    if db.execute("PRAGMA page_size").fetchone()[0] >= PAGE_SIZE:
        return
    try:
        if db.execute("PRAGMA journal_mode=DELETE").fetchone()[0] != "delete":
            return
        db.execute(f"PRAGMA page_size={PAGE_SIZE}")
        db.execute("VACUUM")
    except sqlite3.OperationalError:
        pass
    finally:
        db.execute("PRAGMA journal_mode=WAL")


def run_ddl(db: sqlite_utils.Database, sql: str) -> None:
    """Run DDL statement by statement (``executescript`` would commit the caller's transaction)."""
    for stmt in sql.split(";"):
        if stmt.strip():
            db.execute(stmt)


def add_key_column(db: sqlite_utils.Database, table: str, create: str, column: str, default: str) -> None:
    """Give an existing ``table`` a new primary-key ``column`` (``default`` for old rows).

    A primary key cannot be altered in place, so the table is rebuilt from ``create``
    (its new definition) in one transaction; a table that has the column is left alone.
    """

    def columns() -> list[str]:
        return [r[1] for r in db.execute(f"PRAGMA table_info({table})")]

    cols = columns()
    if not cols or column in cols:
        return
    with transaction(db):
        cols = columns()
        if column in cols:  # another process migrated it meanwhile
            return
        db.execute(f"ALTER TABLE {table} RENAME TO {table}_old")
        db.execute(create)
        names = ", ".join(cols)
        db.execute(f"INSERT INTO {table} ({names}, {column}) SELECT {names}, ? FROM {table}_old", (default,))
        db.execute(f"DROP TABLE {table}_old")


def ensure_schema(db: sqlite_utils.Database) -> None:
    _large_pages(db)
    run_ddl(
        db,
        """
        CREATE TABLE IF NOT EXISTS ts_source (
            id INTEGER PRIMARY KEY, device TEXT NOT NULL, interface TEXT NOT NULL DEFAULT '',
            UNIQUE (device, interface));
        CREATE TABLE IF NOT EXISTS ts_metric (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
        CREATE TABLE IF NOT EXISTS ts_head (
            source_id INTEGER NOT NULL, ts INTEGER NOT NULL, vals TEXT NOT NULL,
            PRIMARY KEY (source_id, ts)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS ts_block (
            id INTEGER PRIMARY KEY, source_id INTEGER NOT NULL, level INTEGER NOT NULL,
            t0 INTEGER NOT NULL, n INTEGER NOT NULL, data BLOB NOT NULL);
        CREATE UNIQUE INDEX IF NOT EXISTS ts_block_key ON ts_block (source_id, level, t0);
        CREATE INDEX IF NOT EXISTS ts_block_expiry ON ts_block (level, t0);
        """,
    )


class _Ids:
    """Integer ids of sources and metrics, cached per database file (ids never change)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sources: dict[tuple[str, str], int] = {}
        self.metrics: dict[str, int] = {}
        self.metric_names: dict[int, str] = {}


_ID_CACHES: dict[str, _Ids] = {}
_ID_CACHES_LOCK = threading.Lock()


def _db_key(db: sqlite_utils.Database) -> str:
    if getattr(db, "engine", "sqlite") == "postgresql":
        return db.conn.raw.info.dsn  # names the database (and a search_path, if the URL sets one)
    row = db.execute("PRAGMA database_list").fetchone()
    return row[2] or f"memory:{id(db)}"


class SqliteTimeSeriesStore:
    """The SQLite implementation; one instance per connection (cheap to make)."""

    def __init__(self, db: sqlite_utils.Database, retention: Retention | None = None) -> None:
        self.db = db
        self.retention = retention or Retention.from_env()
        key = _db_key(db)
        with _ID_CACHES_LOCK:
            self.ids = _ID_CACHES.setdefault(key, _Ids())

    # ---- ids ---------------------------------------------------------------------------
    def source_ids(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """Ids for (device, interface) pairs, creating the missing ones (inside the caller's txn).

        An id made inside the caller's transaction is not cached: if that transaction rolls
        back, the id names nothing (or, on SQLite, the next source another centre makes), so
        the next batch looks it up again and caches it once committed.
        """
        wanted = set(keys)
        ids = self.ids
        with ids.lock:
            missing = [k for k in wanted if k not in ids.sources]
            if not missing:
                return {k: ids.sources[k] for k in wanted}
            found = {k: sid for k in missing if (sid := self._lookup_source(k)) is not None}
            ids.sources.update(found)
            new = [k for k in missing if k not in found]
            if new:
                self.db.conn.executemany(
                    "INSERT OR IGNORE INTO ts_source (device, interface) VALUES (?, ?)", new
                )
                made = {k: self._lookup_source(k) for k in new}
                if not self.db.conn.in_transaction:
                    ids.sources.update(made)
                found.update(made)
            return {k: ids.sources[k] if k in ids.sources else found[k] for k in wanted}

    def _lookup_source(self, key: tuple[str, str]) -> int | None:
        row = self.db.execute("SELECT id FROM ts_source WHERE device = ? AND interface = ?", key).fetchone()
        return row[0] if row else None

    def source_id(self, device: str, interface: str = "") -> int | None:
        got = self.ids.sources.get((device, interface))
        return got if got is not None else self._lookup_source((device, interface))

    def metric_id(self, name: str) -> int:
        """The id of a metric name, made if new (not cached until committed, as in :meth:`source_ids`)."""
        ids = self.ids
        with ids.lock:
            got = ids.metrics.get(name)
            if got is not None:
                return got
            got = self._lookup_metric(name)
            if got is None:
                self.db.execute("INSERT OR IGNORE INTO ts_metric (name) VALUES (?)", (name,))
                got = self._lookup_metric(name)
                if self.db.conn.in_transaction:
                    return got
            ids.metrics[name] = got
            ids.metric_names[got] = name
            return got

    def _lookup_metric(self, name: str) -> int | None:
        row = self.db.execute("SELECT id FROM ts_metric WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def metric_name(self, metric_id: int) -> str:
        name = self.ids.metric_names.get(metric_id)
        if name is None:
            name = self.db.execute("SELECT name FROM ts_metric WHERE id = ?", (metric_id,)).fetchone()[0]
            with self.ids.lock:
                self.ids.metric_names[metric_id] = name
                self.ids.metrics[name] = metric_id
        return name

    # ---- write -------------------------------------------------------------------------
    def write(self, samples: Iterable[Sample], refused: list | None = None) -> int:
        """Insert samples into the head; runs inside the caller's transaction if one is open.

        SQLite refuses no single sample (``refused`` stays as it is).
        """
        samples = list(samples)
        ids = self.source_ids((s.device, s.interface) for s in samples)
        rows = [
            (ids[(s.device, s.interface)], int(s.ts), json.dumps(dict(s.values), separators=(",", ":")))
            for s in samples
        ]
        self.db.conn.executemany(
            "INSERT OR REPLACE INTO ts_head (source_id, ts, vals) VALUES (?, ?, ?)", rows
        )
        return len(rows)

    def write_block(self, source_id: int, level: int, t0: int, ts: Sequence[int], columns: dict) -> None:
        """Store one encoded block (used by rollup and by the benchmark's fill)."""
        encoded = {}
        for name, values in columns.items():
            kind = codec.EXACT if (level == RAW and is_counter(name)) or name.endswith(".n") else codec.QUANT
            encoded[self.metric_id(name)] = (kind, values)
        data = codec.encode(ts, encoded, ROLLUP_DIGITS if level else RAW_DIGITS)
        self.db.execute(  # the key is the unique (source_id, level, t0), not the rowid
            "INSERT INTO ts_block (source_id, level, t0, n, data) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (source_id, level, t0) DO UPDATE SET n = excluded.n, data = excluded.data",
            (source_id, level, t0, len(ts), data),
        )

    # ---- read --------------------------------------------------------------------------
    def _blocks(self, source_id: int, level: int, t0: int, t1: int) -> Iterable[tuple[np.ndarray, dict]]:
        span = BLOCK_SPAN[level]
        for (data,) in self.db.execute(
            "SELECT data FROM ts_block WHERE source_id = ? AND level = ? AND t0 > ? AND t0 <= ? ORDER BY t0",
            (source_id, level, t0 - span, t1),
        ):
            ts, cols = codec.decode(data)
            yield ts, {self.metric_name(m): v for m, v in cols.items()}

    def _head(self, source_id: int, t0: int, t1: int) -> list[tuple[int, dict]]:
        return [
            (ts, json.loads(vals))
            for ts, vals in self.db.execute(
                "SELECT ts, vals FROM ts_head WHERE source_id = ? AND ts >= ? AND ts <= ? ORDER BY ts",
                (source_id, t0, t1),
            )
        ]

    def _known_sources(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """The cached ids, reloaded in one read when a key is missing (another process may have added it)."""
        ids = self.ids
        if any(k not in ids.sources for k in keys):
            rows = self.db.conn.execute("SELECT id, device, interface FROM ts_source").fetchall()
            with ids.lock:
                ids.sources.update(((d, i), sid) for sid, d, i in rows)
        return ids.sources

    def latest(
        self, keys: Iterable[tuple[str, str]], newer_than: float = 0
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """Newest polled values of each (device, interface), with ``ts``: the wall display's read.

        Only the head is looked at (a source silent for more than an hour has no current value);
        one seek per source on the head's (source_id, ts) key.
        """
        wanted = list(keys)
        known = self._known_sources(wanted)
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for key in wanted:
            sid = known.get(key)
            if sid is None:
                continue
            row = self.db.conn.execute(
                "SELECT ts, vals FROM ts_head WHERE source_id = ? ORDER BY ts DESC LIMIT 1", (sid,)
            ).fetchone()
            if row is not None and row[0] >= newer_than:
                out[key] = {**json.loads(row[1]), "ts": row[0]}
        return out

    def pick_level(self, t0: int, t1: int, now: float | None = None) -> str:
        return pick_level(self.retention, t0, t1, time.time() if now is None else now)

    def read_range(
        self, device: str, interface: str, metrics: Sequence[str], t0: int, t1: int, level: str = "auto"
    ) -> Series:
        """Samples of ``metrics`` in [t0, t1]; rollup levels give ``m.min``/``m.avg``/``m.max``."""
        level = resolve_level(self, level, t0, t1)
        lv = LEVELS[level]
        names = list(metrics) if lv == RAW else [f"{m}.{a}" for m in metrics for a in AGGS]
        out = Series(level=level, columns={n: [] for n in names})
        sid = self.source_id(device, interface)
        if sid is None:
            return out
        last = t0 - 1
        for ts, cols in self._blocks(sid, lv, t0, t1):
            sel = (ts >= t0) & (ts <= t1)
            out.ts.extend(ts[sel].tolist())
            for n in names:
                col = cols.get(n)
                vals = col[sel] if col is not None else np.full(int(sel.sum()), np.nan)
                out.columns[n].extend(None if v != v else v for v in vals.tolist())
            if sel.any():
                last = int(ts[sel][-1])
        head = self._head(sid, last + 1, t1)
        if lv == RAW:
            for ts, vals in head:
                out.ts.append(ts)
                for n in names:
                    out.columns[n].append(vals.get(n))
        elif head:
            hts = np.array([h[0] for h in head], dtype=np.int64)
            agg = _aggregate(hts, {m: [h[1].get(m) for h in head] for m in metrics}, BUCKET[lv])
            for i, b in enumerate(agg["ts"]):
                if b <= last or b > t1:
                    continue
                out.ts.append(int(b))
                for n in names:
                    v = agg[n][i]
                    out.columns[n].append(None if v != v else float(v))
        return out

    # ---- rollup & retention ------------------------------------------------------------
    def rollup(self, now: float | None = None, grace_s: int = 120) -> RollupStats:
        """Compact every finished hour of the head into blocks and rollups; apply retention.

        An hour is finished ``grace_s`` after its end (late polls of the last minute).  Late
        samples of an hour already compacted are merged into its block on the next run.
        """
        now = time.time() if now is None else now
        stats = RollupStats()
        cutoff = int(now - grace_s) // 3600 * 3600
        hours = self.db.execute(
            "SELECT DISTINCT source_id, ts / 3600 * 3600 FROM ts_head WHERE ts < ?", (cutoff,)
        ).fetchall()
        by_source: dict[int, list[int]] = defaultdict(list)
        for sid, h in hours:
            by_source[sid].append(h)
        sources = sorted(by_source)
        for i in range(0, len(sources), 100):  # short transactions: ingest keeps flowing meanwhile
            with transaction(self.db):
                for sid in sources[i : i + 100]:
                    for h in sorted(by_source[sid]):
                        stats.head_rows += self._compact_hour(sid, h)
                        stats.hours_compacted += 1
        stats.blocks_deleted = self.expire(now)
        return stats

    def _compact_hour(self, sid: int, hour: int) -> int:
        head = self._head(sid, hour, hour + 3599)
        ts_list = [h[0] for h in head]
        rows = {t: v for t, v in head}
        old = self.db.execute(
            "SELECT data FROM ts_block WHERE source_id = ? AND level = ? AND t0 = ?", (sid, RAW, hour)
        ).fetchone()
        if old:  # late samples: merge with what the block already holds (head wins)
            ots, ocols = codec.decode_raw(old[0])
            for i, t in enumerate(ots.tolist()):
                if t not in rows:
                    rows[t] = {self.metric_name(m): _py(c[i], k) for m, (k, c) in ocols.items()}
            ts_list = sorted(rows)
        metrics = sorted({m for v in rows.values() for m in v})
        cols = {m: _array(m, [rows[t].get(m) for t in ts_list]) for m in metrics}
        self.write_block(sid, RAW, hour, ts_list, cols)
        gauges = {m: c for m, c in cols.items() if not is_counter(m)}
        if gauges:
            ts_arr = np.asarray(ts_list, dtype=np.int64)
            for lv in (FIVE_MIN, HOUR):
                self._merge_rollup(sid, lv, hour, _aggregate(ts_arr, gauges, BUCKET[lv]))
        self.db.execute(
            "DELETE FROM ts_head WHERE source_id = ? AND ts >= ? AND ts < ?", (sid, hour, hour + 3600)
        )
        return len(head)

    def _merge_rollup(self, sid: int, lv: int, hour: int, agg: dict[str, np.ndarray]) -> None:
        """Put this hour's buckets into the level's block (new buckets replace old ones)."""
        span = BLOCK_SPAN[lv]
        t0 = hour // span * span
        new_ts = agg["ts"]
        new = {n: c for n, c in agg.items() if n != "ts"}
        old = self.db.execute(
            "SELECT data FROM ts_block WHERE source_id = ? AND level = ? AND t0 = ?", (sid, lv, t0)
        ).fetchone()
        if old:
            ots, ocols = codec.decode(old[0])
            keep = ~np.isin(ots, new_ts)
            names = sorted(set(new) | {self.metric_name(m) for m in ocols})
            old_named = {self.metric_name(m): c for m, c in ocols.items()}
            ts_all = np.concatenate([ots[keep], new_ts])
            order = np.argsort(ts_all, kind="stable")
            cols = {}
            for n in names:
                a = old_named.get(n)
                a = a[keep] if a is not None else np.full(int(keep.sum()), np.nan)
                b = new.get(n, np.full(len(new_ts), np.nan))
                cols[n] = np.concatenate([a, b])[order]
            self.write_block(sid, lv, t0, ts_all[order], cols)
        else:
            self.write_block(sid, lv, t0, new_ts, new)

    def expire(self, now: float) -> int:
        """Delete whole blocks older than their level's retention; returns blocks deleted."""
        deleted = 0
        with transaction(self.db):
            for lv, span in BLOCK_SPAN.items():
                cur = self.db.execute(
                    "DELETE FROM ts_block WHERE level = ? AND t0 + ? <= ?",
                    (lv, span, int(now - self.retention.of(lv))),
                )
                deleted += cur.rowcount
            self.db.execute("DELETE FROM ts_head WHERE ts < ?", (int(now - self.retention.raw_s),))
        return deleted


def _array(metric: str, values: list) -> list | np.ndarray:
    """Gap-free counters as uint64 and gauges as float64 arrays (the codec's fast path)."""
    if any(v is None for v in values):
        return values
    if is_counter(metric):
        try:
            return np.array(values, dtype=np.uint64)
        except (OverflowError, ValueError, TypeError):
            return values
    return np.array(values, dtype=np.float64)


def _py(value: Any, kind: int) -> Any:
    if isinstance(value, float) and value != value:
        return None
    if kind == codec.EXACT:
        return int(value)
    return float(value)


def _aggregate(ts: np.ndarray, columns: Mapping[str, Sequence], bucket: int) -> dict[str, np.ndarray]:
    """min/avg/max/n per bucket start; NaN where a bucket has no value of that metric."""
    starts = ts // bucket * bucket
    keys, inverse = np.unique(starts, return_inverse=True)
    out: dict[str, np.ndarray] = {"ts": keys}
    k = len(keys)
    for m, values in columns.items():
        if isinstance(values, np.ndarray):
            v = values.astype(np.float64, copy=False)
        else:
            v = np.asarray([np.nan if x is None else x for x in values], dtype=np.float64)
        ok = np.isfinite(v)
        n = np.bincount(inverse[ok], minlength=k)
        s = np.bincount(inverse[ok], weights=v[ok], minlength=k)
        mn = np.full(k, np.inf)
        mx = np.full(k, -np.inf)
        np.minimum.at(mn, inverse[ok], v[ok])
        np.maximum.at(mx, inverse[ok], v[ok])
        has = n > 0
        out[f"{m}.min"] = np.where(has, mn, np.nan)
        out[f"{m}.avg"] = np.where(has, s / np.maximum(n, 1), np.nan)
        out[f"{m}.max"] = np.where(has, mx, np.nan)
        out[f"{m}.n"] = n.astype(np.float64)
    return out
