"""The shipped nginx configuration (deploy/nginx/nms.conf), run for real on loopback ports.

The site file is used as shipped; only its deployment paths, ports and addresses are
replaced by the test's (each replacement must match, so a reshaped file fails loudly).
"""

from __future__ import annotations

import http.client
import shutil
import signal
import subprocess
from pathlib import Path

from nms.localtls import nginx_command, write_nginx_conf
from tests.support.ports import free_port
from tests.support.processes import wait_for

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


class Nginx:
    """nginx in the foreground with the shipped site: HTTPS on ``port``, HTTP on ``http_port``."""

    def __init__(
        self,
        workdir: Path,
        upstream_port: int,
        cert: Path,
        key: Path,
        agents_ca: Path,
        bind: str | None = None,
    ) -> None:
        """``bind``: the address nginx connects to nms from (to tell it from other loopback clients)."""
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port, self.http_port = free_port(), free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.cert, self.key = workdir / "centre.pem", workdir / "centre.key"  # what the site file names
        self.use(cert, key)
        self.conf = write_nginx_conf(
            workdir,
            https_port=self.port,
            http_port=self.http_port,
            upstream_port=upstream_port,
            cert=self.cert,
            key=self.key,
            agents_ca=agents_ca,
            bind=bind,
        )
        self.proc: subprocess.Popen | None = None

    def use(self, cert: Path, key: Path) -> None:
        """Put ``cert``/``key`` where the site file points (then :meth:`reload`)."""
        shutil.copyfile(cert, self.cert)
        shutil.copyfile(key, self.key)

    def start(self) -> None:
        cmd = nginx_command(self.conf)
        check = subprocess.run([*cmd, "-t"], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self._listening, 15, f"nginx on {self.http_port} ({self.workdir / 'error.log'})")

    def _listening(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"nginx exited: {(self.workdir / 'error.log').read_text()[-2000:]}")
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=1)
        try:
            conn.request("GET", "/")
            return conn.getresponse().status == 301  # the plain-HTTP server only redirects
        except OSError:
            return False
        finally:
            conn.close()

    def reload(self) -> None:
        """SIGHUP: nginx re-reads the configuration and the certificate files."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGHUP)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
