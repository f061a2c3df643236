"""One agent batch from JSON to stored samples and state: validate, store once, update state.

Exactly-once: ``metrics.db`` records ``(agent, epoch, seq)`` in ``ingest_batches`` in the same
transaction as the batch's samples, so a crash leaves either the whole batch and its
seq or neither; a re-sent batch is then either stored or answered ``duplicate``.
State lives in ``centre.db`` (another file, so another transaction); it keeps its own
record of applied batches, so a batch whose samples were committed just before a crash
still reaches the state machine when the agent re-sends it.  ``epoch`` names the agent's
spool (a new spool starts its seq at 1 again); a batch without one is epoch ``""``.

On a remote time-series engine (``NMS_TSDB_URL``) the samples cannot share that transaction:
they are remote-written first and ``(agent, epoch, seq)`` is recorded only once the engine
acknowledged them.  Engine down or 5xx -> 503, nothing recorded, the agent keeps the batch and
re-sends it; a crash between the two steps makes the re-send write the same samples again,
which the engine keeps once (same series and timestamp).  Samples the engine refuses for
themselves (too old) are dead-lettered in ``ts_dead_letter`` with the batch, not lost with it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlite_utils
from pydantic import ValidationError

from ipam import observed
from nms import clockskew, state
from nms.db import transaction
from nms.events import store as event_log
from nms.portals import store as portals
from nms.refusals import BatchError, ClockSkew
from nms.store import Sample, SqliteTimeSeriesStore, TimeSeriesStore, add_key_column
from nms.store import ensure_schema as store_schema
from nms.tsdb.remote import Refused, TsdbUnavailable
from nms.updates import notify_state_updated
from probes.common import validation
from probes.common.inventory_model import Inventory
from probes.portals.result import PortalResult, is_portal
from probes.result import MAX_SAMPLES, Batch, PollResult

MAX_FUTURE_SKEW_S = 120.0  # default of Settings.ingest_max_future_skew_s
IF_NUMBERS = (
    "in_octets",
    "out_octets",
    "in_ucast_pkts",
    "out_ucast_pkts",
    "in_errors",
    "out_errors",
    "in_discards",
    "out_discards",
    "in_bps",
    "out_bps",
    "speed_bps",
)
STORED_IF_METRICS = tuple(m for m in IF_NUMBERS if m != "speed_bps")  # speed is not a time series


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicate: bool
    refused: int = 0  # samples the time-series engine refused (dead-lettered in ts_dead_letter)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"accepted": self.accepted, "duplicate": self.duplicate}
        if self.refused:
            out["refused_samples"] = self.refused
        return out


BATCHES_DDL = """CREATE TABLE IF NOT EXISTS ingest_batches (
    agent TEXT NOT NULL, epoch TEXT NOT NULL DEFAULT '', seq INTEGER NOT NULL, received REAL NOT NULL,
    samples INTEGER NOT NULL, PRIMARY KEY (agent, epoch, seq)) WITHOUT ROWID"""  # key columns in key order
DEAD_LETTER_DDL = """CREATE TABLE IF NOT EXISTS ts_dead_letter (
    id INTEGER PRIMARY KEY, agent TEXT NOT NULL, epoch TEXT NOT NULL, seq INTEGER NOT NULL,
    device TEXT NOT NULL, interface TEXT NOT NULL, metric TEXT NOT NULL, ts INTEGER NOT NULL,
    value REAL, reason TEXT NOT NULL, received REAL NOT NULL)"""


def ensure_schema(db: sqlite_utils.Database) -> None:
    store_schema(db)
    add_key_column(db, "ingest_batches", BATCHES_DDL, "epoch", "")  # centre.db from before epochs
    db.execute(BATCHES_DDL)
    db.execute(DEAD_LETTER_DDL)


def expire_batches(db: sqlite_utils.Database, before: float) -> int:
    """Forget the batch records received before ``before``; returns how many.

    They only guard against re-sends, and samples are keyed (source, ts), so an older
    re-send would overwrite identical values: the rollup job keeps them as long as the
    store's raw level (``nms serve``'s rollup loop calls this after the store's rollup).
    """
    with transaction(db):
        return db.execute("DELETE FROM ingest_batches WHERE received < ?", (before,)).rowcount


# ---- validation -------------------------------------------------------------------------


def _refused(exc: ValidationError) -> BatchError:
    """The first problem pydantic found, as ``field.path: problem`` (the agent reads the path)."""
    first = validation.lines(exc)
    more = f" (and {len(first) - 1} more)" if len(first) > 1 else ""
    return BatchError(422, first[0] + more)


def validate_poll(p: Any, where: str, now: float) -> PollResult:
    """Check one poll result against :class:`probes.result.PollResult` (docs/architecture.md)."""
    try:
        return PollResult.model_validate(p)
    except ValidationError as exc:
        raise BatchError(422, f"{where}.{validation.lines(exc)[0]}") from None


def check_skew(samples: list[dict], now: float, max_skew_s: float) -> None:
    """Raise :class:`ClockSkew` when a sample is dated more than ``max_skew_s`` after ``now``."""
    ahead = [i for i, p in enumerate(samples) if p["ts"] > now + max_skew_s]
    if ahead:
        raise ClockSkew(ahead, samples, now, max_skew_s)


def validate_batch(
    body: Any,
    agent: str,
    inventory: Inventory | None = None,
    now: float | None = None,
    max_skew_s: float = MAX_FUTURE_SKEW_S,
) -> None:
    """Raise :class:`BatchError` naming the first bad field; ``agent`` is the token's agent."""
    now = time.time() if now is None else now
    if not isinstance(body, dict):
        raise BatchError(400, "body: expected a JSON object {agent, epoch, seq, samples}")
    samples = body.get("samples")
    if isinstance(samples, list) and len(samples) > MAX_SAMPLES:
        raise BatchError(413, f"samples: {len(samples)} poll results; at most {MAX_SAMPLES} per batch")
    polls = [i for i, p in enumerate(samples) if not is_portal(p)] if isinstance(samples, list) else []
    mixed = isinstance(samples, list) and len(polls) < len(samples)  # portal results are checked apart
    try:
        Batch.model_validate({**body, "samples": [samples[i] for i in polls]} if mixed else body)
    except ValidationError as exc:
        raise _renumbered(_refused(exc), polls) from None
    validate_portals(samples, agent, inventory)
    if body["agent"] != agent:
        raise BatchError(403, f"agent: batch says {body['agent']!r} but the token belongs to {agent!r}")
    check_skew(samples, now, max_skew_s)
    if inventory is not None:
        mine = {d.name for d in inventory.devices_of_agent(agent)} if agent in inventory.agents else set()
        for i, p in enumerate(samples):
            if is_portal(p):
                continue
            if p["device"] not in inventory.devices:
                raise BatchError(422, f"samples[{i}].device: {p['device']!r} is not in the inventory")
            if p["device"] not in mine:
                raise BatchError(
                    403, f"samples[{i}].device: {p['device']!r} is not polled by agent {agent!r}"
                )


