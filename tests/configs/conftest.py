"""Fixtures for config-backup tests: a centre DB in a tmp dir and our VRP/Comware SSH simulator."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from nms.config import Settings
from nms.schema import create_schema, open_migrated

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", inventory_path=tmp_path / "no-inventory.yaml",
                    database_url=database_url)


@pytest.fixture
def db(settings: Settings):
    """centre.db with its tables made, as the centre does at start."""
    d = open_migrated(settings, "centre")
    create_schema(d)
    yield d
    d.conn.close()


class SimProcess:
    """One ``probes.sim.cli_ssh`` process serving the devices of a spec; restartable on the same ports."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.proc: subprocess.Popen[str] | None = None
        self.ports: dict[str, int] = {}

    def start(self, devices: list[dict]) -> dict[str, int]:
        spec = self.workdir / "spec.json"
        spec.write_text(json.dumps(devices), encoding="utf-8")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "probes.sim.cli_ssh", str(spec)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("probes.sim.cli_ssh exited before listening")
        self.ports = json.loads(line)
        return self.ports

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture
def vrp_sim(tmp_path: Path) -> Iterator[SimProcess]:
    sim = SimProcess(tmp_path)
    yield sim
    sim.stop()


def sim_device(tmp_path: Path, name: str, style: str, config: str, **extra) -> dict:
    """A device entry for the simulator spec, with its config written to a file the test can edit."""
    cfg = tmp_path / f"{name}.cfg"
    cfg.write_text(config, encoding="utf-8")
    entry = {"name": name, "style": style, "config_file": str(cfg),
             "host_key_file": str(tmp_path / f"{name}.key"), "username": "netops", "password": "s3cret-pw"}
    entry.update(extra)
    return entry
