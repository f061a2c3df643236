"""Ingest without HTTP: validation, exactly-once storage, what lands in metrics.db."""

from __future__ import annotations

import copy
import time

import pytest

from nms.pipeline import BatchError, expire_batches, ingest_batch
from nms.store import SqliteTimeSeriesStore
from tests.centre.helpers import T0, batch, poll, small_inventory


def counts(metrics_db, centre_db=None):
    out = {
        "head": metrics_db.execute("SELECT count(*) FROM ts_head").fetchone()[0],
        "batches": metrics_db.execute("SELECT count(*) FROM ingest_batches").fetchone()[0],
    }
    if centre_db is not None:
        out["applied"] = centre_db.execute("SELECT count(*) FROM state_applied").fetchone()[0]
    return out


def test_batch_stored_once_and_duplicate_answered(metrics_db, centre_db):
    inv = small_inventory()
    body = batch("hefei", 1, [poll("hefei-rtr1", T0), poll("feidong-rtr1", T0)])
    first = ingest_batch(metrics_db, centre_db, "hefei", body, inv, now=T0)
    assert first.as_dict() == {"accepted": 2, "duplicate": False}
    after_first = counts(metrics_db, centre_db)
    # 2 device rows + 3 interface rows
    assert after_first == {"head": 5, "batches": 1, "applied": 1}
    again = ingest_batch(metrics_db, centre_db, "hefei", copy.deepcopy(body), inv, now=T0)
    assert again.as_dict() == {"accepted": 0, "duplicate": True}
    assert counts(metrics_db, centre_db) == after_first
    # same seq from another agent is another batch
    other = batch("prov", 1, [poll("prov-rtr1", T0)])
    assert ingest_batch(metrics_db, centre_db, "prov", other, inv, now=T0).accepted == 1


def test_old_batch_records_expire_and_a_resend_after_that_is_stored_again(metrics_db):
    assert expire_batches(metrics_db, time.time()) == 0  # no table yet: nothing to do
    inv = small_inventory()
    ingest_batch(metrics_db, None, "hefei", batch("hefei", 1, [poll("hefei-rtr1", T0)]), inv, now=T0)
    between = time.time()
    time.sleep(0.01)
    ingest_batch(metrics_db, None, "hefei", batch("hefei", 2, [poll("hefei-rtr1", T0 + 60)]), inv, now=T0)
    assert expire_batches(metrics_db, between) == 1
    assert [s for (s,) in metrics_db.execute("SELECT seq FROM ingest_batches ORDER BY seq")] == [2]
    again = batch("hefei", 1, [poll("hefei-rtr1", T0)])
    assert ingest_batch(metrics_db, None, "hefei", again, inv, now=T0).duplicate is False