def _renumbered(exc: BatchError, polls: list[int]) -> BatchError:
    """A poll's error names its index among the polls; the agent needs its index in the batch."""
    m = re.match(r"samples\[(\d+)\]", exc.message)
    if m and int(m.group(1)) < len(polls):
        exc.message = f"samples[{polls[int(m.group(1))]}]{exc.message[m.end():]}"
    return exc


def validate_portals(samples: list, agent: str, inventory: Inventory | None) -> None:
    """Portal results: their model, and a portal of the inventory this agent probes."""
    for i, p in enumerate(samples):
        if not is_portal(p):
            continue
        try:
            PortalResult.model_validate(p)
        except ValidationError as exc:
            raise BatchError(422, f"samples[{i}].{validation.lines(exc)[0]}") from None
        if inventory is not None:
            portal = inventory.portals.get(p["portal"])
            if portal is None:
                raise BatchError(422, f"samples[{i}].portal: {p['portal']!r} is not in the inventory")
            if portal.agent != agent:
                text = f"{p['portal']!r} is not probed by agent {agent!r}"
                raise BatchError(403, f"samples[{i}].portal: {text}")


# ---- conversion -------------------------------------------------------------------------


def samples_of(poll: Mapping[str, Any]) -> list[Sample]:
    """The time-series samples of one poll result: device gauges and per-interface values."""
    dev, ts = poll["device"], int(round(poll["ts"]))
    values: dict[str, Any] = {"ok": 1 if poll["ok"] else 0}
    if poll.get("duration_s") is not None:
        values["poll_s"] = poll["duration_s"]
    for k, v in (poll.get("health") or {}).items():
        if v is not None:
            values[k] = v
    if poll.get("sessions") is not None:
        values["sessions"] = poll["sessions"]
    icmp = poll.get("icmp")
    if icmp is not None:
        values["icmp_alive"] = 1 if icmp["alive"] else 0
        for k in ("rtt_ms", "loss_pct"):
            if icmp.get(k) is not None:
                values[k] = icmp[k]
    uptime = (poll.get("identity") or {}).get("uptime_s")
    if uptime is not None:
        values["uptime_s"] = uptime
    out = [Sample(dev, "", ts, values)]
    for itf in poll.get("interfaces") or []:
        vals = {k: itf[k] for k in STORED_IF_METRICS if itf.get(k) is not None}
        if itf.get("oper") is not None:
            vals["oper_up"] = 1 if itf["oper"] == "up" else 0
        out.append(Sample(dev, itf["name"], ts, vals))
    return out


# ---- the batch ----------------------------------------------------------------------------


def _seen(db: sqlite_utils.Database, agent: str, epoch: str, seq: int) -> bool:
    row = db.execute(
        "SELECT 1 FROM ingest_batches WHERE agent = ? AND epoch = ? AND seq = ?", (agent, epoch, seq)
    ).fetchone()
    return row is not None


