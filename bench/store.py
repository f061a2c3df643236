"""Benchmark of the centre's storage: 30 days of 1-minute polling for the whole province.

What it does (say it exactly, the figures depend on it):

1. Loads ``inventory.yaml`` (every device; ``--devices N`` for a quick run) and gives each
   device ``--ifaces`` interfaces (its listed ones, then generic ports).  Traffic is
   synthesised per interface: a diurnal/weekly shape times a peak, with 1-minute noise.
   The mix: 25 % unused ports (oper down, no traffic), 45 % light (0.2-5 Mbit/s peak),
   30 % busy (20-120 Mbit/s peak).  Counters are the exact integral of the rates.
2. Writes what the hourly rollup job would have left behind, directly as blocks
   (``SqliteTimeSeriesStore.write_block``): 5-minute min/avg/max and 1-hour rollups for the
   whole 30 days, raw 1-minute blocks for the last 47 hours.  Rollups are computed from
   the same synthetic 1-minute data (reshape, not the job's code path).
3. Ingests the last hour for real: 60 minutes x one batch per agent, through
   ``nms.pipeline.ingest_batch`` (validation, samples + seq in one transaction, state
   machine with the inventory), then runs ``rollup()`` on it, timing both.
4. Synthesises a month of state events (random outages per device, link and site) and
   times one month's availability of every device and of everything.
5. Times reading one link's 30-day chart (in/out, 5-minute min/avg/max) for 20 link ends,
   and the whole-province current state read.

Then the same on VictoriaMetrics (``--backends``; started here from Debian's binary on a
free loopback port, temporary directory), through :class:`nms.tsdb.remote.RemoteWriteStore`:

6. Back-fills 30 days of 1-minute samples (all 11 series of an interface) for
   ``--fill-ifaces`` interfaces, the 20 chart link ends among them, straight by remote write
   (numpy-encoded, not the ingest path); the engine's data directory after a flush gives the
   bytes per interface-month; 400 days are extrapolated from it (VictoriaMetrics open source
   keeps raw samples only, so size grows linearly with time).
7. Times the 20 link ends' 30-day chart by PromQL ``query_range`` (5-minute min/avg/max).
8. Ingests ``--minutes`` minutes of the selected devices through ``nms.pipeline.ingest_batch``
   with the remote store (validation, remote write, seq record, state machine), then one
   minute of ``--provinces`` copies of them (10 x the province = 201,600 interfaces with 20
   per device), timing only the ``ingest_batch`` calls: the goal is under 60 s.
   Every timing here gives wall time and CPU time (``time.process_time`` of this process,
   the engine's from ``/proc``): on a shared machine the wall time says more about the others.
9. Long-range rollups on a second engine (``NMS_TSDB_LONG_URL``, ``RemoteWriteStore.rollup``):
   ``--rollup-hours`` hours of the back-filled interfaces rolled up (size of the rollups per
   interface, 30 and 400 days extrapolated), and the province hour of step 8 (time of one
   rolled-up hour of a whole province).

Run: ``python bench/store.py [--devices N] [--ifaces 20] [--data DIR] [--backends sqlite,victoriametrics]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nms import availability, state  # noqa: E402
from nms.config import Settings  # noqa: E402
from nms.pipeline import ingest_batch, samples_of  # noqa: E402
from nms.schema import open_migrated  # noqa: E402
from nms.store import (  # noqa: E402
    FIVE_MIN,
    HOUR,
    RAW,
    Retention,
    Sample,  # noqa: E402
    SqliteTimeSeriesStore,
)
from nms.tsdb import remotewrite as rw  # noqa: E402
from nms.tsdb.remote import RemoteWriteStore  # noqa: E402
from probes.common.inventory import load_inventory  # noqa: E402

DAY = 86400
MIN = 60


def shape(ts: np.ndarray) -> np.ndarray:
    """Office-hours load in Beijing time, lower at weekends; 0.05..1."""
    local = (ts + 8 * 3600) % DAY / 3600.0
    day = np.exp(-((local - 10.5) ** 2) / 6) + 0.8 * np.exp(-((local - 15.5) ** 2) / 5)
    weekday = ((ts + 8 * 3600) // DAY + 4) % 7  # 1970-01-01 was a Thursday
    weekend = np.where(weekday >= 5, 0.35, 1.0)
    return 0.05 + 0.95 * np.clip(day, 0, 1) * weekend


class Port:
    def __init__(self, rng: np.random.Generator, ts: np.ndarray) -> None:
        kind = rng.random()
        n = len(ts)
        if kind < 0.25:
            self.up = False
            self.in_bps = np.zeros(n)
            self.out_bps = np.zeros(n)
        else:
            self.up = True
            peak = rng.uniform(2e5, 5e6) if kind < 0.70 else rng.uniform(2e7, 1.2e8)
            base = shape(ts)
            self.in_bps = peak * base * rng.lognormal(0, 0.08, n)
            self.out_bps = 0.4 * peak * base * rng.lognormal(0, 0.10, n)
        # counters: exact integral of the rates (bytes per minute, rounded), random start
        self.in_oct = rng.integers(0, 2**40) + np.cumsum(np.round(self.in_bps * MIN / 8)).astype(np.uint64)
        self.out_oct = rng.integers(0, 2**40) + np.cumsum(np.round(self.out_bps * MIN / 8)).astype(np.uint64)
        # rates as the agent computes them from consecutive counters
        self.in_bps = np.diff(self.in_oct, prepend=self.in_oct[0]).astype(np.float64) * 8 / MIN
        self.out_bps = np.diff(self.out_oct, prepend=self.out_oct[0]).astype(np.float64) * 8 / MIN
        self.in_pkts = (self.in_oct // 700).astype(np.uint64)
        self.out_pkts = (self.out_oct // 500).astype(np.uint64)
        self.in_err = np.cumsum(rng.random(n) < 0.0005).astype(np.uint64)
        self.out_err = np.zeros(n, dtype=np.uint64)
        self.in_disc = np.cumsum(rng.random(n) < 0.001).astype(np.uint64)
        self.out_disc = np.cumsum(rng.random(n) < 0.002).astype(np.uint64)
        self.oper = np.full(n, 1.0 if self.up else 0.0)

    def raw(self, sl: slice) -> dict[str, np.ndarray]:
        return {
            "in_octets": self.in_oct[sl],
            "out_octets": self.out_oct[sl],
            "in_ucast_pkts": self.in_pkts[sl],
            "out_ucast_pkts": self.out_pkts[sl],
            "in_errors": self.in_err[sl],
            "out_errors": self.out_err[sl],
            "in_discards": self.in_disc[sl],
            "out_discards": self.out_disc[sl],
            "in_bps": self.in_bps[sl],
            "out_bps": self.out_bps[sl],
            "oper_up": self.oper[sl],
        }

    def keep_only(self, sl: slice) -> Port:
        """Drop all but the slice the live ingest needs (the month would not fit in memory)."""
        for name in (
            "in_bps",
            "out_bps",
            "in_oct",
            "out_oct",
            "in_pkts",
            "out_pkts",
            "in_err",
            "out_err",
            "in_disc",
            "out_disc",
            "oper",
        ):
            setattr(self, name, getattr(self, name)[sl].copy())
        return self

    def gauges(self) -> dict[str, np.ndarray]:
        return {"in_bps": self.in_bps, "out_bps": self.out_bps, "oper_up": self.oper}


def device_gauges(rng: np.random.Generator, ts: np.ndarray, role: str) -> dict[str, np.ndarray]:
    n = len(ts)
    g = {
        "ok": np.ones(n),
        "poll_s": np.round(rng.uniform(0.03, 0.3, n), 3),
        "cpu_pct": np.round(np.clip(5 + 40 * shape(ts) * rng.lognormal(0, 0.15, n), 0, 100)),
        "mem_pct": np.round(38 + 3 * shape(ts) + rng.normal(0, 0.3, n), 1),
        "temperature_c": np.round(36 + 6 * shape(ts) + rng.normal(0, 0.5, n)),
        "uptime_s": (ts - ts[0] + 86400 * 90).astype(np.float64),
    }
    if role == "firewall":
        g["sessions"] = np.round(2000 + 30000 * shape(ts) * rng.lognormal(0, 0.05, n))
    return g


def rollup_arrays(ts: np.ndarray, cols: dict[str, np.ndarray], bucket: int):
    """min/avg/max/n per bucket of minute-aligned, gap-free data (what rollup() computes)."""
    per = bucket // MIN
    out_ts = ts[::per]
    out = {}
    for m, v in cols.items():
        r = v.reshape(-1, per)
        out[f"{m}.min"], out[f"{m}.avg"], out[f"{m}.max"] = r.min(1), r.mean(1), r.max(1)
        out[f"{m}.n"] = np.full(len(out_ts), per, dtype=np.int64)
    return out_ts, out


def write_rollups(store, sid, ts, cols, upto: int) -> None:
    """5-minute day blocks and 1-hour 30-day blocks for ts < upto."""
    sel = ts < upto
    for lv, bucket, span in ((FIVE_MIN, 300, DAY), (HOUR, 3600, 30 * DAY)):
        bts, agg = rollup_arrays(ts[sel], {m: v[sel] for m, v in cols.items()}, bucket)
        keys = bts // span * span
        for k in np.unique(keys):
            s = keys == k
            store.write_block(sid, lv, int(k), bts[s], {m: v[s] for m, v in agg.items()})


def poll_of(dev, names, ports, gauges, i, ts) -> dict:
    itfs = []
    for idx, (name, p) in enumerate(zip(names, ports, strict=True)):
        itfs.append(
            {
                "index": idx + 1,
                "name": name,
                "admin": "up",
                "oper": "up" if p.up else "down",
                "in_octets": int(p.in_oct[i]),
                "out_octets": int(p.out_oct[i]),
                "in_ucast_pkts": int(p.in_pkts[i]),
                "out_ucast_pkts": int(p.out_pkts[i]),
                "in_errors": int(p.in_err[i]),
                "out_errors": int(p.out_err[i]),
                "in_discards": int(p.in_disc[i]),
                "out_discards": int(p.out_disc[i]),
                "in_bps": float(p.in_bps[i]),
                "out_bps": float(p.out_bps[i]),
                "speed_bps": 1_000_000_000,
            }
        )
    health = {k: float(gauges[k][i]) for k in ("cpu_pct", "mem_pct", "temperature_c")}
    return {
        "device": dev.name,
        "ts": float(ts),
        "ok": True,
        "error": None,
        "duration_s": float(gauges["poll_s"][i]),
        "profile": "auto",
        "identity": {"uptime_s": float(gauges["uptime_s"][i])},
        "interfaces": itfs,
        "health": health,
        "sessions": float(gauges["sessions"][i]) if "sessions" in gauges else None,
        "tunnels": [],
        "sdh": [],
        "icmp": None,
    }


def synth_events(db, inv, t0: float, t1: float, rng: random.Random) -> int:
    rows = []
    subjects = (
        [("device", d) for d in inv.devices]
        + [("link", k) for k in inv.links]
        + [("site", s) for s in inv.sites]
    )
    for kind, subj in subjects:
        rows.append((t0 - 3600, kind, subj, "unknown", "up", None))
        t = t0
        while True:
            t += rng.expovariate(2.0 / (t1 - t0))  # about two outages a month
            if t >= t1:
                break
            dur = rng.uniform(60, 7200)
            to = rng.choice(("down", "down", "degraded", "unreachable"))
            rows.append((t, kind, subj, "up", to, "bench"))
            rows.append((min(t + dur, t1 - 1), kind, subj, to, "up", None))
            t += dur
    db.conn.executemany(
        "INSERT INTO state_events (ts, kind, subject, from_state, to_state, reason)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    return len(rows)


def timed(fn, repeat: int = 1):
    best = []
    for _ in range(repeat):
        s = time.perf_counter()
        out = fn()
        best.append(time.perf_counter() - s)
    return out, best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=0, help="only the first N devices (0 = all)")
    ap.add_argument("--ifaces", type=int, default=20, help="interfaces per device")
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--data", help="data directory (default: a temporary one)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--backends", default="sqlite,victoriametrics")
    ap.add_argument("--minutes", type=int, default=60, help="minutes of real ingest")
    ap.add_argument("--fill-ifaces", type=int, default=40, help="VM: back-filled interfaces")
    ap.add_argument("--provinces", type=int, default=10, help="VM: province copies the store takes a minute")
    ap.add_argument("--path-provinces", type=int, default=2, help="VM: copies through the whole ingest path")
    ap.add_argument("--rollup-hours", type=int, default=48, help="VM: back-filled hours rolled up (0 = skip)")
    args = ap.parse_args()

    inv = load_inventory(ROOT / "inventory.yaml")
    devices = [inv.devices[n] for n in sorted(inv.devices)]
    if args.devices:
        devices = devices[: args.devices]
        keep = {d.name for d in devices}
        inv.devices = {n: d for n, d in inv.devices.items() if n in keep}
        inv.links = {k: ln for k, ln in inv.links.items() if ln.a.device in keep and ln.b.device in keep}
    backends = args.backends.split(",")
    unknown = set(backends) - {"sqlite", "victoriametrics"}
    if unknown:
        ap.error(f"--backends: {sorted(unknown)} unknown; expected sqlite and/or victoriametrics")
    if "sqlite" in backends:
        bench_sqlite(args, inv, devices)
    if "victoriametrics" in backends:
        bench_victoria(args, inv, devices)
    return 0


def interface_names(dev, n: int) -> list[str]:
    names = list(dev.interfaces)[:n]
    return names + [f"GigabitEthernet9/0/{k}" for k in range(n - len(names))]


def agents_of(inv) -> dict[str, str]:
    return {d.name: a.name for a in inv.agents.values() for d in inv.devices_of_agent(a.name)}


def chart_times(store, picks, now: int) -> tuple[list[float], int]:
    times, points = [], 0
    for dev, itf in picks:
        s, t = timed(lambda d=dev, i=itf: store.read_range(d, i, ["in_bps", "out_bps"], now - 30 * DAY, now))
        times.append(t[0])
        assert s.level == "5m" and len(s.ts) > 8000, (s.level, len(s.ts))
        points = len(s.ts)
    return times, points


def month_availability(label: str, cdb, inv, now: int, pyrng: random.Random) -> None:
    n_ev = synth_events(cdb, inv, now - 30 * DAY, now, pyrng)
    rows, t = timed(lambda: availability.report(cdb, now - 30 * DAY, now, inv, kinds=["device"]), 3)
    print(
        f"{label}: month availability of every device ({len(rows)} devices, {n_ev} events in the db): "
        f"{min(t) * 1000:.0f} ms",
        flush=True,
    )


def bench_sqlite(args, inv, devices) -> None:
    data = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="nms-bench-"))
    settings = Settings(data_dir=data, inventory_path=ROOT / "inventory.yaml")
    mdb = open_migrated(settings, "metrics")
    cdb = open_migrated(settings, "centre")
    store = SqliteTimeSeriesStore(mdb, Retention())
    now_h = int(time.time()) // 3600 * 3600
    start = now_h - args.days * DAY
    ts = np.arange(start, now_h, MIN, dtype=np.int64)
    raw_from = now_h - 48 * 3600
    live_from = now_h - 3600
    live_idx = np.arange(len(ts))[ts >= live_from][: args.minutes]
    n_if = len(devices) * args.ifaces
    print(
        f"bench/store sqlite: {len(devices)} devices x {args.ifaces} interfaces = {n_if} interfaces, "
        f"{args.days} days, data in {data}",
        flush=True,
    )

    rng = np.random.default_rng(args.seed)
    live: list[tuple] = []
    t_fill = time.perf_counter()
    for di, dev in enumerate(devices):
        names = interface_names(dev, args.ifaces)
        ports = [Port(rng, ts) for _ in names]
        gauges = device_gauges(rng, ts, dev.role)
        ids = store.source_ids([(dev.name, "")] + [(dev.name, n) for n in names])
        mdb.execute("BEGIN")
        for key, cols, rawcols in [((dev.name, ""), gauges, gauges)] + [
            ((dev.name, n), p.gauges(), None) for n, p in zip(names, ports, strict=True)
        ]:
            sid = ids[key]
            write_rollups(store, sid, ts, cols, live_from)
            port = None if rawcols is not None else ports[names.index(key[1])]
            for h in range(raw_from, live_from, 3600):
                sl = slice(int((h - start) // MIN), int((h - start) // MIN) + 60)
                block = {m: v[sl] for m, v in gauges.items()} if port is None else port.raw(sl)
                store.write_block(sid, RAW, h, ts[sl], block)
        mdb.execute("COMMIT")
        lsl = slice(int(live_idx[0]), int(live_idx[-1]) + 1)
        live.append(
            (dev, names, [p.keep_only(lsl) for p in ports], {k: v[lsl].copy() for k, v in gauges.items()})
        )
        if di % 100 == 99:
            el = time.perf_counter() - t_fill
            print(f"  filled {di + 1} devices in {el:.0f} s", flush=True)
    t_fill = time.perf_counter() - t_fill
    print(f"fill (blocks written directly): {t_fill:.0f} s", flush=True)

    # ---- the last hour through the real ingest path, one batch per agent and minute
    agent_of = agents_of(inv)
    seq = 0
    ingest_s = 0.0
    polls_n = 0
    batch_times = []
    for j, i in enumerate(live_idx):
        by_agent: dict[str, list] = {}
        for dev, names, ports, gauges in live:
            by_agent.setdefault(agent_of.get(dev.name, "bench"), []).append(
                poll_of(dev, names, ports, gauges, j, ts[i])
            )
        for agent, polls in by_agent.items():
            seq += 1
            body = {"agent": agent, "seq": seq, "samples": polls}
            body = json.loads(json.dumps(body))  # what the HTTP layer would hand over
            s = time.perf_counter()
            ingest_batch(mdb, cdb, agent, body, inv if agent != "bench" else None, now=float(now_h))
            dt = time.perf_counter() - s
            ingest_s += dt
            batch_times.append(dt)
            polls_n += len(polls)
    minutes = len(live_idx)
    print(
        f"sqlite ingest: {minutes} minutes x {len(by_agent)} agent batches = {polls_n} polls, "
        f"{polls_n * args.ifaces} interface samples in {ingest_s:.1f} s -> "
        f"{polls_n / ingest_s:.0f} polls/s, {polls_n * args.ifaces / ingest_s:.0f} interface samples/s; "
        f"whole province minute takes {ingest_s / minutes:.2f} s of 60 s "
        f"(largest batch {max(batch_times) * 1000:.0f} ms)",
        flush=True,
    )
    stats, (roll_s,) = timed(lambda: store.rollup(now=now_h + 600))
    print(f"rollup of that hour: {stats.head_rows} head rows into blocks in {roll_s:.1f} s", flush=True)

    mdb.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = (data / "metrics.db").stat().st_size
    per_level = dict(mdb.execute("SELECT level, sum(length(data)) FROM ts_block GROUP BY level").fetchall())
    print(
        f"metrics.db: {size / 1e6:.1f} MB = {size / n_if / 1024:.1f} KB per interface "
        f"(device-level series included); blocks: raw 48 h {per_level.get(0, 0) / n_if / 1024:.1f} KB, "
        f"5 min 30 d {per_level.get(1, 0) / n_if / 1024:.1f} KB, "
        f"1 h {per_level.get(2, 0) / n_if / 1024:.1f} KB "
        f"per interface",
        flush=True,
    )

    # ---- reads
    pyrng = random.Random(args.seed)
    ends = [(ln.a.device, ln.a.interface) for ln in inv.links.values() if ln.a.device in inv.devices]
    picks = pyrng.sample(ends, min(20, len(ends)))
    times, points = chart_times(store, picks, int(time.time()))
    print(
        f"sqlite: one link's 30-day chart (in+out, 5-min min/avg/max, {points} points): "
        f"median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms",
        flush=True,
    )

    month_availability("sqlite", cdb, inv, now_h, pyrng)
    rows, t = timed(lambda: availability.report(cdb, now_h - 30 * DAY, now_h, inv), 3)
    print(
        f"month availability of everything ({len(rows)} devices+links+sites): {min(t) * 1000:.0f} ms",
        flush=True,
    )
    cur, t = timed(lambda: json.dumps(state.current(cdb)), 5)
    print(
        f"current state of the whole province ({sum(len(v) for v in state.current(cdb).values())} subjects, "
        f"as JSON): {min(t) * 1000:.1f} ms",
        flush=True,
    )
    mdb.conn.close()
    cdb.conn.close()


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def settled_size(url: str, path: Path) -> int:
    """The data directory's size once the engine has merged what it was given (as it would be days later)."""
    import urllib.request

    def get(what: str) -> str:
        with urllib.request.urlopen(url + what, timeout=60) as resp:
            return resp.read().decode()

    get("/internal/force_flush")
    get("/internal/force_merge")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(2)
        busy = [ln for ln in get("/metrics").splitlines() if ln.startswith("vm_active_merges")]
        if all(ln.rsplit(" ", 1)[1] in ("0", "0.0") for ln in busy):
            break
    return dir_bytes(path)


