"""Batches refused because an agent's clock runs ahead: the record the agent-clock-skew alert reads.

Ingest refuses a batch with a sample dated too far ahead of the centre's clock
(:class:`nms.refusals.ClockSkew`) and notes it here, one row per agent (``ingest_*`` tables
belong to ingest).  The agent is skewed while its latest refused batch is at least as new
(by ``seq``, which only grows within one spool epoch) as the newest batch of that epoch the
centre accepted from it: a batch sealed after the refusal and accepted means the agent's
samples are in time again.  So does a new epoch first accepted after the refusal (a new
spool: every batch of it was sealed after the refused one).
"""

from __future__ import annotations

import sqlite3
from typing import NamedTuple

import sqlite_utils

from nms import state
from nms.db import transaction
from nms.refusals import ClockSkew
from nms.store import run_ddl


class Refusal(NamedTuple):
    """An agent's latest refused batch (one row of ``ingest_clock_skew``)."""

    agent: str
    seq: int
    first_refused_at: float
    refused_at: float
    sample_ts: float
    ahead_s: float
    max_skew_s: float
    refusals: int


def open_refusals(db: sqlite_utils.Database) -> list[Refusal]:
    """The agents still skewed: none of their batches accepted since (what was accepted is nms.state's)."""
    out = []
    for *row, epoch in db.execute(
        "SELECT agent, seq, first_refused_at, refused_at, sample_ts, ahead_s, max_skew_s, refusals, epoch"
        " FROM ingest_clock_skew ORDER BY agent"
    ).fetchall():
        k = Refusal(*row)
        accepted = state.last_applied_seq(db, k.agent, epoch)
        if k.seq >= (-1 if accepted is None else accepted) and not state.epoch_started_after(
            db, k.agent, epoch, k.refused_at
        ):
            out.append(k)
    return out


class AgentClock(NamedTuple):
    """An agent's clock as last seen when it fetched its configuration (``ingest_agent_clock``)."""

    agent: str
    skew_s: float  # agent minus centre: positive = the agent runs ahead
    seen_at: float


def note_agent_clock(db: sqlite_utils.Database, agent: str, skew_s: float, now: float) -> None:
    """Keep the latest measured offset of an agent's clock (its ``X-Agent-Time`` against ours)."""
    with transaction(db):
        db.execute(
            "INSERT OR REPLACE INTO ingest_agent_clock (agent, skew_s, seen_at) VALUES (?, ?, ?)",
            (agent, skew_s, now),
        )


def agent_clocks(db: sqlite_utils.Database) -> list[AgentClock]:
    rows = db.execute("SELECT agent, skew_s, seen_at FROM ingest_agent_clock ORDER BY agent")
    return [AgentClock(*r) for r in rows]


def ensure_schema(db: sqlite_utils.Database) -> None:
    state.ensure_schema(db)
    run_ddl(
        db,
        """CREATE TABLE IF NOT EXISTS ingest_agent_clock (
            agent TEXT PRIMARY KEY, skew_s REAL NOT NULL, seen_at REAL NOT NULL) WITHOUT ROWID""",
    )
    run_ddl(
        db,
        """CREATE TABLE IF NOT EXISTS ingest_clock_skew (
            agent TEXT PRIMARY KEY, seq INTEGER NOT NULL, first_refused_at REAL NOT NULL,
            refused_at REAL NOT NULL, sample_ts REAL NOT NULL, ahead_s REAL NOT NULL,
            max_skew_s REAL NOT NULL, refusals INTEGER NOT NULL, epoch TEXT NOT NULL DEFAULT '')
            WITHOUT ROWID""",
    )
    if "epoch" not in [r[1] for r in db.execute("PRAGMA table_info(ingest_clock_skew)")]:
        try:  # a table from before epochs
            db.execute("ALTER TABLE ingest_clock_skew ADD COLUMN epoch TEXT NOT NULL DEFAULT ''")
        except sqlite3.OperationalError as exc:
            if "duplicate column" not in str(exc):  # another connection added it meanwhile
                raise


def _epoch_of(db: sqlite_utils.Database, agent: str) -> str | None:
    row = db.execute("SELECT epoch FROM ingest_clock_skew WHERE agent = ?", (agent,)).fetchone()
    return row[0] if row else None


def record(
    db: sqlite_utils.Database, agent: str, seq: int, err: ClockSkew, now: float, epoch: str = ""
) -> None:
    """Note a refused batch; a refusal while the agent is still skewed keeps the first time."""
    with transaction(db):
        still = {row.agent: row for row in open_refusals(db)}.get(agent)
        first, count = (still[2], still[7] + 1) if still is not None else (now, 1)
        same = still is not None and _epoch_of(db, agent) == epoch
        db.execute(
            "INSERT OR REPLACE INTO ingest_clock_skew (agent, seq, first_refused_at, refused_at, sample_ts,"
            " ahead_s, max_skew_s, refusals, epoch) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (agent, max(seq, still[1]) if same else seq, first, now, err.sample_ts,
             err.sample_ts - err.centre_ts, err.max_skew_s, count, epoch),
        )

