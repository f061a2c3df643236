"""Exactly-once ingest onto a real VictoriaMetrics / Prometheus: outages, 5xx, refused samples.

The (agent, epoch, seq) record is written only after the engine acknowledged the samples
(nms/pipeline.py); these tests stop the real engine in the middle of ingest and count what
it holds afterwards: every poll once, none twice, none lost.
"""

from __future__ import annotations

import http.server
import json
import logging
import threading
import time
import urllib.parse
import urllib.request

import pytest

from nms.pipeline import BatchError, ingest_batch, store_batch
from nms.store import Retention, Sample
from nms.timeseries import open_timeseries
from nms.tsdb.remote import RemoteWriteStore
from tests.centre.helpers import batch, poll, small_inventory
from tests.support.tsdb import PrometheusReceiver, VictoriaMetrics, prometheus_rw  # noqa: F401

NOW = int(time.time()) // 60 * 60
T = NOW - 3 * 3600  # polls of three hours ago: inside the engines' retention, before "now"


@pytest.fixture
def vm(tmp_path):
    engine = VictoriaMetrics(tmp_path)
    engine.start()
    yield engine
    engine.stop()


def flush(engine) -> None:
    if isinstance(engine, VictoriaMetrics):
        urllib.request.urlopen(engine.url + "/internal/force_flush", timeout=10).read()


def polls_stored(engine, device: str) -> int:
    """How many samples of the device's ``ok`` series the engine holds (a doubled one counts twice)."""
    flush(engine)
    result = query(engine, f'count_over_time(nms_device_ok{{device="{device}"}}[1d])')
    return int(float(result[0]["value"][1])) if result else 0


def query(engine, expr: str) -> list[dict]:
    q = urllib.parse.urlencode({"query": expr, "time": NOW})
    with urllib.request.urlopen(f"{engine.url}/api/v1/query?{q}", timeout=10) as resp:
        return json.loads(resp.read())["data"]["result"]


def recorded(metrics_db) -> list[int]:
    return [s for (s,) in metrics_db.execute("SELECT seq FROM ingest_batches ORDER BY seq")]


def test_engine_stopped_during_ingest_loses_and_doubles_nothing(vm, metrics_db, centre_db, settings):
    """An agent-like loop keeps every unacknowledged batch and re-sends it; the engine goes away and back."""
    settings.tsdb_url = vm.url
    inv = small_inventory()
    store = open_timeseries(settings, metrics_db, inv)
    assert isinstance(store, RemoteWriteStore)
    store.timeout_s = 2
    pending = [batch("hefei", seq, [poll("hefei-rtr1", T + 60 * seq)]) for seq in range(1, 41)]
    refused_503 = 0
    sent = 0
    while pending:
        if sent == 10:
            vm.stop()  # the engine dies with 30 batches still to come
        if sent == 20:
            vm.start()  # ... and is back on the same port and data directory
        body = pending[0]
        try:
            ingest_batch(metrics_db, centre_db, "hefei", body, inv, now=NOW, store=store)
            pending.pop(0)
        except BatchError as exc:
            assert exc.status == 503 and "re-send it later" in exc.message, exc.message
            assert vm.proc.poll() is not None  # refused only while the engine was down
            refused_503 += 1
        sent += 1
    assert refused_503 == 10
    assert recorded(metrics_db) == list(range(1, 41))
    assert polls_stored(vm, "hefei-rtr1") == 40
    # a batch written just before a crash (samples acknowledged, seq not recorded) is re-sent: still once
    crashed = batch("hefei", 41, [poll("hefei-rtr1", T + 60 * 41)])
    from nms.pipeline import samples_of

    store.write([s for p in crashed["samples"] for s in samples_of(p)])
    assert ingest_batch(metrics_db, centre_db, "hefei", crashed, inv, now=NOW, store=store).accepted == 1
    assert ingest_batch(metrics_db, centre_db, "hefei", crashed, inv, now=NOW, store=store).duplicate
    assert polls_stored(vm, "hefei-rtr1") == 41
    # the series carry the inventory's labels and Prometheus names
    got = query(vm, 'last_over_time(nms_interface_in_octets_total{site="hefei",network="internal"}[1d])')
    ends = sorted((r["metric"]["device"], r["metric"]["interface"]) for r in got)
    assert ends == [("hefei-rtr1", "GE0/0/2"), ("hefei-rtr1", "POS1/0/0")]


class _Failing(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(503)
        self.end_headers()
        self.wfile.write(b"overloaded")

    def log_message(self, *args) -> None:
        pass


def test_engine_answering_5xx_leaves_the_batch_unacknowledged(metrics_db):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        store = RemoteWriteStore(f"http://127.0.0.1:{server.server_port}", retention=Retention())
        with pytest.raises(BatchError) as err:
            store_batch(metrics_db, "hefei", 1, [poll("hefei-rtr1", T)], store=store)
        assert err.value.status == 503
        assert "HTTP 503" in err.value.message and "overloaded" in err.value.message
        assert recorded(metrics_db) == []
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("engine", ["victoriametrics", "prometheus"])
def test_too_old_sample_is_dead_lettered_not_the_batch(engine, request, metrics_db, caplog):
    """Prometheus refuses it itself (HTTP 400, older than its out-of-order window); before
    VictoriaMetrics silently drops what is outside its retention, the store refuses it."""
    if engine == "victoriametrics":
        target = request.getfixturevalue("vm")
        store = RemoteWriteStore(target.url, retention=Retention(), max_age_s=30 * 86400)
    else:
        target = request.getfixturevalue("prometheus_rw")
        store = RemoteWriteStore(target.url, retention=Retention(), max_age_s=10 * 365 * 86400)
        store.write([Sample("warm-up", "", NOW, {"ok": 1})])  # its head now ends at NOW: 45 days is too old
    device = f"feidong-rtr1-{engine}"
    old, fresh = poll(device, NOW - 45 * 86400), poll(device, T)
    with caplog.at_level(logging.WARNING, logger="nms.tsdb.remote"):
        result = store_batch(metrics_db, "hefei", 7, [fresh, old], store=store)
    dead = metrics_db.execute("SELECT DISTINCT device, ts, seq FROM ts_dead_letter").fetchall()
    assert dead == [(device, NOW - 45 * 86400, 7)]
    n_old = len([1 for _ in metrics_db.execute("SELECT 1 FROM ts_dead_letter")])
    assert result.accepted == 2 and result.refused == n_old > 0
    assert result.as_dict()["refused_samples"] == n_old
    assert recorded(metrics_db) == [7]  # the batch is acknowledged: its fresh poll is stored
    assert polls_stored(target, device) == 1
    assert any("dead-lettered" in r.getMessage() and device in r.getMessage() for r in caplog.records)


def test_http_ingest_answers_503_while_the_engine_is_down_then_stores(vm, make_app, settings):
    """Through the real app: the agent sees 503 (it keeps the batch), then 200 once the engine is back."""
    from tests.centre.test_ingest_http import agent_token, post

    settings.tsdb_url = vm.url
    client = make_app(small_inventory()).test_client()
    raw = agent_token(settings, "hefei")
    body = batch("hefei", 1, [poll("hefei-rtr1", NOW - 60)])
    vm.stop()
    r = post(client, raw, body)
    assert r.status_code == 503 and "re-send it later" in r.get_json()["error"]
    vm.start()
    r = post(client, raw, body)
    assert r.status_code == 200 and r.get_json() == {"accepted": 1, "duplicate": False}
    assert polls_stored(vm, "hefei-rtr1") == 1