def rollup_sizes(args, engine, long, work: Path, fill: list, now_m: int) -> None:
    """Step 9: the back-filled interfaces' oldest hours rolled up; size per interface of 30 / 400 days."""
    store = RemoteWriteStore(
        engine.url, long_url=long.url, retention=Retention(), rollup_max_hours=args.rollup_hours
    )
    before = dir_bytes(work / "long" / "vmdata")
    clocks = Clocks(engine.proc.pid)
    clocks.start()
    stats = store.rollup(now=now_m)
    clocks.stop()
    size = settled_size(long.url, work / "long" / "vmdata") - before
    per_hour = size / len(fill) / max(stats.hours_compacted, 1)
    print(
        f"victoriametrics rollups: {stats.hours_compacted} hours x {len(fill)} interfaces "
        f"({stats.head_rows} points) rolled up in {clocks}; {per_hour:.0f} bytes per interface-hour: "
        f"{per_hour * 24 * 30 / 1024:.1f} KB per interface for 30 days, "
        f"{per_hour * 24 * 400 / 1024:.0f} KB for 400 "
        f"(a province of 20,160 interfaces: {per_hour * 24 * 30 * 20160 / 1e9:.2f} GB / "
        f"{per_hour * 24 * 400 * 20160 / 1e9:.1f} GB)",
        flush=True,
    )


