"""Durable store-and-forward spool: an SQLite file the agent writes before it sends.

Every finished poll is committed to ``pending`` at once, so a ``kill -9`` loses at most
the poll in flight.  Pending results are sealed into numbered batches (the sequence
number lives in this file, so it survives restarts and the centre can drop repeats).
A new spool file draws a random *epoch* that every batch carries: the centre keys
batches on (agent, epoch, seq), so a lost or wiped spool (whose seq restarts at 1)
is a new epoch, its batches are stored rather than taken for repeats, and the
change of epoch is raised as an alert (the old spool's unsent batches are gone).
A batch is deleted only when the centre acknowledges it.  Permanent rejections move to
``dead_letter``; when the file outgrows its bound the oldest batches are dropped and
counted, never silently.

Events (traps, syslog: :mod:`probes.events`) wait in ``pending_events`` and are sealed into
batches of their own (``priority`` 1), which every lane sends before any poll batch: a
backlog of poll results after an outage never holds back a trap.  The same ``seq`` series
numbers both kinds, so exactly-once at the centre is unchanged.  Pending events are
bounded apart (``max_events``): beyond it they are counted as dropped, never poll data.
"""

from __future__ import annotations

import fcntl
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS identity (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS pending (id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL,"
    " bytes INTEGER NOT NULL, body TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS batches (seq INTEGER PRIMARY KEY, created REAL NOT NULL,"
    " samples INTEGER NOT NULL, bytes INTEGER NOT NULL, body BLOB NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT)",
    "CREATE TABLE IF NOT EXISTS pending_events (id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL,"
    " bytes INTEGER NOT NULL, body TEXT NOT NULL)",
    # body: JSON array of the rejected poll results (a whole batch or one poisoned sample)
    "CREATE TABLE IF NOT EXISTS dead_letter (id INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER NOT NULL,"
    " created REAL NOT NULL, moved REAL NOT NULL, status INTEGER, reason TEXT, samples INTEGER NOT NULL,"
    " devices TEXT NOT NULL, body TEXT NOT NULL)",
)
COUNTERS = (
    "next_seq", "dropped_batches", "dropped_samples", "dead_batches", "dead_samples", "dropped_events"
)
MAX_PENDING_EVENTS = 100_000


class SpoolError(RuntimeError):
    """The spool file cannot be used (wrong agent, unreadable, not a spool)."""


@dataclass(frozen=True)
class Batch:
    seq: int
    created: float
    samples: int
    body: bytes  # the exact request body, so a resend is byte-identical


@dataclass(frozen=True)
class SpoolStats:
    batches: int
    bytes: int
    pending_samples: int
    oldest_age_s: float
    dropped_batches: int
    dropped_samples: int
    dead_batches: int  # rejections (a whole batch or one sample of it)
    dead_samples: int
    dead_letter_rows: int
    next_seq: int
    epoch: str = ""
    pending_events: int = 0
    dropped_events: int = 0  # beyond the events' own bound (a flood the receivers let through)


class Spool:
    """One agent's spool file; safe to call from several threads (one lock, short transactions)."""

    def __init__(
        self, path: Path, agent: str, max_bytes: int = 256 << 20, max_events: int = MAX_PENDING_EVENTS
    ) -> None:
        if max_bytes <= 0:
            raise ValueError(f"spool max_bytes must be positive, got {max_bytes}")
        self.path = Path(path)
        self.max_events = max_events
        self.agent = agent
        self.max_bytes = max_bytes
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # Two agents on one spool would hand out the same seq twice, and the centre would
        # keep only the first batch of each pair: refuse to start instead.
        self._lockfile = open(self.path.with_name(self.path.name + ".lock"), "a+")  # noqa: SIM115
        try:
            fcntl.flock(self._lockfile, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lockfile.close()
            raise SpoolError(f"{self.path}: in use by another running agent (lock held)") from None
        try:
            self._db = sqlite3.connect(
                str(self.path), isolation_level=None, check_same_thread=False, timeout=30
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=30000")
            with self._tx() as db:
                for stmt in SCHEMA:
                    db.execute(stmt)
                cols = {r[1] for r in db.execute("PRAGMA table_info(batches)")}
                if "priority" not in cols:  # a spool from before events
                    db.execute("ALTER TABLE batches ADD COLUMN priority INTEGER NOT NULL DEFAULT 0")
                db.execute("CREATE INDEX IF NOT EXISTS batches_order ON batches (priority DESC, seq)")
                for key in COUNTERS:
                    db.execute(
                        "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                        (key, 1 if key == "next_seq" else 0),
                    )
                # a spool from before epochs gets one too: its seq goes on, so nothing was lost
                db.execute(
                    "INSERT OR IGNORE INTO identity (key, value) VALUES ('epoch', ?)", (secrets.token_hex(8),)
                )
                self.epoch = str(db.execute("SELECT value FROM identity WHERE key = 'epoch'").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            self._lockfile.close()
            raise SpoolError(f"{self.path}: not a usable spool database ({exc})") from None

    # -- transactions -------------------------------------------------------------
    class _Tx:
        def __init__(self, spool: Spool) -> None:
            self.spool = spool

        def __enter__(self) -> sqlite3.Connection:
            self.spool._lock.acquire()
            self.spool._db.execute("BEGIN IMMEDIATE")
            return self.spool._db

        def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
            try:
                self.spool._db.execute("ROLLBACK" if exc_type else "COMMIT")
            finally:
                self.spool._lock.release()

    def _tx(self) -> Spool._Tx:
        return Spool._Tx(self)

    def _meta(self, db: sqlite3.Connection, key: str) -> int:
        return int(db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0])

    def _bump(self, db: sqlite3.Connection, key: str, by: int) -> None:
        db.execute("UPDATE meta SET value = value + ? WHERE key = ?", (by, key))

    # -- writing ------------------------------------------------------------------
    def put_result(self, result: dict[str, Any]) -> None:
        """Commit one finished poll result; it is durable when this returns."""
        body = json.dumps(result, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        with self._tx() as db:
            db.execute(
                "INSERT INTO pending (ts, bytes, body) VALUES (?, ?, ?)",
                (float(result.get("ts") or time.time()), len(body), body),
            )

    def put_events(self, events: Sequence[dict[str, Any]]) -> int:
        """Commit received events (one transaction); beyond ``max_events`` pending they are
        counted as dropped.  Returns how many were kept."""
        if not events:
            return 0
        bodies = [json.dumps(e, ensure_ascii=False, separators=(",", ":"), allow_nan=False) for e in events]
        with self._tx() as db:
            room = self.max_events - int(db.execute("SELECT COUNT(*) FROM pending_events").fetchone()[0])
            keep = bodies[: max(0, room)]
            db.executemany(
                "INSERT INTO pending_events (ts, bytes, body) VALUES (?, ?, ?)",
                [(float(e.get("time") or time.time()), len(b), b)
                 for e, b in zip(events, keep, strict=False)],
            )
            if len(keep) < len(bodies):
                self._bump(db, "dropped_events", len(bodies) - len(keep))
        return len(keep)

    def seal_events(self, max_events: int = 1000) -> Batch | None:
        """The oldest pending events as the next numbered batch, sent ahead of poll batches."""
        with self._tx() as db:
            rows = db.execute(
                "SELECT id, body FROM pending_events ORDER BY id LIMIT ?", (max_events,)
            ).fetchall()
            if not rows:
                return None
            seq = self._meta(db, "next_seq")
            body = self._body(seq, [], [text for _, text in rows])
            created = time.time()
            db.execute(
                "INSERT INTO batches (seq, created, samples, bytes, body, priority)"
                " VALUES (?, ?, 0, ?, ?, 1)",
                (seq, created, len(body), body),
            )
            db.execute("DELETE FROM pending_events WHERE id <= ?", (rows[-1][0],))
            self._bump(db, "next_seq", 1)
            self._enforce_bound(db)
        return Batch(seq, created, 0, body)

    def seal(self, max_samples: int = 500) -> Batch | None:
        """Turn the oldest pending results into the next numbered batch (one transaction)."""
        with self._tx() as db:
            rows = db.execute("SELECT id, body FROM pending ORDER BY id LIMIT ?", (max_samples,)).fetchall()
            if not rows:
                return None
            seq = self._meta(db, "next_seq")
            body = self._body(seq, [text for _, text in rows])
            created = time.time()
            db.execute(
                "INSERT INTO batches (seq, created, samples, bytes, body) VALUES (?, ?, ?, ?, ?)",
                (seq, created, len(rows), len(body), body),
            )
            db.execute("DELETE FROM pending WHERE id <= ?", (rows[-1][0],))
            self._bump(db, "next_seq", 1)
            self._enforce_bound(db)
        return Batch(seq, created, len(rows), body)

    def _body(self, seq: int, samples: list[str], events: list[str] | None = None) -> bytes:
        """The request body of a batch: the ingest contract, samples (and events) as committed."""
        head = f'"agent":{json.dumps(self.agent)},"epoch":{json.dumps(self.epoch)},"seq":{seq}'
        tail = f',"events":[{",".join(events)}]' if events else ""
        return f'{{{head},"samples":[{",".join(samples)}]{tail}}}'.encode()

    def _enforce_bound(self, db: sqlite3.Connection) -> None:
        """Drop the oldest batches until the spool fits its bound; count what was dropped."""
        total = db.execute(
            "SELECT (SELECT COALESCE(SUM(bytes), 0) FROM batches)"
            " + (SELECT COALESCE(SUM(bytes), 0) FROM pending)"
        ).fetchone()[0]
        while total > self.max_bytes:
            row = db.execute("SELECT seq, samples, bytes FROM batches ORDER BY seq LIMIT 1").fetchone()
            if row is None:
                break  # only pending rows left: they are sealed (and bounded) next time
            db.execute("DELETE FROM batches WHERE seq = ?", (row[0],))
            self._bump(db, "dropped_batches", 1)
            self._bump(db, "dropped_samples", row[1])
            total -= row[2]

    def ack(self, seq: int) -> bool:
        """The centre stored (or already had) this batch: forget it."""
        with self._tx() as db:
            return db.execute("DELETE FROM batches WHERE seq = ?", (seq,)).rowcount > 0

    def note_failure(self, seq: int, error: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE batches SET attempts = attempts + 1, last_error = ? WHERE seq = ?", (error[:500], seq)
            )

    def dead_letter(
        self, seq: int, status: int | None, reason: str, sample: int | Sequence[int] | None = None
    ) -> list[str]:
        """Move a permanently rejected batch aside (kept for inspection, never retried).

        With ``sample`` (the centre named ``samples[i]`` as the bad field, or listed the
        samples dated ahead of its clock) only those poll results move; the rest of the
        batch stays queued under the same ``seq``, which is safe because a refused batch
        is stored by the centre not at all.  Returns the devices whose results were moved.
        """
        with self._tx() as db:
            row = db.execute("SELECT created, body FROM batches WHERE seq = ?", (seq,)).fetchone()
            if row is None:
                return []
            doc = json.loads(bytes(row[1]))
            samples = doc["samples"] or doc.get("events") or []  # an events batch moves whole
            picked = {sample} if isinstance(sample, int) else set(sample or ())
            picked = {i for i in picked if 0 <= i < len(samples)}
            if picked and len(picked) < len(samples):
                bad = [x for i, x in enumerate(samples) if i in picked]
                samples = [x for i, x in enumerate(samples) if i not in picked]
                body = self._body(
                    seq, [json.dumps(x, ensure_ascii=False, separators=(",", ":")) for x in samples]
                )
                db.execute(
                    "UPDATE batches SET samples = ?, bytes = ?, body = ? WHERE seq = ?",
                    (len(samples), len(body), body, seq),
                )
            else:
                bad = samples
                db.execute("DELETE FROM batches WHERE seq = ?", (seq,))
            devices = sorted({str(x.get("device")) for x in bad if x.get("device")})
            db.execute(
                "INSERT INTO dead_letter (seq, created, moved, status, reason, samples, devices, body)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    seq,
                    row[0],
                    time.time(),
                    status,
                    reason[:2000],
                    len(bad),
                    ",".join(devices),
                    json.dumps(bad, ensure_ascii=False, separators=(",", ":")),
                ),
            )
            self._bump(db, "dead_batches", 1)
            self._bump(db, "dead_samples", len(bad))
        return devices

    def requeue_dead(self) -> int:
        """Queue dead-lettered results again (after fixing the cause); they get new batches."""
        with self._tx() as db:
            n = 0
            for (body,) in db.execute("SELECT body FROM dead_letter ORDER BY id").fetchall():
                for x in json.loads(body):
                    text = json.dumps(x, ensure_ascii=False, separators=(",", ":"))
                    table = "pending_events" if "kind" in x and "origin" in x else "pending"
                    db.execute(
                        f"INSERT INTO {table} (ts, bytes, body) VALUES (?, ?, ?)",
                        (float(x.get("ts") or x.get("time") or time.time()), len(text), text),
                    )
                    n += 1
            db.execute("DELETE FROM dead_letter")
        return n

    # -- reading ------------------------------------------------------------------
    def next_batches(self, exclude: set[int] | frozenset[int] = frozenset(), limit: int = 1) -> list[Batch]:
        """Oldest batches first, skipping those already in flight."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, created, samples, body FROM batches ORDER BY priority DESC, seq LIMIT ?",
                (limit + len(exclude),),
            ).fetchall()
        return [Batch(r[0], r[1], r[2], bytes(r[3])) for r in rows if r[0] not in exclude][:limit]

    def get(self, seq: int) -> Batch | None:
        with self._lock:
            r = self._db.execute(
                "SELECT seq, created, samples, body FROM batches WHERE seq = ?", (seq,)
            ).fetchone()
        return Batch(r[0], r[1], r[2], bytes(r[3])) if r else None

    def pending_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM pending").fetchone()[0])

    def stats(self) -> SpoolStats:
        with self._lock:
            db = self._db
            b = db.execute("SELECT COUNT(*), COALESCE(SUM(bytes), 0), MIN(created) FROM batches").fetchone()
            p = db.execute("SELECT COUNT(*), COALESCE(SUM(bytes), 0), MIN(ts) FROM pending").fetchone()
            dead_rows = db.execute("SELECT COUNT(*) FROM dead_letter").fetchone()[0]
            n_events = db.execute("SELECT COUNT(*) FROM pending_events").fetchone()[0]
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        oldest = min((t for t in (b[2], p[2]) if t is not None), default=None)
        return SpoolStats(
            batches=int(b[0]),
            bytes=int(b[1]) + int(p[1]),
            pending_samples=int(p[0]),
            oldest_age_s=max(0.0, time.time() - oldest) if oldest is not None else 0.0,
            dropped_batches=int(meta["dropped_batches"]),
            dropped_samples=int(meta["dropped_samples"]),
            dead_batches=int(meta["dead_batches"]),
            dead_samples=int(meta["dead_samples"]),
            dead_letter_rows=int(dead_rows),
            next_seq=int(meta["next_seq"]),
            epoch=self.epoch,
            pending_events=int(n_events),
            dropped_events=int(meta["dropped_events"]),
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()
        self._lockfile.close()  # releases the flock
