#!/usr/bin/env python3
"""Benchmark: our portal checks vs Debian's prometheus-blackbox-exporter, CPU per probe.

169 simulated portals (the province's count) are served over HTTPS on loopback, under
a CA made at start, by a server in its own process (its CPU is not counted).  Each page
is a county portal of ~5 KB with a news list, a date and a counter.

- ours: one child process runs ``check_site`` on every portal with its learned
  baseline (learned in an unmeasured warm-up round): fetch, TLS facts, charset,
  parse, masks, defacement comparison, dark links, foreign sources, forbidden words.
  CPU is the child's own (``getrusage``) over the measured rounds.
- blackbox_exporter: its ``http_2xx`` module (GET, TLS verified against the same CA)
  probes the same URLs through ``/probe``; CPU is the exporter process's
  (``/proc/PID/stat``) over the same rounds.  It does no content analysis.

Both run with the same concurrency.  Prints one JSON line per tool and the ratio.

    python bench/portals.py                # 169 portals x 3 rounds, concurrency 16
    python bench/portals.py --rounds 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PORTALS = 169
EXPORTER = "prometheus-blackbox-exporter"


def serve(tmp: Path, ready: Path) -> None:
    """The server process: 169 portal pages under /p/N, HTTPS, until killed."""
    from tests.portals.pages import portal
    from tests.portals.servers import CA, Reply, Site

    ca = CA(tmp)
    site = Site(ca.server_context("portals", days=365))
    for n in range(PORTALS):
        site.routes[f"/p/{n}"] = Reply(portal(n % 12, table=bool(n % 2), title=f"某某县{n}人民政府门户网站"))
    ready.write_text(json.dumps({"ca": str(ca.pem), "base": site.url("/p/")}))
    while True:
        time.sleep(3600)


def ours(urls: list[str], ca: str, rounds: int, concurrency: int) -> dict:
    """The child process measuring our checks; prints its figures as JSON."""
    from probes.portals.baseline import Baseline
    from probes.portals.check import check_site
    from probes.portals.fetch import Limits
    from probes.portals.lists import Lists

    limits, lists = Limits(ca_file=ca), Lists.load()

    async def run(baselines: dict | None) -> list[dict]:
        gate = asyncio.Semaphore(concurrency)

        async def one(url: str):
            async with gate:
                return await check_site(url, baseline=(baselines or {}).get(url), lists=lists, limits=limits)

        return await asyncio.gather(*(one(u) for u in urls))

    learned = asyncio.run(run(None))
    baselines = {
        u: Baseline.learn(u, f.final_url, p, [], []) for u, (_, f, p) in zip(urls, learned, strict=True)
    }
    before, t0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    findings: dict[str, int] = {}
    probes = 0
    for _ in range(rounds):
        for result, _, _ in asyncio.run(run(baselines)):
            probes += 1
            for f in result["findings"]:  # a loaded machine may make a few "slow"
                findings[f["kind"]] = findings.get(f["kind"], 0) + 1
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    wall = time.monotonic() - t0
    return _figures(
        "ours (check + content analysis)", probes, wall, cpu, after.ru_maxrss / 1024, findings=findings
    )


def _figures(tool: str, probes: int, wall: float, cpu: float, rss_mb: float, **extra) -> dict:
    return {
        "tool": tool,
        "probes": probes,
        **extra,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "cpu_ms_per_probe": round(cpu * 1000 / probes, 2),
        "rss_mb": round(rss_mb, 1),
    }


def _proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def blackbox(urls: list[str], ca: str, rounds: int, concurrency: int, tmp: Path) -> dict:
    exe = shutil.which(EXPORTER)
    if not exe:
        return {
            "tool": "blackbox_exporter",
            "error": f"{EXPORTER} not installed (apt-get install {EXPORTER})",
        }
    config = tmp / "blackbox.yml"
    config.write_text(
        "modules:\n  http_2xx:\n    prober: http\n    timeout: 10s\n    http:\n"
        f"      preferred_ip_protocol: ip4\n      tls_config:\n        ca_file: {ca}\n"
    )
    port = _free_port()
    proc = subprocess.Popen(
        [exe, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        probe = f"http://127.0.0.1:{port}/probe?module=http_2xx&target="
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)

        def one(url: str) -> bool:
            body = urllib.request.urlopen(probe + urllib.request.quote(url, safe=""), timeout=15).read()
            return b"probe_success 1" in body

        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(one, urls))  # warm-up, unmeasured
            before, t0 = _proc_cpu(proc.pid), time.monotonic()
            ok = sum(sum(pool.map(one, urls)) for _ in range(rounds))
            cpu = _proc_cpu(proc.pid) - before
        rss = int(Path(f"/proc/{proc.pid}/status").read_text().split("VmHWM:")[1].split()[0]) / 1024
        probes = rounds * len(urls)
        return _figures("blackbox_exporter http_2xx", probes, time.monotonic() - t0, cpu, rss, succeeded=ok)
    finally:
        proc.terminate()
        proc.wait(10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--child", nargs=2, metavar=("CA", "BASE"), help=argparse.SUPPRESS)
    parser.add_argument("--serve", nargs=2, metavar=("TMP", "READY"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(Path(args.serve[0]), Path(args.serve[1]))
        return 0
    if args.child:
        ca, base = args.child
        print(json.dumps(ours([f"{base}{n}" for n in range(PORTALS)], ca, args.rounds, args.concurrency)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ready = tmp / "ready.json"
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(tmp), str(ready)], cwd=REPO)
        try:
            for _ in range(200):
                if ready.exists() and ready.stat().st_size:
                    break
                time.sleep(0.05)
            info = json.loads(ready.read_text())
            urls = [f"{info['base']}{n}" for n in range(PORTALS)]
            child = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    info["ca"],
                    info["base"],
                    "--rounds",
                    str(args.rounds),
                    "--concurrency",
                    str(args.concurrency),
                ],
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=600,
            )
            if child.returncode:
                raise SystemExit(child.stderr)
            mine = json.loads(child.stdout)
            theirs = blackbox(urls, info["ca"], args.rounds, args.concurrency, tmp)
        finally:
            server.terminate()
            server.wait(10)
    print(json.dumps(mine, ensure_ascii=False))
    print(json.dumps(theirs))
    if "cpu_ms_per_probe" in theirs:
        ratio = mine["cpu_ms_per_probe"] / theirs["cpu_ms_per_probe"]
        print(
            f"CPU per probe: ours {mine['cpu_ms_per_probe']} ms, blackbox_exporter "
            f"{theirs['cpu_ms_per_probe']} ms: ours/theirs = {ratio:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