def backfill(store: RemoteWriteStore, dev: str, itf: str, port: Port, ts: np.ndarray) -> int:
    """30 days of one interface's 11 series, straight by remote write (numpy-encoded)."""
    ts_ms = ts.astype(np.uint64) * np.uint64(1000)
    extra = store.labels_of(dev)
    series = []
    for metric, values in port.raw(slice(None)).items():
        key = (dev, itf, metric, extra)
        lab = rw.encode_labels(store._labels(*key))
        for i in range(0, len(ts), 10_080):  # a week per series and request part
            series.append((key, lab, [rw.encode_samples(ts_ms[i : i + 10_080], values[i : i + 10_080])]))
    for i in range(0, len(series), 11):
        status, text = store._post(rw.encode_request(series[i : i + 11]))
        assert status < 300, text
    return len(series) // 11 * 10_080 * 11


def engine_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Clocks:
    """Wall, this process's CPU and the engine's CPU of what runs between start() and stop()."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.wall = self.cpu = self.engine = 0.0

    def start(self) -> None:
        self._at = (time.perf_counter(), time.process_time(), engine_cpu(self.pid))

    def stop(self) -> None:
        w, c, e = self._at
        self.wall += time.perf_counter() - w
        self.cpu += time.process_time() - c
        self.engine += engine_cpu(self.pid) - e

    def __str__(self) -> str:
        return f"wall {self.wall:.2f} s, centre CPU {self.cpu:.2f} s, engine CPU {self.engine:.2f} s"


def bench_victoria(args, inv, devices) -> None:
    from tests.support.tsdb import VictoriaMetrics

    work = Path(tempfile.mkdtemp(prefix="nms-bench-vm-"))
    (work / "long").mkdir()
    engine = VictoriaMetrics(work, retention="400d")
    long = VictoriaMetrics(work / "long", retention="100y")
    engine.start()
    long.start()
    try:
        _bench_victoria(args, inv, devices, engine, work, long)
    finally:
        engine.stop()
        long.stop()


def _bench_victoria(args, inv, devices, engine, work: Path, long) -> None:
    import urllib.request

    def flush() -> None:
        urllib.request.urlopen(engine.url + "/internal/force_flush", timeout=30).read()

    settings = Settings(data_dir=work / "centre", inventory_path=ROOT / "inventory.yaml")
    mdb, cdb = open_migrated(settings, "metrics"), open_migrated(settings, "centre")
    store = RemoteWriteStore(engine.url, retention=Retention())
    now_m = int(time.time()) // MIN * MIN
    print(f"bench/store victoriametrics {engine.url}, data in {work}", flush=True)

    # ---- 30 days back-filled for the chart's link ends and more interfaces: bytes per interface-month
    rng = np.random.default_rng(args.seed)
    pyrng = random.Random(args.seed)
    ends = [(ln.a.device, ln.a.interface) for ln in inv.links.values() if ln.a.device in inv.devices]
    picks = pyrng.sample(ends, min(20, len(ends)))
    fill = list(dict.fromkeys(picks))
    for dev in devices:
        for name in interface_names(dev, args.ifaces):
            if len(fill) >= args.fill_ifaces:
                break
            if (dev.name, name) not in fill:
                fill.append((dev.name, name))
    ts = np.arange(now_m - 30 * DAY, now_m, MIN, dtype=np.int64)
    before = dir_bytes(work / "vmdata")
    t0 = time.perf_counter()
    n = sum(backfill(store, dev, itf, Port(rng, ts), ts) for dev, itf in fill)
    flush()
    fill_s = time.perf_counter() - t0
    per_month = (settled_size(engine.url, work / "vmdata") - before) / len(fill)
    n_if = len(devices) * args.ifaces
    print(
        f"victoriametrics back-fill: {len(fill)} interfaces x 30 days x 11 series = {n / 1e6:.1f} M samples "
        f"in {fill_s:.0f} s ({n / fill_s / 1e6:.2f} M samples/s)",
        flush=True,
    )
    print(
        f"victoriametrics size: {per_month / 1024:.1f} KB per interface-month (11 series, 1-minute raw); "
        f"the {n_if} interfaces here: 30 days {per_month * n_if / 1e9:.2f} GB, "
        f"400 days {per_month * n_if * 400 / 30 / 1e9:.1f} GB (extrapolated: raw only, linear)",
        flush=True,
    )
    cpu0, eng0 = time.process_time(), engine_cpu(engine.proc.pid)
    times, points = chart_times(store, picks, now_m)
    print(
        f"victoriametrics: one link's 30-day chart (in+out, 5-min min/avg/max by PromQL, {points} points): "
        f"median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms wall; "
        "CPU per chart "
        f"{(time.process_time() - cpu0) / len(times) * 1000:.0f} ms here + "
        f"{(engine_cpu(engine.proc.pid) - eng0) / len(times) * 1000:.0f} ms in the engine",
        flush=True,
    )
    if args.rollup_hours:
        rollup_sizes(args, engine, long, work, fill, now_m)

    # ---- the real ingest path onto the engine: the selected devices, then N copies of them
    agent_of = agents_of(inv)
    live_ts = np.arange(now_m - args.minutes * MIN, now_m, MIN, dtype=np.int64)
    live = []
    for dev in devices:
        names = interface_names(dev, args.ifaces)
        live.append((dev, names, [Port(rng, live_ts) for _ in names], device_gauges(rng, live_ts, dev.role)))
    seq = 0

    def minute(j: int, t: int, copies: list[str]) -> tuple[float, int, int, float, Clocks]:
        """One minute of every device (once per copy suffix), one batch per agent and copy:
        (seconds inside ``ingest_batch``, polls, interfaces, largest batch's seconds, clocks)."""
        nonlocal seq
        spent, polls_n, itf_n, largest = 0.0, 0, 0, 0.0
        clocks = Clocks(engine.proc.pid)
        for suffix in copies:
            by_agent: dict[str, list] = {}
            for dev, names, ports, gauges in live:
                p = poll_of(dev, names, ports, gauges, j, t)
                p["device"] += suffix
                by_agent.setdefault(agent_of.get(dev.name, "bench") + suffix, []).append(p)
            for agent, polls in by_agent.items():
                seq += 1
                body = json.loads(json.dumps({"agent": agent, "seq": seq, "samples": polls}))
                known = inv if not suffix and agent != "bench" else None
                s = time.perf_counter()
                clocks.start()
                ingest_batch(mdb, cdb, agent, body, known, now=float(now_m), store=store)
                clocks.stop()
                took = time.perf_counter() - s
                spent, largest = spent + took, max(largest, took)
                polls_n += len(polls)
                itf_n += sum(len(pl["interfaces"]) for pl in polls)
        return spent, polls_n, itf_n, largest, clocks

    first = minute(0, int(live_ts[0]), [""])
    print(
        f"victoriametrics ingest, first minute (every series and subject new): {first[1]} polls, "
        f"{first[2]} interfaces in {first[0]:.1f} s ({first[4]})",
        flush=True,
    )
    steady = [minute(j, int(t), [""]) for j, t in enumerate(live_ts) if j]
    for k, m in enumerate(steady):
        print(f"  province minute {k + 1}: {m[4]}", flush=True)
    walls = sorted(m[4].wall for m in steady)
    cpus = sorted(m[4].cpu + m[4].engine for m in steady)
    print(
        "victoriametrics, a province minute through the whole ingest path: "
        f"wall {walls[0]:.2f}-{walls[-1]:.2f} s "
        f"(median {statistics.median(walls):.2f}); CPU, centre + engine: {cpus[0]:.2f}-{cpus[-1]:.2f} s",
        flush=True,
    )
    spent = sum(m[0] for m in steady)
    polls_n = sum(m[1] for m in steady)
    print(
        f"victoriametrics ingest, then {len(steady)} minutes: {polls_n} polls in {spent:.1f} s -> "
        f"{polls_n / spent:.0f} polls/s, {sum(m[2] for m in steady) / spent:.0f} interface samples/s; "
        f"a province minute takes {spent / len(steady):.2f} s "
        f"(largest batch {max(m[3] for m in steady) * 1000:.0f} ms)",
        flush=True,
    )
    if args.rollup_hours:
        hour = int(live_ts[0]) // 3600 * 3600
        rolling = RemoteWriteStore(engine.url, long_url=long.url, retention=Retention())
        clocks = Clocks(engine.proc.pid)
        clocks.start()
        n = rolling.rollup_hour(hour)
        clocks.stop()
        print(
            f"victoriametrics rollup of one province hour to the long engine ({n} rollup points, "
            f"min/avg/max of every series): {clocks}",
            flush=True,
        )
    if not args.provinces:
        month_availability("victoriametrics (centre.db's state events, as on sqlite)", cdb, inv, now_m, pyrng)
        return
    # ten provinces' worth: copies of every device, one batch per agent and copy; a first minute
    # makes their series and subjects, the next one is timed.  First the store alone (what the
    # time-series seam costs: samples_of + remote write), then the whole ingest path.
    copies = [f"~p{k}" for k in range(args.provinces)]
    t = int(live_ts[-1]) + MIN
    j = len(live_ts) - 1
    rows = []  # other device names than the whole-path run below: both see their series first
    for k in range(args.provinces):
        polls = [{**poll_of(d, nm, ports, g, j, 0), "device": f"{d.name}~s{k}"} for d, nm, ports, g in live]
        rows.append([x for p in polls for x in samples_of(p)])
    for label, ts_ in (("first minute", t - 30 * MIN), ("next minute", t - 29 * MIN)):
        stamped = [[Sample(x.device, x.interface, ts_, x.values) for x in r] for r in rows]
        s = time.perf_counter()
        n = sum(store.write(r) for r in stamped)
        print(
            f"victoriametrics store alone, {args.provinces} provinces' {label}: {n} samples of "
            f"{sum(len(r) for r in rows)} sources remote-written in {time.perf_counter() - s:.1f} s",
            flush=True,
        )
    del rows, stamped
    copies = copies[: args.path_provinces]
    warm = minute(len(live_ts) - 1, t, copies)
    spent, polls_n, itf_n, largest, _clocks = minute(len(live_ts) - 1, t + MIN, copies)
    print(
        f"victoriametrics, whole ingest path: {len(copies)} provinces in one minute = {polls_n} polls, "
        f"{itf_n} interfaces "
        f"ingested in {spent:.1f} s of the 60 s interval (largest batch {largest * 1000:.0f} ms; "
        f"their first minute, every series new: {warm[0]:.1f} s)",
        flush=True,
    )
    month_availability("victoriametrics (centre.db's state events, as on sqlite)", cdb, inv, now_m, pyrng)
    mdb.conn.close()
    cdb.conn.close()


if __name__ == "__main__":
    sys.exit(main())