def test_counters_kept_exactly_and_rates_as_given(metrics_db):
    big = 2**64 - 5  # a 64-bit counter about to wrap
    body = batch("hefei", 7, [poll("hefei-rtr1", T0, octets=big // 2)])
    body["samples"][0]["interfaces"][0]["in_bps"] = None  # agent could not prove a rate
    ingest_batch(metrics_db, None, "hefei", body, None, now=T0)
    s = SqliteTimeSeriesStore(metrics_db).read_range(
        "hefei-rtr1", "POS1/0/0", ["in_octets", "out_octets", "in_bps", "out_bps"], T0 - 60, T0 + 60, "raw"
    )
    assert s.ts == [T0]
    assert s.columns["in_octets"] == [big // 2]
    assert s.columns["out_octets"] == [2 * (big // 2)]
    assert s.columns["in_bps"] == [None]
    assert s.columns["out_bps"] == [99.0]


BAD = [
    (lambda b: b.pop("seq"), 422, "seq"),
    (lambda b: b.update(seq=-1), 422, "seq"),
    (lambda b: b.update(seq="3"), 422, "seq"),
    (lambda b: b.update(samples={}), 422, "samples"),
    (lambda b: b["samples"][1].pop("ts"), 422, "samples[1].ts"),
    (lambda b: b["samples"][1].update(ok="yes"), 422, "samples[1].ok"),
    (
        lambda b: b["samples"][1]["interfaces"][0].update(in_octets=-4),
        422,
        "samples[1].interfaces[0].in_octets",
    ),
    (
        lambda b: b["samples"][1]["interfaces"][0].update(in_octets=1.5),
        422,
        "samples[1].interfaces[0].in_octets",
    ),
    (
        lambda b: b["samples"][1]["interfaces"][0].update(oper="sideways"),
        422,
        "samples[1].interfaces[0].oper",
    ),
    (
        lambda b: b["samples"][1]["interfaces"][0].update(out_bps="fast"),
        422,
        "samples[1].interfaces[0].out_bps",
    ),
    (lambda b: b["samples"][1].update(icmp={"alive": 1}), 422, "samples[1].icmp.alive"),
    (
        lambda b: b["samples"][1].update(icmp={"alive": True, "rtt_ms": 2.0, "loss_pct": 150}),
        422,
        "samples[1].icmp.loss_pct",
    ),
    (lambda b: b["samples"][1]["health"].update(cpu_pct=float("nan")), 422, "samples[1].health.cpu_pct"),
    (lambda b: b["samples"][0].update(device="nowhere-rtr9"), 422, "samples[0].device"),
    (
        lambda b: b["samples"][1].update(failed=[{"plugin": "", "error": "x"}]),
        422,
        "samples[1].failed[0].plugin",
    ),
    (lambda b: b["samples"][1].update(failed="health"), 422, "samples[1].failed: expected a list"),
    (lambda b: b["samples"][0].update(device="prov-rtr1"), 403, "samples[0].device"),
    (lambda b: b.update(agent="wuhu"), 403, "agent"),
    (
        lambda b: b["samples"][1]["sdh"][0]["buckets"][0].update(uas="many"),
        422,
        "samples[1].sdh[0].buckets[0].uas",
    ),
]


@pytest.mark.parametrize("spoil, status, field", BAD)
def test_malformed_batch_rejected_whole(metrics_db, centre_db, spoil, status, field):
    inv = small_inventory()
    body = batch("hefei", 3, [poll("feidong-rtr1", T0), poll("hefei-rtr1", T0, uas=[(T0 - 60, 0)])])
    spoil(body)
    with pytest.raises(BatchError) as err:
        ingest_batch(metrics_db, centre_db, "hefei", body, inv, now=T0)
    assert err.value.status == status
    assert err.value.message.startswith(field), err.value.message
    # the tables were made at start (the fixtures open migrated databases); nothing went into them
    for db, table in ((metrics_db, "ts_head"), (metrics_db, "ingest_batches"), (centre_db, "state_events"),
                      (centre_db, "state_applied"), (centre_db, "state_current")):
        assert db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table


def test_body_not_an_object():
    with pytest.raises(BatchError) as err:
        ingest_batch(None, None, "hefei", [1, 2], None)  # type: ignore[arg-type]
    assert err.value.status == 400


def test_ping_rtt_and_loss_are_stored_as_series():
    from nms.pipeline import samples_of

    p = poll("hefei-rtr1", T0, ok=False, icmp={"alive": True, "rtt_ms": 12.5, "loss_pct": 25.0, "sent": 4})
    (dev,) = [s for s in samples_of(p) if s.interface == ""]
    assert dev.values["rtt_ms"] == 12.5 and dev.values["loss_pct"] == 25.0 and dev.values["ok"] == 0


def test_sample_dated_ahead_is_refused_and_cannot_freeze_the_state(metrics_db, centre_db):
    """One ``up`` sample 23 h ahead (agent clock jumped) must not keep a failing device up."""
    from nms.pipeline import ClockSkew
    from nms.state import StateConfig, load

    inv = small_inventory()
    ingest_batch(metrics_db, centre_db, "hefei", batch("hefei", 1, [poll("feidong-rtr1", T0)]), inv, now=T0)
    before = counts(metrics_db, centre_db)
    ahead = batch("hefei", 2, [poll("hefei-rtr1", T0 + 20), poll("feidong-rtr1", T0 + 23 * 3600)])
    with pytest.raises(ClockSkew) as err:
        ingest_batch(metrics_db, centre_db, "hefei", ahead, inv, now=T0 + 30, max_skew_s=120)
    assert err.value.status == 422
    msg = err.value.message
    assert msg.startswith("samples[1].ts: ") and str(T0 + 23 * 3600) in msg and str(T0 + 30) in msg
    assert "at most 120 s ahead" in msg and "clock skew" in msg
    assert err.value.extra["clock_skew"]["samples"] == [1]
    assert counts(metrics_db, centre_db) == before  # nothing of the batch stored, not even the good sample
    for k, t in ((3, T0 + 60), (4, T0 + 120)):  # the device really fails now
        ingest_batch(metrics_db, centre_db, "hefei", batch("hefei", k, [poll("feidong-rtr1", t, ok=False)]),
                     inv, now=t + 1)
    assert load(centre_db, StateConfig(2, 1)).subjects[("device", "feidong-rtr1")].state == "down"


def test_skew_allowance_is_a_setting(metrics_db, monkeypatch):
    from nms.config import Settings

    monkeypatch.setenv("NMS_INGEST_MAX_FUTURE_SKEW_S", "600")
    assert Settings().ingest_max_future_skew_s == 600
    body = batch("hefei", 1, [poll("hefei-rtr1", T0 + 300)])
    assert ingest_batch(metrics_db, None, "hefei", body, None, now=T0, max_skew_s=600).accepted == 1
    monkeypatch.setenv("NMS_INGEST_MAX_FUTURE_SKEW_S", "soon")
    with pytest.raises(ValueError, match="NMS_INGEST_MAX_FUTURE_SKEW_S"):
        Settings()
