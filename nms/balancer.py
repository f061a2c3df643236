"""haproxy in front of several ``nms serve`` processes of one province (issue 19).

Several centres share one PostgreSQL database; agents, browsers and the wall keep one
address, and haproxy spreads requests round robin over the centres that answer.  It runs
in the foreground as a child of whoever starts it (the demo, a test), never as a daemon,
so stopping that parent's :class:`Balancer` stops it.

Choices, and why:

- health check ``GET /login`` (it needs no session and no database write, and answers 200
  only once the app is up); every 500 ms, down after 2 failures, up again after 1 success:
  a dead centre is out of the rotation within about 1.5 s;
- ``option redispatch`` with retries: a request whose connection is refused (a centre just
  killed, not yet marked down) is sent to another centre instead of failing; a GET or HEAD
  that a centre died while answering (nothing came back) is asked again of another
  (``retry-on empty-response``), never a POST: its client re-sends it (the agents' spool);
- Server-Sent Events (the wall's stream) get an hour of server inactivity; other requests
  two minutes, like deploy/nginx/nms.conf;
- ``X-Forwarded-For`` is the client's address, replacing whatever the client sent (the
  centres believe it from the balancer alone: ``NMS_TRUSTED_PROXY=127.0.0.1``); behind a
  proxy of its own (nginx terminating TLS) the balancer passes that proxy's headers on.
"""

from __future__ import annotations

import csv
import io
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

HEALTH_PATH = "/login"  # needs no login: GET answers 200 from any running centre
BACKEND = "centres"


class BalancerError(RuntimeError):
    """haproxy is missing, refuses its configuration, or does not come up."""


def tail_of(log: Path, chars: int = 2000) -> str:
    """The end of a child's log, for an error message that says why it did not come up."""
    try:
        return log.read_text(encoding="utf-8", errors="replace")[-chars:]
    except OSError:
        return ""


def haproxy_binary() -> str:
    """The haproxy executable; a clear error when the Debian package is not installed."""
    path = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
    if path is None:
        raise BalancerError("haproxy not installed (scripts/setup.sh installs the Debian package haproxy)")
    return path


def haproxy_config(
    port: int,
    backends: Sequence[tuple[str, int]],
    *,
    host: str = "127.0.0.1",
    stats_socket: Path | None = None,
    behind_proxy: bool = False,
    health_path: str = HEALTH_PATH,
) -> str:
    """The configuration text: one HTTP frontend on ``host:port``, one round-robin backend."""
    if not backends:
        raise ValueError("haproxy_config: at least one backend (host, port) is needed")
    forwarded = (
        ["    # behind a proxy of our own: its X-Forwarded-* headers pass unchanged"]
        if behind_proxy
        else ["    http-request del-header X-Forwarded-For", "    option forwardfor"]
    )
    lines = [
        "global",
        "    maxconn 4096",
        *([f"    stats socket {stats_socket} mode 600 level user"] if stats_socket else []),
        "",
        "defaults",
        "    mode http",
        "    option redispatch",
        "    retries 3",
        # a centre killed while answering a GET: ask another (reads only; a POST is replayed by its client)
        "    retry-on conn-failure empty-response",
        "    timeout connect 2s",
        "    timeout check 1s",
        "    timeout http-request 10s",
        "    timeout http-keep-alive 10s",
        "    timeout queue 10s",
        "    timeout client 1h",  # idle clients are cut by http-request/keep-alive; streams live long
        "    timeout server 120s",
        "    timeout tunnel 1h",
        "",
        "frontend nms",
        f"    bind {host}:{port}",
        *forwarded,
        "    http-request disable-l7-retry unless METH_GET || METH_HEAD",
        f"    default_backend {BACKEND}",
        "",
        f"backend {BACKEND}",
        "    balance roundrobin",
        "    http-request set-timeout server 1h if { req.hdr(accept) -m sub text/event-stream }",
        "    option httpchk",
        f"    http-check send meth GET uri {health_path} ver HTTP/1.1 hdr Host localhost",
        "    http-check expect status 200",
        "    default-server check inter 500ms fastinter 500ms downinter 500ms fall 2 rise 1",
        *(f"    server centre{i} {h}:{p}" for i, (h, p) in enumerate(backends, 1)),
    ]
    return "\n".join(lines) + "\n"


class Balancer:
    """haproxy as a child process: :meth:`start`, :meth:`stop`, and the centres' health."""

    def __init__(
        self,
        workdir: Path,
        port: int,
        backends: Sequence[tuple[str, int]],
        *,
        host: str = "127.0.0.1",
        behind_proxy: bool = False,
    ) -> None:
        self.workdir = Path(workdir)
        self.host, self.port = host, port
        self.backends = list(backends)
        self.conf = self.workdir / "haproxy.cfg"
        self.log = self.workdir / "haproxy.log"
        self.socket = self.workdir / "haproxy.sock"
        self.behind_proxy = behind_proxy
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        """Check the configuration, start haproxy and wait until it accepts connections
        and answers on its stats socket (:meth:`states`)."""
        binary = haproxy_binary()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(
            haproxy_config(
                self.port, self.backends, host=self.host, stats_socket=self.socket,
                behind_proxy=self.behind_proxy,
            ),
            encoding="utf-8",
        )
        check = subprocess.run([binary, "-c", "-q", "-f", str(self.conf)], capture_output=True, text=True)
        if check.returncode != 0:
            why = check.stderr.strip() or check.stdout.strip()
            raise BalancerError(f"haproxy refuses {self.conf}: {why}")
        self.socket.unlink(missing_ok=True)  # a previous run's, which would look ready at once
        with open(self.log, "ab") as log:
            # -db: stay in the foreground, so the process is ours to stop and cannot be orphaned as a daemon.
            self.proc = subprocess.Popen([binary, "-db", "-f", str(self.conf)], stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while not (self.socket.exists() and self._accepting()):  # the stats socket may come last
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise BalancerError(f"haproxy did not listen on {self.host}:{self.port}: {self.log_tail()}")
            time.sleep(0.05)

    def _accepting(self) -> bool:
        try:
            socket.create_connection((self.host, self.port), timeout=0.5).close()
        except OSError:
            return False
        return True

    def log_tail(self) -> str:
        return tail_of(self.log)

    def states(self) -> dict[str, str]:
        """Each centre's health as haproxy sees it (``UP``, ``DOWN``, ...), by ``host:port``.

        Read from the stats socket, so a test or the demo can wait for a killed centre to be
        taken out rather than sleep.
        """
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(2)
            s.connect(str(self.socket))
            s.sendall(b"show stat\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        rows = csv.DictReader(io.StringIO(data.decode().lstrip("# ")))
        by_name = {f"centre{i}": f"{h}:{p}" for i, (h, p) in enumerate(self.backends, 1)}
        return {
            by_name[row["svname"]]: row["status"].split()[0]
            for row in rows
            if row.get("pxname") == BACKEND and row.get("svname") in by_name
        }

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (haproxy closes at once), SIGKILL if it lingers; idempotent."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> Balancer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
