"""Long-range hourly rollups on a second VictoriaMetrics (``NMS_TSDB_LONG_URL``), real engines.

VictoriaMetrics open source has one retention per instance and no downsampling, so
:meth:`RemoteWriteStore.rollup` writes closed hours' min/avg/max to a long-retention engine
and ``read_range`` reads the long range from there.  A fake clock says which hours are closed;
the data has past timestamps inside both engines' retention.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request

import pytest

from nms.store import Retention, Sample
from nms.tsdb.remote import RemoteWriteStore
from tests.support.tsdb import VictoriaMetrics

H = 3600
BASE = (int(time.time()) // 86400 - 3) * 86400  # a UTC midnight three days ago
ITF = "GE0/0/1"


@pytest.fixture
def engines(tmp_path):
    raw, long = VictoriaMetrics(tmp_path / "raw"), VictoriaMetrics(tmp_path / "long")
    for e in (raw, long):
        e.workdir.mkdir()
        e.start()
    yield raw, long
    for e in (raw, long):
        e.stop()


def flush(*engines) -> None:
    for e in engines:
        urllib.request.urlopen(e.url + "/internal/force_flush", timeout=10).read()


def ask(engine, expr: str, at: int) -> list[dict]:
    q = urllib.parse.urlencode({"query": expr, "time": at})
    with urllib.request.urlopen(f"{engine.url}/api/v1/query?{q}", timeout=10) as resp:
        return json.loads(resp.read())["data"]["result"]


def test_closed_hours_roll_up_once_and_a_400_day_chart_reads_them(engines):
    raw, long = engines
    clock = [BASE + 3 * H + 600]  # hours 0-2 closed, hour 3 still open

    def store() -> RemoteWriteStore:
        return RemoteWriteStore(raw.url, long_url=long.url, retention=Retention(), clock=lambda: clock[0])

    s = store()
    s.write([Sample("r1", ITF, BASE + 60 * k, {"in_bps": 5000.0 + 1000 * k}) for k in range(4 * 60)])
    s.write([Sample("r1", "", BASE + 60 * k, {"cpu_pct": float(k % 60)}) for k in range(4 * 60)])
    flush(raw)
    stats = s.rollup()
    assert (stats.hours_compacted, stats.head_rows) == (3, 3 * 2 * 3)  # 3 hours x 2 series x 3 aggs
    assert s.rolled_until() == BASE + 3 * H
    flush(long)
    maxes = ask(long, f'nms_interface_in_bps:1h_max{{device="r1",interface="{ITF}"}}[1d]', BASE + 4 * H)
    assert [(int(t), float(v)) for t, v in maxes[0]["values"]] == [
        (BASE, 64_000.0),
        (BASE + H, 124_000.0),
        (BASE + 2 * H, 184_000.0),
    ]
    assert ask(long, 'nms_device_cpu_pct:1h_avg{device="r1"}', BASE + 2 * H)[0]["value"][1] == "29.5"

    # a restarted centre resumes where the job got; nothing new is closed yet
    flush(long)
    s = store()
    assert s.rolled_until() == BASE + 3 * H
    assert s.rollup().hours_compacted == 0

    # a spooled poll of hour 1 arrives late: that hour is redone (same points, the new max)
    s.write([Sample("r1", ITF, BASE + H + 1800, {"in_bps": 1e9})])
    flush(raw)
    clock[0] = BASE + 4 * H + 600  # hour 3 closes too
    assert s.rollup().hours_compacted == 2
    flush(long)
    for agg in ("min", "avg", "max"):  # one point per hour and series, none doubled
        got = ask(long, f'count_over_time(nms_interface_in_bps:1h_{agg}{{device="r1"}}[1d])', BASE + 4 * H)
        assert got[0]["value"][1] == "4"
    assert ask(long, 'nms_interface_in_bps:1h_max{device="r1"}', BASE + H)[0]["value"][1] == "1000000000"

    # the raw samples are gone (older than the raw engine's retention): the long range still reads
    delete = urllib.parse.urlencode({"match[]": '{device="r1"}'})
    urllib.request.urlopen(f"{raw.url}/api/v1/admin/tsdb/delete_series?{delete}", timeout=10).read()
    flush(raw)
    now = clock[0]
    assert s.pick_level(now - 400 * 86400, now) == "1h"
    chart = s.read_range("r1", ITF, ["in_bps"], now - 400 * 86400, now)
    assert chart.level == "1h" and chart.ts == [BASE, BASE + H, BASE + 2 * H, BASE + 3 * H]
    assert chart.columns["in_bps.avg"][0] == pytest.approx(34_500.0, rel=1e-12)
    assert chart.columns["in_bps.max"][1] == 1e9
    assert chart.columns["in_bps.min"][3] == 185_000.0
    cpu = s.read_range("r1", "", ["cpu_pct"], BASE, BASE + 4 * H - 1, "1h")
    assert cpu.columns["cpu_pct.max"] == [59.0] * 4


def test_hours_not_yet_rolled_up_are_computed_from_the_raw_samples(engines):
    raw, long = engines
    clock = [BASE + 2 * H + 600]
    s = RemoteWriteStore(
        raw.url, long_url=long.url, retention=Retention(), clock=lambda: clock[0], rollup_max_hours=1
    )
    assert s.rolled_until() == 0  # the job has not run: every hour comes from the raw engine
    s.write([Sample("r2", ITF, BASE + 60 * k, {"in_bps": 1000.0 * k}) for k in range(3 * 60)])
    flush(raw)
    assert s.read_range("r2", ITF, ["in_bps"], BASE, BASE + 3 * H - 1, "1h").columns["in_bps.max"] == [
        59_000.0,
        119_000.0,
        179_000.0,
    ]
    for rolled in (BASE + H, BASE + 2 * H):  # one hour with data a call here: two calls for hours 0-1
        assert s.rollup().hours_compacted == 1 and s.rolled_until() == rolled
        flush(long)
        # rolled-up hours from the long engine, the others (hour 2 is still open) from the raw one
        got = s.read_range("r2", ITF, ["in_bps"], BASE, BASE + 3 * H - 1, "1h")
        assert got.ts == [BASE, BASE + H, BASE + 2 * H]
        assert got.columns["in_bps.max"] == [59_000.0, 119_000.0, 179_000.0]
    assert s.rollup().hours_compacted == 0


def test_without_a_long_engine_rollup_does_nothing(engines):
    raw, _long = engines
    s = RemoteWriteStore(raw.url, retention=Retention())
    assert s.rollup().hours_compacted == 0 and s.max_age_s == Retention().hour_s
    with pytest.raises(ValueError, match="NMS_TSDB_LONG_URL: 'vm:8428' is not an http"):
        RemoteWriteStore(raw.url, long_url="vm:8428")