def store_batch(
    metrics_db: sqlite_utils.Database,
    agent: str,
    seq: int,
    samples: list[dict],
    epoch: str = "",
    store: TimeSeriesStore | None = None,
) -> IngestResult:
    """Samples and the (agent, epoch, seq) record, exactly once; a seen seq stores nothing.

    SQLite (``store`` None or on ``metrics_db``): both in one transaction.  A remote engine:
    the record only after the engine acknowledged the samples (module docstring).
    """
    store = store or SqliteTimeSeriesStore(metrics_db)
    local = isinstance(store, SqliteTimeSeriesStore) and store.db is metrics_db
    rows = [s for p in samples for s in samples_of(p)]
    refused: list[Refused] = []
    if not local:
        if _seen(metrics_db, agent, epoch, seq):
            return IngestResult(0, True)
        try:
            store.write(rows, refused)
        except TsdbUnavailable as exc:
            raise BatchError(
                503, f"time-series store unavailable, batch {agent}/{epoch or '-'}/{seq} not stored;"
                f" re-send it later ({exc})"
            ) from None
    now = time.time()
    with transaction(metrics_db):
        if _seen(metrics_db, agent, epoch, seq):  # a concurrent re-send recorded it meanwhile
            return IngestResult(0, True)
        if local:
            store.write(rows)
        metrics_db.execute(
            "INSERT INTO ingest_batches (agent, epoch, seq, received, samples) VALUES (?, ?, ?, ?, ?)",
            (agent, epoch, seq, now, len(samples)),
        )
        metrics_db.conn.executemany(
            "INSERT INTO ts_dead_letter (agent, epoch, seq, device, interface, metric, ts, value, reason,"
            " received) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(agent, epoch, seq, r.device, r.interface, r.metric, r.ts, r.value, r.reason, now)
             for r in refused],
        )
    return IngestResult(len(samples), False, len(refused))


def ingest_batch(
    metrics_db: sqlite_utils.Database,
    centre_db: sqlite_utils.Database | None,
    agent: str,
    body: Any,
    inventory: Inventory | None = None,
    now: float | None = None,
    max_skew_s: float = MAX_FUTURE_SKEW_S,
    store: TimeSeriesStore | None = None,
) -> IngestResult:
    """Validate, store exactly once, then feed the state machine (if ``centre_db`` is given).

    ``store`` is the time-series store (:func:`nms.timeseries.open_timeseries`; SQLite on
    ``metrics_db`` when None).

    A batch refused for clock skew is recorded (``centre_db``) for the agent-clock-skew alert.
    """
    now = time.time() if now is None else now
    try:
        validate_batch(body, agent, inventory, now, max_skew_s)
    except ClockSkew as exc:
        if centre_db is not None:
            clockskew.record(centre_db, agent, body["seq"], exc, now, body.get("epoch", ""))
            notify_state_updated()
        raise
    epoch = body.get("epoch", "")
    events = body.get("events") or []
    if events:
        store_events(centre_db, agent, epoch, body["seq"], events, inventory, now)
    polls = [p for p in body["samples"] if not is_portal(p)]
    checks = [p for p in body["samples"] if is_portal(p)]
    result = store_batch(metrics_db, agent, body["seq"], polls, epoch, store)
    if centre_db is not None and polls:
        state.apply_batch(centre_db, agent, body["seq"], polls, inventory, now=now, epoch=epoch)
    if centre_db is not None and checks:  # idempotent per check: a re-sent batch changes nothing
        portals.apply_results(centre_db, agent, checks, inventory, now)
    if centre_db is not None and (body["samples"] or events):
        notify_state_updated()  # wakes the evaluator thread (and the wall); never blocks ingest
    if centre_db is not None and inventory is not None and not result.duplicate and polls:
        _record_addresses(centre_db, polls, inventory)
    return result


def _record_addresses(centre_db: sqlite_utils.Database, samples: list[dict], inventory: Inventory) -> None:
    """What address polls saw, for reconciliation (ipam.observed); the batch is stored already,
    so a failure here is logged and never refuses it."""
    try:
        observed.record_batch(centre_db, samples, inventory)
    except Exception:  # noqa: BLE001 - the samples are stored; reconciliation waits for the next poll
        logging.getLogger(__name__).exception("storing the address tables of a batch failed")


def store_events(
    centre_db: sqlite_utils.Database | None,
    agent: str,
    epoch: str,
    seq: int,
    events: list[Any],
    inventory: Inventory | None,
    now: float,
) -> int:
    """The batch's events into the event log, once each (keyed by agent, epoch, seq, index).

    They go first: a crash after them and before the batch record makes the agent re-send,
    and the re-sent events are recognised; a bad event refuses the whole batch (422).
    """
    if centre_db is None:
        raise BatchError(503, "events: the centre database is not available; re-send later")
    site_of = {d.name: d.site for d in inventory.devices.values()} if inventory is not None else {}
    try:
        return event_log.store(centre_db, agent, epoch, seq, events, site_of, now)
    except event_log.BadEvents as exc:
        more = f" (and {len(exc.errors) - 1} more)" if len(exc.errors) > 1 else ""
        raise BatchError(422, exc.errors[0] + more) from None
