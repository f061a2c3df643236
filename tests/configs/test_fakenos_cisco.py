"""Cisco IOS over SSH served by fakenos (its own venv, a separate process): login, enable, show run."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from nms.configs import diff, job, store
from nms.configs.credentials import SshCredential
from nms.configs.fetch import Limits, Target
from tests.configs.sim import fakenos_env
from tests.support.ports import free_port

SIM = Path(__file__).resolve().parent / "sim" / "fakenos_cisco.py"
LIMITS = Limits(max_parallel=2, conn_timeout=5, auth_timeout=10, read_timeout=20, deadline_s=40)
RUN = """Building configuration...

Current configuration : 1234 bytes
!
! Last configuration change at 10:00:00 UTC Wed Nov 25 2026 by admin
!
version 15.2
hostname dept-fw1
!
enable secret 5 $1$mERr$hx5rVt7rPNoS4wqbXKX7m0
username admin privilege 15 secret 5 $1$abcd$efghijklmnopqrstu
!
interface GigabitEthernet0/1
 ip address 10.20.0.1 255.255.255.0
!
snmp-server community Pr1vateComm RO
ntp clock-period 17179869
end
"""


@pytest.fixture
def cisco(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    try:
        python = fakenos_env.ensure()
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot build the fakenos venv at {fakenos_env.venv_dir()}: {exc}")
    cfg = tmp_path / "running-config"
    cfg.write_text(RUN, encoding="utf-8")
    port = free_port()
    proc = subprocess.Popen([str(python), str(SIM), str(port), "admin", "ios-pw", str(cfg), "dept-fw1"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield port, cfg
    finally:
        proc.kill()
        proc.wait(10)


def test_cisco_ios_fetch_volatile_change(cisco: tuple[int, Path], db) -> None:
    port, cfg = cisco
    t = Target("dept-fw1", "127.0.0.1", port, "cisco_ios", SshCredential("admin", "ios-pw"), site="hefei")
    first = job.run(db, [t], "test", LIMITS).outcomes[0]
    assert (first.status, first.error) == ("new", None)
    v1 = store.latest(db, "dept-fw1")
    assert "hostname dept-fw1" in v1["content"] and "Pr1vateComm" in v1["content"]

    # NTP clock drift, the change timestamp and the byte count move: not a change
    cfg.write_text(RUN.replace("17179869", "17179870").replace("10:00:00", "12:34:56")
                   .replace("1234 bytes", "1240 bytes"), encoding="utf-8")
    assert job.run(db, [t], "test", LIMITS).outcomes[0].status == "unchanged"

    cfg.write_text(RUN.replace("10.20.0.1", "10.20.0.254"), encoding="utf-8")
    changed = job.run(db, [t], "test", LIMITS).outcomes[0]
    assert changed.status == "changed"
    d = diff.diff_versions(db, v1["id"], changed.version_id)
    assert "+ ip address 10.20.0.254 255.255.255.0" in d.lines
    shown = diff.display_text(store.get_version(db, changed.version_id))
    assert "Pr1vateComm" not in shown and "mERr" not in shown

    wrong = Target("dept-fw1", "127.0.0.1", port, "cisco_ios", SshCredential("admin", "nope"))
    assert job.run(db, [wrong], "test", LIMITS).outcomes[0].error == "auth"
