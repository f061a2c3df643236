"""Portal results in an agent's batch: checked by their own model beside the polls, refused
when the portal is not the agent's, stored once however often the batch is re-sent."""

from __future__ import annotations

import time

import pytest

from nms.config import ROOT
from nms.pipeline import ingest_batch
from nms.portals import store
from nms.refusals import BatchError
from probes.common.inventory import load_inventory
from tests.dashboards import synth


@pytest.fixture(scope="module")
def inv():
    return load_inventory(ROOT / "inventory.yaml")


def _check(pid: str, ts: float, **extra) -> dict:
    return {"portal": pid, "ts": ts, "ok": True, "url": "https://www.hefei.gov.cn/", "status": 200,
            "timings_ms": {"total": 20.0}, "findings": [], **extra}  # fmt: skip


def test_mixed_batch_is_stored_once(inv, centre_db, metrics_db) -> None:
    now = time.time()
    polls = [p for p in synth.polls(inv, now) if inv.devices[p["device"]].site == "hefei"][:2]
    samples = [polls[0], _check("hefei-www", now - 5), polls[1], _check("hefei-zwfw", now - 4)]
    body = {"agent": "hefei", "epoch": "e1", "seq": 1, "samples": samples}
    first = ingest_batch(metrics_db, centre_db, "hefei", body, inv)
    again = ingest_batch(metrics_db, centre_db, "hefei", body, inv)
    assert (first.accepted, first.duplicate, again.duplicate) == (2, False, True)
    rows = {r["portal"]: r for r in store.current(centre_db)}
    assert sorted(rows) == ["hefei-www", "hefei-zwfw"] and rows["hefei-www"]["state"] == "up"
    assert len(store.checks(centre_db, "hefei-www", now - 60, now + 1)) == 1


@pytest.mark.parametrize(
    ("sample", "status", "message"),
    [
        (_check("anhui-www", 0), 403, "samples[1].portal: 'anhui-www' is not probed by agent 'hefei'"),
        (_check("nowhere", 0), 422, "samples[1].portal: 'nowhere' is not in the inventory"),
        (_check("hefei-www", 0, findings=[{"kind": "hacked", "detail": "x"}]), 422,
         "samples[1].findings[0].kind: unknown finding 'hacked'"),
    ],
)  # fmt: skip
def test_bad_portal_results_are_refused_naming_the_sample(inv, centre_db, metrics_db, sample, status, message):  # noqa: E501
    now = time.time()
    poll = next(p for p in synth.polls(inv, now) if inv.devices[p["device"]].site == "hefei")
    sample = {**sample, "ts": now}
    bad_poll = dict(poll, ok="yes")
    with pytest.raises(BatchError) as info:
        body = {"agent": "hefei", "seq": 1, "samples": [poll, sample]}
        ingest_batch(metrics_db, centre_db, "hefei", body, inv)
    assert info.value.status == status and info.value.message.startswith(message)
    with pytest.raises(BatchError) as info:  # a bad poll after a portal result keeps its own index
        body = {"agent": "hefei", "seq": 2, "samples": [_check("hefei-www", now), bad_poll]}
        ingest_batch(metrics_db, centre_db, "hefei", body, inv)
    assert info.value.message.startswith("samples[1].ok"), info.value.message
    assert store.current(centre_db) == []
