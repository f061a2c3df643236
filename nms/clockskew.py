"""Batches refused because an agent's clock runs ahead: the record the agent-clock-skew alert reads.

Ingest refuses a batch with a sample dated too far ahead of the centre's clock
(:class:`nms.pipeline.ClockSkew`) and notes it here, one row per agent (``ingest_*`` tables
belong to ingest).  The agent is skewed while its latest refused batch is at least as new
(by ``seq``, which only grows per agent) as the newest batch the centre accepted from it:
a batch sealed after the refusal and accepted means the agent's samples are in time again.
"""

from __future__ import annotations

import sqlite_utils

from nms.pipeline import ClockSkew
from nms.store import run_ddl

# The open refusals: the agent has not had a newer batch accepted since (state_applied is nms.state's).
OPEN_SQL = """SELECT k.agent, k.seq, k.first_refused_at, k.refused_at, k.sample_ts, k.ahead_s,
                     k.max_skew_s, k.refusals
              FROM ingest_clock_skew k
              WHERE k.seq >= COALESCE((SELECT MAX(a.seq) FROM state_applied a WHERE a.agent = k.agent), -1)
              ORDER BY k.agent"""


def ensure_schema(db: sqlite_utils.Database) -> None:
    from nms.state import ensure_schema as state_schema

    state_schema(db)
    run_ddl(
        db,
        """CREATE TABLE IF NOT EXISTS ingest_clock_skew (
            agent TEXT PRIMARY KEY, seq INTEGER NOT NULL, first_refused_at REAL NOT NULL,
            refused_at REAL NOT NULL, sample_ts REAL NOT NULL, ahead_s REAL NOT NULL,
            max_skew_s REAL NOT NULL, refusals INTEGER NOT NULL) WITHOUT ROWID""",
    )


def record(db: sqlite_utils.Database, agent: str, seq: int, err: ClockSkew, now: float) -> None:
    """Note a refused batch; a refusal while the agent is still skewed keeps the first time."""
    ensure_schema(db)
    db.execute("BEGIN IMMEDIATE")
    try:
        still = {row[0]: row for row in db.execute(OPEN_SQL)}.get(agent)
        first, count = (still[2], still[7] + 1) if still is not None else (now, 1)
        db.execute(
            "INSERT OR REPLACE INTO ingest_clock_skew (agent, seq, first_refused_at, refused_at, sample_ts,"
            " ahead_s, max_skew_s, refusals) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (agent, max(seq, still[1]) if still else seq, first, now, err.sample_ts,
             err.sample_ts - err.centre_ts, err.max_skew_s, count),
        )
        db.execute("COMMIT")
    except BaseException:
        if db.conn.in_transaction:
            db.execute("ROLLBACK")
        raise

