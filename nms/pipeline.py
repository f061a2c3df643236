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

import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from nms.db import transaction
from nms.store import Sample, SqliteTimeSeriesStore, TimeSeriesStore, add_key_column
from nms.store import ensure_schema as store_schema
from probes.common.inventory_model import Inventory

MAX_SAMPLES = 20000
MAX_FUTURE_SKEW_S = 120.0  # default of Settings.ingest_max_future_skew_s
LAST_PLAUSIBLE_TS = 4102444800  # 2100-01-01: later is not a clock running ahead but a unit error
DEVICE_METRICS = {"cpu_pct", "mem_pct", "temperature_c"}
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
IF_STATUS = {"up", "down", "testing", "unknown", "dormant", "notPresent", "lowerLayerDown"}
EPOCH_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class BatchError(ValueError):
    """A batch refused whole; ``status`` is the HTTP status to answer with, ``extra`` more JSON."""

    def __init__(self, status: int, message: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra or {}


class ClockSkew(BatchError):
    """Samples dated too far ahead of the centre's clock: the agent's clock is wrong.

    ``extra["clock_skew"]["samples"]`` lists every such sample, so an agent can set them
    all aside in one go instead of one round trip per sample.
    """

    def __init__(self, ahead: list[int], samples: list[dict], now: float, max_skew_s: float) -> None:
        first = ahead[0]
        ts = samples[first]["ts"]
        super().__init__(
            422,
            f"samples[{first}].ts: {ts} is {ts - now:.0f} s ahead of the centre's clock ({now:.0f});"
            f" at most {max_skew_s:g} s ahead is accepted (NMS_INGEST_MAX_FUTURE_SKEW_S)."
            f" Agent clock skew: {len(ahead)} of {len(samples)} samples are ahead, the batch is refused"
            " whole; fix the agent's clock (NTP)",
            {
                "clock_skew": {
                    "sample_ts": ts,
                    "centre_ts": now,
                    "ahead_s": ts - now,
                    "max_skew_s": max_skew_s,
                    "samples": ahead,
                }
            },
        )
        self.sample_ts = ts
        self.centre_ts = now
        self.max_skew_s = max_skew_s


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
    if not db["ingest_batches"].exists():
        return 0
    with transaction(db):
        return db.execute("DELETE FROM ingest_batches WHERE received < ?", (before,)).rowcount


# ---- validation -------------------------------------------------------------------------


def _num(value: Any, where: str, *, null: bool = True) -> None:
    if value is None and null:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BatchError(422, f"{where}: expected a number{' or null' if null else ''}, got {value!r:.40}")
    if isinstance(value, float) and not math.isfinite(value):
        raise BatchError(422, f"{where}: not a finite number")


def _str(value: Any, where: str, *, null: bool = False) -> None:
    if value is None and null:
        return
    if not isinstance(value, str) or (not null and not value):
        raise BatchError(422, f"{where}: expected a non-empty string, got {value!r:.40}")


def _list(value: Any, where: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise BatchError(422, f"{where}: expected a list")
    return value


def _dict(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise BatchError(422, f"{where}: expected an object")
    return value


def validate_poll(p: Any, where: str, now: float) -> None:
    """Check one poll result against the contract in docs/architecture.md."""
    p = _dict(p, where)
    _str(p.get("device"), f"{where}.device")
    _num(p.get("ts"), f"{where}.ts", null=False)
    if not (946684800 <= p["ts"] <= LAST_PLAUSIBLE_TS):
        raise BatchError(422, f"{where}.ts: {p['ts']} is not a plausible Unix time")
    if not isinstance(p.get("ok"), bool):
        raise BatchError(422, f"{where}.ok: expected true or false")
    _str(p.get("error"), f"{where}.error", null=True)
    if p.get("health") is not None:
        for k, v in _dict(p["health"], f"{where}.health").items():
            _num(v, f"{where}.health.{k}")
    _num(p.get("sessions"), f"{where}.sessions")
    _num(p.get("duration_s"), f"{where}.duration_s")
    icmp = p.get("icmp")
    if icmp is not None:
        icmp = _dict(icmp, f"{where}.icmp")
        if not isinstance(icmp.get("alive"), bool):
            raise BatchError(422, f"{where}.icmp.alive: expected true or false")
        _num(icmp.get("rtt_ms"), f"{where}.icmp.rtt_ms")
        _num(icmp.get("loss_pct"), f"{where}.icmp.loss_pct")
        if icmp.get("loss_pct") is not None and not 0 <= icmp["loss_pct"] <= 100:
            raise BatchError(422, f"{where}.icmp.loss_pct: {icmp['loss_pct']} is not between 0 and 100")
    if p.get("identity") is not None:
        ident = _dict(p["identity"], f"{where}.identity")
        _num(ident.get("uptime_s"), f"{where}.identity.uptime_s")
    names = set()
    for i, itf in enumerate(_list(p.get("interfaces"), f"{where}.interfaces")):
        w = f"{where}.interfaces[{i}]"
        itf = _dict(itf, w)
        _str(itf.get("name"), f"{w}.name")
        if itf["name"] in names:
            raise BatchError(422, f"{w}.name: {itf['name']!r} appears twice")
        names.add(itf["name"])
        _num(itf.get("index"), f"{w}.index")
        for k in IF_NUMBERS:
            _num(itf.get(k), f"{w}.{k}")
            if k.endswith(("_octets", "_pkts", "_errors", "_discards")) and itf.get(k) is not None:
                if not isinstance(itf[k], int) or itf[k] < 0:
                    raise BatchError(422, f"{w}.{k}: a counter is a non-negative integer")
        for k in ("admin", "oper"):
            if itf.get(k) is not None and itf[k] not in IF_STATUS:
                raise BatchError(422, f"{w}.{k}: {itf[k]!r} is not an ifOperStatus name")
    for i, t in enumerate(_list(p.get("tunnels"), f"{where}.tunnels")):
        t = _dict(t, f"{where}.tunnels[{i}]")
        if t.get("state") not in ("up", "down", "unknown"):
            raise BatchError(422, f"{where}.tunnels[{i}].state: expected up, down or unknown")
    for i, s in enumerate(_list(p.get("sdh"), f"{where}.sdh")):
        w = f"{where}.sdh[{i}]"
        s = _dict(s, w)
        _num(s.get("ifIndex"), f"{w}.ifIndex", null=False)
        for k in ("section_status", "line_status", "path_status"):
            if not all(isinstance(x, str) for x in _list(s.get(k), f"{w}.{k}")):
                raise BatchError(422, f"{w}.{k}: expected a list of strings")
        for j, b in enumerate(_list(s.get("buckets"), f"{w}.buckets")):
            b = _dict(b, f"{w}.buckets[{j}]")
            _num(b.get("interval_end"), f"{w}.buckets[{j}].interval_end", null=False)
            for k in ("es", "ses", "uas"):
                _num(b.get(k), f"{w}.buckets[{j}].{k}")
            for layer in ("section", "line", "path"):
                if b.get(layer) is not None:
                    for k, v in _dict(b[layer], f"{w}.buckets[{j}].{layer}").items():
                        _num(v, f"{w}.buckets[{j}].{layer}.{k}")


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
    _str(body.get("agent"), "agent")
    if body["agent"] != agent:
        raise BatchError(403, f"agent: batch says {body['agent']!r} but the token belongs to {agent!r}")
    epoch = body.get("epoch", "")
    if not isinstance(epoch, str) or (epoch and not EPOCH_RE.match(epoch)):
        raise BatchError(422, f"epoch: expected 1-64 letters, digits, '-' or '_', got {epoch!r:.40}")
    seq = body.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise BatchError(422, f"seq: expected a non-negative integer, got {seq!r:.40}")
    samples = body.get("samples")
    if not isinstance(samples, list):
        raise BatchError(422, "samples: expected a list of poll results")
    if len(samples) > MAX_SAMPLES:
        raise BatchError(413, f"samples: {len(samples)} poll results; at most {MAX_SAMPLES} per batch")
    for i, p in enumerate(samples):
        validate_poll(p, f"samples[{i}]", now)
    check_skew(samples, now, max_skew_s)
    if inventory is not None:
        mine = {d.name for d in inventory.devices_of_agent(agent)} if agent in inventory.agents else set()
        for i, p in enumerate(samples):
            if p["device"] not in inventory.devices:
                raise BatchError(422, f"samples[{i}].device: {p['device']!r} is not in the inventory")
            if p["device"] not in mine:
                raise BatchError(
                    403, f"samples[{i}].device: {p['device']!r} is not polled by agent {agent!r}"
                )


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
    from nms.tsdb.remote import Refused, TsdbUnavailable

    ensure_schema(metrics_db)
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

    ``store`` is the time-series store (:func:`nms.store.open_timeseries`; SQLite on
    ``metrics_db`` when None).

    A batch refused for clock skew is recorded (``centre_db``) for the agent-clock-skew alert.
    """
    now = time.time() if now is None else now
    try:
        validate_batch(body, agent, inventory, now, max_skew_s)
    except ClockSkew as exc:
        if centre_db is not None:
            from nms import clockskew

            clockskew.record(centre_db, agent, body["seq"], exc, now, body.get("epoch", ""))
            from nms.alerts.engine import notify_state_updated

            notify_state_updated()
        raise
    epoch = body.get("epoch", "")
    result = store_batch(metrics_db, agent, body["seq"], body["samples"], epoch, store)
    if centre_db is not None:
        from nms.state import apply_batch

        apply_batch(centre_db, agent, body["seq"], body["samples"], inventory, now=now, epoch=epoch)
        from nms.alerts.engine import notify_state_updated

        notify_state_updated()  # wakes the evaluator thread; never blocks ingest
    return result
