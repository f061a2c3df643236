"""Event receiver benchmark: traps and syslog lines per CPU-second, beside net-snmp's
snmptrapd and rsyslog's imudp, each writing what it received to a file, in one run.

Each receiver is a separate process on a loopback port; the same pre-built datagrams
(SNMPv2c linkDown traps with ifIndex/ifAdminStatus/ifOperStatus/ifName; RFC 3164 Huawei
IF_STATE lines) are sent to each at a paced rate, and its CPU time (user + system, all
threads, from /proc) is read before and after.  Ours decodes, maps the source to an
inventory device, gives the profile's meaning and writes one tab-separated line per event.

    python bench/events.py [--count 20000] [--rate 5000] [--interfaces 48]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from probes.common.inventory_model import Device, Inventory  # noqa: E402
from probes.snmp import ber  # noqa: E402

COMMUNITY = b"bench-trap"
LINE = (b"<189>Dec  6 13:00:00 hf-rtr1 %%01IFNET/4/IF_STATE(l)[7]:Interface GigabitEthernet0/0/%d "
        b"has turned into DOWN state.")
TICK = os.sysconf("SC_CLK_TCK")


def trap(i: int, interfaces: int = 48) -> bytes:
    """A v2c linkDown as a Huawei router sends it (4 interface varbinds), for interface
    1 + i % ``interfaces`` (a flap storm repeats a few; ``--interfaces`` as many as traps: none)."""
    def vb(oid: str, value: bytes) -> bytes:
        return ber.tlv(ber.SEQUENCE, ber.enc_oid(ber.parse_oid_text(oid)) + value)
    idx = 1 + i % interfaces
    vbs = (vb("1.3.6.1.2.1.1.3.0", ber.enc_int(1000 + i, ber.TIMETICKS))
           + vb("1.3.6.1.6.3.1.1.4.1.0", ber.enc_oid(ber.parse_oid_text("1.3.6.1.6.3.1.1.5.3")))
           + vb(f"1.3.6.1.2.1.2.2.1.1.{idx}", ber.enc_int(idx))
           + vb(f"1.3.6.1.2.1.2.2.1.7.{idx}", ber.enc_int(1))
           + vb(f"1.3.6.1.2.1.2.2.1.8.{idx}", ber.enc_int(2))
           + vb(f"1.3.6.1.2.1.31.1.1.1.1.{idx}", ber.tlv(ber.OCTET_STRING, b"GigabitEthernet0/0/%d" % idx)))
    pdu = ber.tlv(0xA7, ber.enc_int(i) + ber.enc_int(0) + ber.enc_int(0) + ber.tlv(ber.SEQUENCE, vbs))
    return ber.tlv(ber.SEQUENCE, ber.enc_int(1) + ber.tlv(ber.OCTET_STRING, COMMUNITY) + pdu)


def serve(kind: str, port: int, out: str) -> None:
    """Child process: our receiver, writing one line per event to ``out``."""
    from probes.events.flood import FloodGate
    from probes.events.pipeline import EventPipeline
    from probes.events.rules import load_rules
    from probes.events.sources import SourceMap
    from probes.events.syslog import SyslogReceiver, serve_syslog
    from probes.events.traps import TrapReceiver, serve_traps
    from probes.snmp.credential import Credential

    inv = Inventory()
    inv.devices["hf-rtr1"] = Device(name="hf-rtr1", site="hefei", role="router", vendor="huawei", model="AR",
                                    profile="huawei-vrp", address="127.0.0.1", credential="c")
    fh = open(out, "w", encoding="utf-8")  # noqa: SIM115 - open for the process's life

    clean = str.maketrans("\t\n", "  ")

    def emit(ev) -> None:  # noqa: ANN001 - one tab-separated line, as snmptrapd writes one line
        fh.write(f"{ev.time:.3f}\t{ev.source}\t{ev.device}\t{ev.kind}\t{ev.subject}\t{ev.severity}\t"
                 f"{ev.text.translate(clean)}\n")

    unlimited = FloodGate(rate=1e12, burst=1e12)  # one sender here; flood control measured elsewhere
    pipe = EventPipeline(SourceMap(inv, load_rules()), emit, known=unlimited)

    async def main() -> None:
        if kind == "traps":
            rx = TrapReceiver(pipe.on_trap, communities=[COMMUNITY.decode()],
                              users=[Credential(version="v2c", community="x")], admit=pipe.admit)
            await serve_traps(rx, "127.0.0.1", port)
        else:
            await serve_syslog(SyslogReceiver(pipe.on_syslog, admit=pipe.admit), "127.0.0.1", port)
        print("ready", flush=True)
        while True:
            await asyncio.sleep(0.2)
            fh.flush()

    asyncio.run(main())


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def free_udp() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def count_lines(path: Path, prefix: bytes = b"") -> int:
    try:
        with open(path, "rb") as f:
            return sum(1 for line in f if line.startswith(prefix))
    except FileNotFoundError:
        return 0


def start(cmd: list[str], ready: str | None = None, **kw) -> subprocess.Popen:  # noqa: ANN003
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if ready:
        line = proc.stdout.readline() if proc.stdout else ""
        if ready not in line:
            proc.kill()
            raise RuntimeError(f"{cmd[0]} did not start: {line} {proc.stderr.read() if proc.stderr else ''}")
    return proc


def measure(name: str, cmd: list[str], port: int, packets: list[bytes], rate: float,
            counted: Callable[[], int], ready: str | None = None, **kw) -> tuple[str, int, float]:  # noqa: ANN003
    """Start ``cmd``, send ``packets`` paced at ``rate``/s, wait until ``counted()`` stops
    growing; (name, messages written, CPU seconds the receiver used meanwhile)."""
    proc = start(cmd, ready, **kw)
    try:
        time.sleep(0.5)
        before = cpu_s(proc.pid)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
            t0 = time.perf_counter()
            for i, p in enumerate(packets):
                s.sendto(p, ("127.0.0.1", port))
                if i % 200 == 199:
                    ahead = t0 + (i + 1) / rate - time.perf_counter()
                    if ahead > 0:
                        time.sleep(ahead)
        last, stable = -1, 0
        while stable < 4:
            time.sleep(0.25)
            n = counted()
            stable = stable + 1 if n == last else 0
            last = n
        return name, last, cpu_s(proc.pid) - before
    finally:
        proc.terminate()
        proc.wait()


def decode_only(traps: list[bytes]) -> list[tuple[str, float]]:
    """In-process decode alone (no socket, no meaning): ours and pysnmp 7's, per CPU-second."""
    from probes.events.notification import decode_pdu, split_message

    out = []
    t0 = time.process_time()
    for d in traps:
        m = split_message(d)
        assert m is not None
        decode_pdu(m.pdu, "v2c")
    out.append(("ours, decode only", len(traps) / (time.process_time() - t0)))
    try:
        from pyasn1.codec.ber import decoder
        from pysnmp.proto import api
    except ImportError:
        return out
    proto = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
    some = traps[:2000]
    t0 = time.process_time()
    for d in some:
        msg, _ = decoder.decode(d, asn1Spec=proto.Message())
        [(str(o), v.prettyPrint()) for o, v in proto.apiTrapPDU.get_varbinds(proto.apiMessage.get_pdu(msg))]
    out.append(("pysnmp 7, decode only", len(some) / (time.process_time() - t0)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=20000)
    ap.add_argument("--rate", type=float, default=5000, help="datagrams per second sent")
    ap.add_argument("--interfaces", type=int, default=48,
                    help="distinct interfaces the traps name (= --count: no trap repeats another's varbinds)")
    args = ap.parse_args()
    traps = [trap(i, args.interfaces) for i in range(args.count)]
    lines = [LINE % (1 + i % 48) for i in range(args.count)]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
        for kind, packets in (("traps", traps), ("syslog", lines)):
            port, out = free_udp(), d / f"ours-{kind}.tsv"
            cmd = [sys.executable, __file__, "--serve", kind, str(port), str(out)]
            results.append(measure(f"ours ({kind})", cmd, port, packets, args.rate,
                                   lambda out=out: count_lines(out), "ready", env=env))
        snmptrapd = shutil.which("snmptrapd") or "/usr/sbin/snmptrapd"
        if Path(snmptrapd).exists():
            port, out = free_udp(), d / "snmptrapd.log"
            conf = d / "snmptrapd.conf"
            conf.write_text(f"authCommunity log {COMMUNITY.decode()}\ndoNotRetainNotificationLogs yes\n")
            cmd = [snmptrapd, "-f", "-C", "-c", str(conf), "-n", "-Lf", str(out), "-F", "TRAP %a %N %v\n",
                   f"udp:127.0.0.1:{port}"]
            results.append(measure("net-snmp snmptrapd", cmd, port, traps, args.rate,
                                   lambda out=out: count_lines(out, b"TRAP ")))
        rsyslogd = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
        if Path(rsyslogd).exists():
            port, out = free_udp(), d / "rsyslog.log"
            conf = d / "rsyslog.conf"
            conf.write_text(
                f'global(workDirectory="{d}")\nmodule(load="imudp")\n'
                f'input(type="imudp" address="127.0.0.1" port="{port}")\n'
                'template(name="line" type="string" string="%fromhost-ip% %rawmsg%\\n")\n'
                f'*.* action(type="omfile" file="{out}" template="line")\n')
            cmd = [rsyslogd, "-n", "-f", str(conf), "-i", str(d / "rsyslog.pid")]
            results.append(measure("rsyslog imudp", cmd, port, lines, args.rate,
                                   lambda out=out: count_lines(out)))
    print(f"{args.count} datagrams each, sent at {args.rate:.0f}/s from 127.0.0.1, "
          f"traps over {args.interfaces} interfaces")
    print(f"{'receiver':<22}{'received':>10}{'CPU s':>9}{'per CPU-s':>12}")
    per = {}
    for name, n, cpu in results:
        rate = n / cpu if cpu else float("inf")
        per[name] = rate
        print(f"{name:<22}{n:>10}{cpu:>9.2f}{rate:>12.0f}")
    for name, rate in decode_only(traps):
        print(f"{name:<22}{'':>10}{'':>9}{rate:>12.0f}")
    for ours, theirs in (("ours (traps)", "net-snmp snmptrapd"), ("ours (syslog)", "rsyslog imudp")):
        if ours in per and theirs in per:
            print(f"{ours} / {theirs}: {per[ours] / per[theirs]:.2f}x")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        main()
