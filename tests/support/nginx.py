"""The shipped nginx configuration (deploy/nginx/nms.conf), run for real on loopback ports.

The site file is used as shipped; only its deployment paths, ports and addresses are
replaced by the test's (each replacement must match, so a reshaped file fails loudly).
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import subprocess
from pathlib import Path

from tests.conftest import free_port
from tests.support.processes import ROOT, wait_for

SITE = ROOT / "deploy" / "nginx" / "nms.conf"
VERSION = "    proxy_http_version 1.1;\n"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def render(site: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        if old not in site:
            raise AssertionError(f"{SITE}: expected {old!r} in the shipped configuration")
        site = site.replace(old, new)
    return site


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
        site = render(
            SITE.read_text(encoding="utf-8"),
            {
                "listen 80;": f"listen 127.0.0.1:{self.http_port};",
                "listen [::]:80;\n": "",
                "listen 443 ssl http2;": f"listen 127.0.0.1:{self.port} ssl http2;",
                "listen [::]:443 ssl http2;\n": "",
                "/etc/nms/tls/centre.pem": str(self.cert),
                "/etc/nms/tls/centre.key": str(self.key),
                "/etc/nms/tls/agents-ca.pem": str(agents_ca),
                "127.0.0.1:8080": f"127.0.0.1:{upstream_port}",
                **({VERSION: f"{VERSION}    proxy_bind {bind};\n"} if bind else {}),
            },
        )
        (workdir / "nms-site.conf").write_text(site)
        temp = "".join(
            f"    {kind}_temp_path {workdir / kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        user = "user root root;\n" if os.geteuid() == 0 else ""  # workers must reach the temp dirs
        (workdir / "nginx.conf").write_text(
            f"{user}daemon off;\nworker_processes 1;\npid {workdir / 'nginx.pid'};\n"
            f"error_log {workdir / 'error.log'} info;\nevents {{ worker_connections 64; }}\n"
            f"http {{\n    access_log {workdir / 'access.log'};\n{temp}"
            f"    include {workdir / 'nms-site.conf'};\n}}\n"
        )
        self.proc: subprocess.Popen | None = None

    def use(self, cert: Path, key: Path) -> None:
        """Put ``cert``/``key`` where the site file points (then :meth:`reload`)."""
        shutil.copyfile(cert, self.cert)
        shutil.copyfile(key, self.key)

    def start(self) -> None:
        cmd = [NGINX, "-e", str(self.workdir / "error.log"), "-c", str(self.workdir / "nginx.conf")]
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
