"""Benchmark of the wall's data endpoint (/api/v1/wall) on the whole example province.

Fills state and store for all 1,008 devices / 1,007 links (real state machine and store,
synthetic poll results with one SDH link and one county router down), then times N
requests through the real application: answers from the per-version cache, and
answers right after a new batch (when the document is rebuilt).

    python bench/wall.py [-n 500] [--rebuilds 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import tests.dashboards.conftest  # noqa: E402,F401  (leaves out blueprints whose package is missing)
from probes.common.inventory import load_inventory  # noqa: E402
from tests.auth.helpers import app_db, bearer, make_app, make_token  # noqa: E402
from tests.dashboards import synth  # noqa: E402


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=500, help="cached requests to time")
    ap.add_argument("--rebuilds", type=int, default=20, help="requests timed right after a new batch")
    args = ap.parse_args()
    inv = load_inventory(ROOT / "inventory.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(Path(tmp), inventory=inv)
        settings = app.config["NMS_SETTINGS"]
        t = time.perf_counter()
        synth.ingest(settings, inv, synth.polls(inv, time.time() - 60), 1)
        synth.ingest(
            settings,
            inv,
            synth.polls(inv, time.time(), down_links=["sdh-huaibei"], down_devices=["suixi-int-rtr1"]),
            2,
        )
        fill_s = time.perf_counter() - t
        db = app_db(app)
        headers = bearer(make_token(db, "kiosk"))
        db.conn.close()
        client = app.test_client()

        def timed() -> float:
            t0 = time.perf_counter()
            resp = client.get("/api/v1/wall", headers=headers)
            dt = (time.perf_counter() - t0) * 1000
            assert resp.status_code == 200, resp.status_code
            return dt

        first = timed()  # includes availability (month) and the first build
        cached = [timed() for _ in range(args.n)]
        rebuilt = []
        for i in range(args.rebuilds):
            synth.ingest(settings, inv, synth.polls(inv, time.time(), seed=i), 3 + i)
            rebuilt.append(timed())
        size = len(client.get("/api/v1/wall", headers=headers).data)
    print(
        f"wall bench: {len(inv.devices)} devices, {len(inv.links)} links; state+store fill {fill_s:.2f} s;"
        f" document {size / 1024:.0f} KiB"
    )
    print(f"  first request (cold, with availability): {first:.1f} ms")
    print(
        f"  cached  n={len(cached)}: p50 {pct(cached, 0.5):.2f} ms  p99 {pct(cached, 0.99):.2f} ms"
        f"  mean {statistics.mean(cached):.2f} ms"
    )
    print(
        f"  rebuild n={len(rebuilt)}: p50 {pct(rebuilt, 0.5):.2f} ms  p99 {pct(rebuilt, 0.99):.2f} ms"
        "  (first request after a new batch)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
