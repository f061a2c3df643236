#!/usr/bin/env python3
"""Benchmark: our poller vs net-snmp snmpbulkwalk vs Debian's prometheus-snmp-exporter.

Method (honest version): the run happens inside a private network namespace
(``unshare -n``), so nothing touches the host network.  Inside it we create
``--veth`` veth pairs (2 interfaces each) and start ``--snmpd-procs`` real net-snmp
``snmpd`` processes, each listening on many loopback ports.  Every port counts as one
"device" answering the namespace's whole ifTable/ifXTable (``2*veth + 1`` rows), so
100 ports x 501 rows = 50,100 interfaces.  ``--dead-pct`` of the devices are ports
nobody listens on.  The second run puts a UDP relay adding ``--delay-ms`` of round
trip in front of every device.

Each tool runs in its own child process; CPU seconds and peak RSS come from the
kernel (wait4 rusage, /proc for the long-running exporter), varbinds are counted
from what each tool returned.

    python bench/poll.py                      # 100 devices, 50,100 interfaces, 5 % dead, 0 and 30 ms
    python bench/poll.py --devices 20 --veth 25 --delays 0
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

IF_COLUMNS = {  # the same columns our generic profile reads
    "ifDescr": ("1.3.6.1.2.1.2.2.1.2", "DisplayString"),
    "ifType": ("1.3.6.1.2.1.2.2.1.3", "gauge"),
    "ifSpeed": ("1.3.6.1.2.1.2.2.1.5", "gauge"),
    "ifAdminStatus": ("1.3.6.1.2.1.2.2.1.7", "gauge"),
    "ifOperStatus": ("1.3.6.1.2.1.2.2.1.8", "gauge"),
    "ifInDiscards": ("1.3.6.1.2.1.2.2.1.13", "counter"),
    "ifInErrors": ("1.3.6.1.2.1.2.2.1.14", "counter"),
    "ifOutDiscards": ("1.3.6.1.2.1.2.2.1.19", "counter"),
    "ifOutErrors": ("1.3.6.1.2.1.2.2.1.20", "counter"),
    "ifHCInOctets": ("1.3.6.1.2.1.31.1.1.1.6", "counter"),
    "ifHCInUcastPkts": ("1.3.6.1.2.1.31.1.1.1.7", "counter"),
    "ifHCOutOctets": ("1.3.6.1.2.1.31.1.1.1.10", "counter"),
    "ifHCOutUcastPkts": ("1.3.6.1.2.1.31.1.1.1.11", "counter"),
    "ifHighSpeed": ("1.3.6.1.2.1.31.1.1.1.15", "gauge"),
    "ifAlias": ("1.3.6.1.2.1.31.1.1.1.18", "DisplayString"),
    "ifCounterDiscontinuityTime": ("1.3.6.1.2.1.31.1.1.1.19", "gauge"),
}
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"


# ---------------------------------------------------------------- workers (child processes)


def worker_ours(targets: list[int], timeout: float) -> dict:
    from probes.counters import RateTracker
    from probes.poller import Poller
    from probes.snmp import Credential, Target

    async def run() -> dict:
        poller = Poller(max_in_flight=256, budget_s=30)
        tracker = RateTracker()
        cred = Credential(community="public")
        results = await asyncio.gather(
            *(
                poller.poll(Target("127.0.0.1", p, cred, timeout=timeout, retries=1, name=f"dev{p}"))
                for p in targets
            )
        )
        for r in results:
            tracker.apply(r)
        batch = json.dumps({"agent": "bench", "seq": 1, "samples": results})  # what the agent would push
        return {
            "varbinds": poller.varbinds,
            "interfaces": sum(len(r["interfaces"]) for r in results),
            "ok": sum(r["ok"] for r in results),
            "failed": sum(not r["ok"] for r in results),
            "batch_bytes": len(batch),
        }

    return asyncio.run(run())


def worker_bulkwalk(targets: list[int], timeout: float, parallel: int = 32) -> dict:
    def one(port: int) -> tuple[int, int]:
        lines, ok = 0, 1
        for table in ("1.3.6.1.2.1.2.2.1", "1.3.6.1.2.1.31.1.1.1"):
            p = subprocess.run(
                [
                    "snmpbulkwalk",
                    "-v2c",
                    "-c",
                    "public",
                    "-On",
                    "-Cr25",
                    "-t",
                    str(timeout),
                    "-r",
                    "1",
                    f"127.0.0.1:{port}",
                    table,
                ],
                capture_output=True,
                text=True,
                env=dict(os.environ, MIBS=""),
            )
            lines += p.stdout.count("\n")
            ok = ok and p.returncode == 0 and bool(p.stdout)
        return lines, ok

    with ThreadPoolExecutor(parallel) as ex:
        got = list(ex.map(one, targets))
    return {
        "varbinds": sum(g[0] for g in got),
        "ok": sum(g[1] for g in got),
        "failed": sum(1 - g[1] for g in got),
    }


def worker_exporter_client(url: str, targets: list[int], parallel: int = 64) -> dict:
    def one(port: int) -> tuple[int, int]:
        try:
            with urllib.request.urlopen(f"{url}/snmp?module=if_mib&target=127.0.0.1:{port}", timeout=60) as r:
                text = r.read().decode()
        except OSError:
            return 0, 0
        samples = sum(
            1
            for ln in text.splitlines()
            if ln and not ln.startswith("#") and not ln.startswith("snmp_scrape")
        )
        return samples, int("ifOperStatus" in text)

    with ThreadPoolExecutor(parallel) as ex:
        got = list(ex.map(one, targets))
    return {
        "varbinds": sum(g[0] for g in got),
        "ok": sum(g[1] for g in got),
        "failed": sum(1 - g[1] for g in got),
    }


# ---------------------------------------------------------------- UDP relay adding latency


async def relay(pairs: list[tuple[int, int]], delay_s: float) -> None:
    loop = asyncio.get_running_loop()

    class Back(asyncio.DatagramProtocol):
        def __init__(self, front, client):
            self.front, self.client = front, client

        def datagram_received(self, data, addr):
            loop.call_later(delay_s / 2, self.front.sendto, data, self.client)

    class Front(asyncio.DatagramProtocol):
        def __init__(self, backend_port):
            self.backend_port, self.backs = backend_port, {}

        def connection_made(self, transport):
            self.transport = transport

        def datagram_received(self, data, addr):
            async def forward():
                back = self.backs.get(addr)
                if back is None:
                    back, _ = await loop.create_datagram_endpoint(
                        lambda: Back(self.transport, addr), remote_addr=("127.0.0.1", self.backend_port)
                    )
                    self.backs[addr] = back
                loop.call_later(delay_s / 2, back.sendto, data)

            loop.create_task(forward())

    for front_port, backend_port in pairs:
        await loop.create_datagram_endpoint(
            lambda b=backend_port: Front(b), local_addr=("127.0.0.1", front_port)
        )
    print("relay ready", flush=True)
    await asyncio.Event().wait()


# ---------------------------------------------------------------- orchestration (inside the netns)


def free_ports(n: int) -> list[int]:
    import socket

    socks, ports = [], []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def setup_namespace(veth: int) -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    cmds = "".join(f"link add pe{i}a type veth peer name pe{i}b\n" for i in range(veth))
    subprocess.run(["ip", "-batch", "-"], input=cmds, text=True, check=True)


def start_snmpds(ports: list[int], procs: int, workdir: Path) -> list[subprocess.Popen]:
    out = []
    conf = workdir / "snmpd.conf"
    conf.write_text("rocommunity public 127.0.0.1\n")
    env = dict(
        os.environ, MIBS="", MIBDIRS=str(workdir / "nomibs"), SNMP_PERSISTENT_DIR=str(workdir / "persist")
    )
    for k in range(procs):
        mine = ports[k::procs]
        out.append(
            subprocess.Popen(
                [
                    "/usr/sbin/snmpd",
                    "-f",
                    "-Lo",
                    "-C",
                    "-I",
                    "-smux",
                    "-c",
                    str(conf),
                    "-p",
                    str(workdir / f"pid{k}"),
                    *[f"127.0.0.1:{p}" for p in mine],
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
            )
        )
    deadline = time.time() + 30
    for p in ports:
        while subprocess.run(
            ["snmpget", "-v2c", "-c", "public", "-r0", "-t1", f"127.0.0.1:{p}", "1.3.6.1.2.1.1.3.0"],
            capture_output=True,
            env=dict(os.environ, MIBS=""),
        ).returncode:
            if time.time() > deadline:
                raise SystemExit(f"snmpd did not answer on {p}")
            time.sleep(0.2)
    return out


def exporter_config(path: Path, timeout: float) -> None:
    lines = ["if_mib:", "  walk:"] + [f"  - {oid}" for oid, _ in IF_COLUMNS.values()] + [f"  - {IF_NAME}"]
    lines += ["  metrics:"]
    for name, (oid, typ) in IF_COLUMNS.items():
        lines += [
            f"  - name: {name}",
            f"    oid: {oid}",
            f"    type: {typ}",
            f"    help: {name}",
            "    indexes:",
            "    - labelname: ifIndex",
            "      type: gauge",
            "    lookups:",
            "    - labels: [ifIndex]",
            "      labelname: ifName",
            f"      oid: {IF_NAME}",
            "      type: DisplayString",
        ]
    lines += [
        "  version: 2",
        "  max_repetitions: 25",
        "  retries: 1",
        f"  timeout: {timeout}s",
        "  auth:",
        "    community: public",
    ]
    path.write_text("\n".join(lines) + "\n")


def proc_cpu_rss(pid: int) -> tuple[float, int]:
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    cpu = (int(stat[11]) + int(stat[12])) / tick
    hwm = 0
    for ln in Path(f"/proc/{pid}/status").read_text().splitlines():
        if ln.startswith("VmHWM:"):
            hwm = int(ln.split()[1])
    return cpu, hwm


def run_child(args: list[str]) -> tuple[dict, float, float, int]:
    """Run a worker; return its JSON, wall, CPU seconds (self + children) and peak RSS (KiB)."""
    t0 = time.monotonic()
    p = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    data = json.loads(out.strip().splitlines()[-1])
    # the worker reports its children's usage (snmpbulkwalk processes) itself
    cpu = ru.ru_utime + ru.ru_stime + data.pop("children_cpu", 0.0)
    rss = max(ru.ru_maxrss, data.pop("children_maxrss", 0))
    return data, wall, cpu, rss


def measure(
    label: str, devices: list[int], timeout: float, exporter_url: str, exporter_pid: int
) -> list[dict]:
    rows = []
    tj = json.dumps(devices)
    for tool in ("ours", "snmpbulkwalk"):
        data, wall, cpu, rss = run_child(["--worker", tool, "--targets", tj, "--timeout", str(timeout)])
        rows.append(
            {"run": label, "tool": tool, "wall_s": wall, "cpu_s": cpu, "peak_rss_mb": rss / 1024, **data}
        )
    cpu0, _ = proc_cpu_rss(exporter_pid)
    data, wall, _cpu_client, _ = run_child(["--worker", "exporter", "--targets", tj, "--url", exporter_url])
    cpu1, hwm = proc_cpu_rss(exporter_pid)
    rows.append(
        {
            "run": label,
            "tool": "snmp_exporter",
            "wall_s": wall,
            "cpu_s": cpu1 - cpu0,
            "peak_rss_mb": hwm / 1024,
            **data,
        }
    )
    return rows


def orchestrate(a: argparse.Namespace) -> None:
    setup_namespace(a.veth)
    work = Path(tempfile.mkdtemp(prefix="pe-bench-"))
    n_dead = round(a.devices * a.dead_pct / 100)
    live_ports = free_ports(a.devices - n_dead)
    snmpds = start_snmpds(live_ports, a.snmpd_procs, work)
    dead_ports = free_ports(n_dead)
    ifs = int(subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout.count("\n"))
    exp_port = free_ports(1)[0]
    exporter_config(work / "snmp.yml", a.timeout)
    exporter = subprocess.Popen(
        [
            shutil.which("prometheus-snmp-exporter") or "prometheus-snmp-exporter",
            f"--config.file={work / 'snmp.yml'}",
            f"--web.listen-address=127.0.0.1:{exp_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{exp_port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(url, timeout=1).read()
            break
        except OSError:
            time.sleep(0.1)
    print(
        f"# {a.devices} devices ({n_dead} dead), {ifs} interfaces each live device -> "
        f"{ifs * len(live_ports)} interfaces; {a.snmpd_procs} snmpd processes; timeout {a.timeout}s x2",
        flush=True,
    )
    rows = []
    relay_proc = None
    try:
        for delay in a.delays:
            devices = live_ports + dead_ports
            if delay:
                fronts = free_ports(len(devices))
                relay_proc = subprocess.Popen(
                    [
                        sys.executable,
                        __file__,
                        "--relay",
                        json.dumps(list(zip(fronts, devices, strict=True))),
                        "--delay-ms",
                        str(delay),
                    ],
                    stdout=subprocess.PIPE,
                    text=True,
                )
                relay_proc.stdout.readline()
                devices = fronts
            rows += measure(f"rtt {delay} ms", devices, a.timeout, url, exporter.pid)
            if relay_proc:
                relay_proc.terminate()
                relay_proc.wait()
                relay_proc = None
    finally:
        exporter.terminate()
        for p in snmpds:
            p.terminate()
        for p in [exporter, *snmpds]:
            p.wait()
    print(
        f"{'run':10} {'tool':14} {'wall s':>7} {'CPU s':>7} {'varbinds':>9} {'vb/CPU-s':>9} "
        f"{'peak MB':>8} {'ok':>4} {'dead':>4} {'ifaces':>7}"
    )
    for r in rows:
        vps = r["varbinds"] / r["cpu_s"] if r["cpu_s"] else float("inf")
        print(
            f"{r['run']:10} {r['tool']:14} {r['wall_s']:7.2f} {r['cpu_s']:7.2f} "
            f"{r['varbinds']:9d} {vps:9.0f} "
            f"{r['peak_rss_mb']:8.1f} {r['ok']:4d} {r['failed']:4d} {r.get('interfaces', ''):>7}"
        )
    for run in dict.fromkeys(r["run"] for r in rows):
        ours = next(r for r in rows if r["run"] == run and r["tool"] == "ours")
        exp = next(r for r in rows if r["run"] == run and r["tool"] == "snmp_exporter")
        ratio = (ours["varbinds"] / ours["cpu_s"]) / (exp["varbinds"] / exp["cpu_s"]) if exp["cpu_s"] else 0
        print(f"# {run}: ours vs snmp_exporter varbinds per CPU-second: {ratio:.1f}x")
    print("# JSON " + json.dumps(rows))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", type=int, default=105)
    ap.add_argument("--veth", type=int, default=250, help="veth pairs: each live device has 2*N+1 interfaces")
    ap.add_argument("--dead-pct", type=float, default=5.0)
    ap.add_argument(
        "--delays",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[0, 30],
        help="round-trip delays in ms, one run each (default 0,30)",
    )
    ap.add_argument("--snmpd-procs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--worker", choices=["ours", "snmpbulkwalk", "exporter"])
    ap.add_argument("--targets")
    ap.add_argument("--url")
    ap.add_argument("--relay")
    ap.add_argument("--delay-ms", type=float, default=30)
    a = ap.parse_args()
    if a.relay:
        asyncio.run(relay([tuple(x) for x in json.loads(a.relay)], a.delay_ms / 1000))
        return
    if a.worker:
        targets = json.loads(a.targets)
        if a.worker == "ours":
            out = worker_ours(targets, a.timeout)
        elif a.worker == "snmpbulkwalk":
            out = worker_bulkwalk(targets, a.timeout)
            ru = resource.getrusage(resource.RUSAGE_CHILDREN)
            out.update(children_cpu=ru.ru_utime + ru.ru_stime, children_maxrss=ru.ru_maxrss)
        else:
            out = worker_exporter_client(a.url, targets)
        print(json.dumps(out))
        return
    if os.environ.get("PE_BENCH_NETNS") != "1":
        # a private network namespace: loopback only, veth interfaces invisible to the host
        env = dict(os.environ, PE_BENCH_NETNS="1")
        sys.exit(subprocess.call(["unshare", "-n", sys.executable, __file__, *sys.argv[1:]], env=env))
    orchestrate(a)


if __name__ == "__main__":
    main()
