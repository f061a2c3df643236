"""Real SNMP peers on loopback for the probe tests: snmpsim, net-snmp snmpd, a junk server."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from probes.poller import Poller
from probes.snmp import Credential, Target

REPO = Path(__file__).resolve().parents[2]
TESTBED = (REPO / ".." / "shared" / "testbed").resolve()
LIBRENMS = TESTBED / "librenms"
SNMPSIM_DATA = TESTBED / "snmpsim-data"


def librenms_expected() -> dict[str, dict]:
    """LibreNMS's parse of each walk (GPL: read from the test bed, never copied), by community."""
    import json

    return {
        p.stem: json.loads(p.read_text(encoding="utf-8"))
        for p in sorted((LIBRENMS / "expected").glob("*.json"))
    }


def poll_all(
    port: int, communities: list[str], in_flight: int = 6, timeout: float = 5, retries: int = 1
) -> dict[str, dict]:
    """Poll every community; snmpsim is one slow single-threaded process, so go gently
    (retries pile up in its queue: a 40 MB walk takes seconds per request)."""

    async def run(names: list[str], in_flight: int, timeout: float) -> dict[str, dict]:
        poller = Poller(max_in_flight=in_flight, budget_s=600)
        rs = await asyncio.gather(
            *(
                poller.poll(
                    Target(
                        "127.0.0.1", port, Credential(community=c), timeout=timeout, retries=retries, name=c
                    )
                )
                for c in names
            )
        )
        return dict(zip(names, rs, strict=True))

    results = asyncio.run(run(communities, in_flight, timeout))
    # On a busy machine a request can time out queued behind a big walk in snmpsim: those
    # get one more poll, alone and with a long timeout.  A walk that is really broken
    # fails again; one that answers garbage never timed out in the first place.
    queued_out = [c for c, r in results.items() if not r["ok"] and r.get("error") == "timeout"]
    if queued_out:
        results.update(asyncio.run(run(queued_out, 1, max(timeout, 60.0))))
    return results


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_snmp(
    port: int, community: str, timeout: float = 120.0, proc: subprocess.Popen | None = None
) -> None:
    """Wait until an agent answers sysObjectID (snmpsim indexes its files first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"agent exited with {proc.returncode}")
        r = subprocess.run(
            [
                "snmpget",
                "-v2c",
                "-c",
                community,
                "-r",
                "0",
                "-t",
                "1",
                "-On",
                f"127.0.0.1:{port}",
                "1.3.6.1.2.1.1.2.0",
            ],
            capture_output=True,
            text=True,
        )
        if r.returncode == 0 and "1.3.6.1.2.1.1.2.0" in r.stdout:
            return
        time.sleep(0.3)
    raise RuntimeError(f"no SNMP agent answered on 127.0.0.1:{port}")


def start_snmpsim(
    data_dirs: list[Path], probe_community: str, startup_s: float = 300.0
) -> tuple[subprocess.Popen, int, Path]:
    """One snmpsim-command-responder serving every file of ``data_dirs`` (community = file path)."""
    exe = shutil.which("snmpsim-command-responder")
    if not exe:
        raise RuntimeError("snmpsim-command-responder is not installed")
    port = free_udp_port()
    # a stable cache dir so the slow first indexing of large walks happens once per machine
    cache = Path(tempfile.gettempdir()) / f"probes-snmpsim-sqlite-index-{os.getuid()}"
    cache.mkdir(exist_ok=True)
    log = Path(tempfile.mkdtemp(prefix="probes-snmpsim-")) / "snmpsim.log"
    cmd = [exe, f"--cache-dir={cache}", f"--agent-udpv4-endpoint=127.0.0.1:{port}"]
    cmd += [f"--data-dir={d}" for d in data_dirs]
    if os.getuid() == 0:
        cmd += ["--process-user=root", "--process-group=root"]
    # snmpsim's index in SQLite instead of dbm.dumb (tests/support/snmpsim_index/anydbm.py)
    index_mod = REPO / "tests" / "support" / "snmpsim_index"
    path = [str(index_mod), os.environ.get("PYTHONPATH", "")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in path if p))
    proc = subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env)
    try:
        wait_snmp(port, probe_community, timeout=startup_s, proc=proc)
    except Exception:
        proc.kill()
        raise
    return proc, port, log


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


V3_USERS = {
    # user: (auth proto, priv proto, key extension) -- net-snmp createUser names differ
    "usha256aes": ("SHA-256", "AES", "blumenthal"),
    "usha512aes256": ("SHA-512", "AES-256", "blumenthal"),
    "usha1aes256": ("SHA", "AES-256", "blumenthal"),
    "usha1aes256c": ("SHA", "AES-256", "cisco"),
    "usha1aes192c": ("SHA", "AES-192", "cisco"),
    "umd5des": ("MD5", "DES", "blumenthal"),
    "usha224auth": ("SHA-224", None, "blumenthal"),
    "unoauth": (None, None, "blumenthal"),
}
_NETSNMP_PRIV = {
    ("AES", "blumenthal"): "AES",
    ("AES-256", "blumenthal"): "AES256",
    ("AES-256", "cisco"): "AES256C",
    ("AES-192", "cisco"): "AES192C",
    ("AES-192", "blumenthal"): "AES192",
    ("DES", "blumenthal"): "DES",
}
AUTH_KEY, PRIV_KEY = "authpass123", "privpass123"


class Snmpd:
    """A real net-snmp snmpd on 127.0.0.1:<free port> with v3 users and pass_persist subtrees."""

    def __init__(self, workdir: Path, pass_subtrees: list[str] = ()) -> None:
        self.dir = workdir
        self.port = free_udp_port()
        self.state = workdir / "state.json"
        self.state.write_text("{}")
        lines = ["rocommunity public 127.0.0.1"]
        for user, (auth, priv, ext) in V3_USERS.items():
            parts = ["createUser", user]
            if auth:
                parts += [auth, f'"{AUTH_KEY}"']
                if priv:
                    parts += [_NETSNMP_PRIV[(priv, ext)], f'"{PRIV_KEY}"']
            lines.append(" ".join(parts))
            level = "priv" if priv else "auth" if auth else "noauth"
            lines.append(f"rouser {user} {level}")
        script = Path(__file__).with_name("pass_persist.py")
        for sub in pass_subtrees:
            lines.append(f"pass_persist .{sub} {sys.executable} {script} {self.state}")
        conf = workdir / "snmpd.conf"
        conf.write_text("\n".join(lines) + "\n")
        env = dict(
            os.environ, MIBS="", MIBDIRS=str(workdir / "nomibs"), SNMP_PERSISTENT_DIR=str(workdir / "persist")
        )
        self.proc = subprocess.Popen(
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
                str(workdir / "pid"),
                f"127.0.0.1:{self.port}",
            ],
            stdout=open(workdir / "snmpd.log", "w"),
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            wait_snmp(self.port, "public", timeout=20, proc=self.proc)
        except Exception:
            stop(self.proc)
            raise

    def serve(self, values: dict[str, tuple[str, object]]) -> None:
        """Replace what the pass_persist subtrees answer (atomically)."""
        import json

        tmp = self.state.with_suffix(".tmp")
        tmp.write_text(json.dumps({k: list(v) for k, v in values.items()}))
        os.replace(tmp, self.state)

    def close(self) -> None:
        stop(self.proc)


def start_junk_server() -> tuple[socket.socket, int, object]:
    """A UDP server answering every datagram with junk bytes (a 'garbage-answering device')."""
    import threading

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    stop_event = threading.Event()

    def loop() -> None:
        sock.settimeout(0.2)
        while not stop_event.is_set():
            try:
                _, addr = sock.recvfrom(65535)
            except (TimeoutError, OSError):
                continue
            sock.sendto(b"\x30\x03\x02\x01\xff garbage \x00\xff\xfe", addr)

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    return sock, port, stop_event


def plain_copy(src: Path, name: str) -> Path:
    """A decompressed copy of a folder of ``.snmprec.bz2`` walks in a stable temp dir.

    snmpsim re-decompresses a bz2 walk from the start on every lookup, which makes large
    walks time out; plain files (indexed once, cache kept) answer at normal speed.  Only
    for BSD-licensed data (snmpsim-data), never for the GPL LibreNMS files.
    """
    import bz2

    dst = Path(tempfile.gettempdir()) / f"probes-{name}-{os.getuid()}"
    for f in src.rglob("*.snmprec*"):
        rel = f.relative_to(src)
        out = dst / (rel.as_posix().removesuffix(".bz2"))
        if out.exists() and out.stat().st_mtime >= f.stat().st_mtime:
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        tmp.write_bytes(bz2.decompress(f.read_bytes()) if f.suffix == ".bz2" else f.read_bytes())
        os.replace(tmp, out)
    return dst
