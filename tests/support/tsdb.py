"""Real time-series engines on loopback for the store's tests: VictoriaMetrics and Prometheus.

Each runs from its Debian binary on a free port with a temporary data directory and takes
Prometheus remote write.  A missing binary skips (``pytest.skip``), which fails the run
under ``CI=true`` (tests/support/ci_skips.py): ``scripts/setup.sh`` installs both.
"""

from __future__ import annotations

import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.support.ports import free_port
from tests.support.processes import stop_process, wait_for

VICTORIA = "/usr/bin/victoria-metrics"
PROMETHEUS = "/usr/bin/prometheus"


class Engine:
    """A TSDB subprocess: start, stop, restart on the same port and data directory."""

    name = "engine"
    ready_path = "/-/healthy"

    def __init__(self, workdir: Path, binary: str) -> None:
        if not Path(binary).exists() and not shutil.which(Path(binary).name):
            pytest.skip(f"{binary} not installed (scripts/setup.sh installs it)")
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"{self.name}.log"
        self.proc: subprocess.Popen | None = None

    def args(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([self.binary, *self.args()], stdout=out, stderr=subprocess.STDOUT)
        wait_for(self._ready, 30, f"{self.name} on {self.url} (log {self.log})", every=0.05)

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited: {self.log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(self.url + self.ready_path, timeout=1) as resp:
                return resp.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        stop_process(self.proc)


class VictoriaMetrics(Engine):
    """``victoria-metrics`` as the docs (docs/storage.md) ask a centre to run it.

    ``-dedup.minScrapeInterval=1ms`` keeps one sample per series and timestamp (a re-sent
    batch then doubles nothing); ``-search.latencyOffset=0s`` and no cache: a test reads
    what it has just written (after :meth:`flush`).
    """

    name = "victoria-metrics"

    def __init__(self, workdir: Path, retention: str = "100y") -> None:
        super().__init__(workdir, VICTORIA)
        self.retention = retention

    def args(self) -> list[str]:
        return [
            f"-storageDataPath={self.workdir / 'vmdata'}",
            f"-httpListenAddr=127.0.0.1:{self.port}",
            f"-retentionPeriod={self.retention}",
            "-dedup.minScrapeInterval=1ms",
            "-search.latencyOffset=0s",
            "-search.disableCache",
            "-loggerLevel=WARN",
        ]


class PrometheusReceiver(Engine):
    """Prometheus 2.x with ``--web.enable-remote-write-receiver`` and a 30-day out-of-order window
    (without it Prometheus refuses any sample older than the newest one of its series)."""

    name = "prometheus"
    ready_path = "/-/ready"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir, PROMETHEUS)
        (workdir / "prometheus.yml").write_text(
            "global: {}\nstorage:\n  tsdb:\n    out_of_order_time_window: 30d\n"
        )

    def args(self) -> list[str]:
        return [
            f"--config.file={self.workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-remote-write-receiver",
            "--storage.tsdb.retention.time=60d",
            "--log.level=warn",
        ]


@pytest.fixture(scope="session")
def victoria(tmp_path_factory: pytest.TempPathFactory):
    engine = VictoriaMetrics(tmp_path_factory.mktemp("victoria"))
    engine.start()
    yield engine
    engine.stop()


@pytest.fixture(scope="session")
def prometheus_rw(tmp_path_factory: pytest.TempPathFactory):
    engine = PrometheusReceiver(tmp_path_factory.mktemp("prometheus-rw"))
    engine.start()
    yield engine
    engine.stop()
