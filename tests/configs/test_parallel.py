"""Thirty devices at once, one of them hanging mid-output: the rest finish, the hang is a timeout."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from nms.configs import job, store
from nms.configs.credentials import SshCredential
from nms.configs.fetch import Limits, Target
from tests.configs.conftest import sim_device

HANG_S = 120.0


def _config(name: str) -> str:
    return (f"#\n sysname {name}\n#\ninterface GigabitEthernet0/0/1\n"
            f" description uplink of {name}\n#\nreturn\n")


@pytest.mark.slow  # long end-to-end scenario: CI's slow tier (make test-slow)
def test_thirty_devices_one_hanging(tmp_path: Path, db, vrp_sim) -> None:
    devices = []
    for i in range(30):
        name = f"county-{i:02d}"
        style = "huawei" if i % 2 else "h3c"
        devices.append(sim_device(tmp_path, name, style, _config(name), hang_s=HANG_S if i == 7 else 0))
    ports = vrp_sim.start(devices)
    cred = SshCredential("netops", "s3cret-pw")
    targets = [Target(d["name"], "127.0.0.1", ports[d["name"]],
                      "huawei" if d["style"] == "huawei" else "hp_comware", cred) for d in devices]
    limits = Limits(max_parallel=10, conn_timeout=5, auth_timeout=10, read_timeout=20, deadline_s=20,
                    grace_s=2)

    t0 = time.monotonic()
    report = job.run(db, targets, "test:parallel", limits)
    wall = time.monotonic() - t0
    print(f"\n30 devices (1 hanging {HANG_S:g}s, deadline {limits.deadline_s:g}s, "
          f"{limits.max_parallel} at once): wall {wall:.1f}s")

    by_dev = {o.device: o for o in report.outcomes}
    assert len(by_dev) == 30
    assert by_dev["county-07"].status == "failed" and by_dev["county-07"].error.startswith("timeout")
    assert all(o.status == "new" for d, o in by_dev.items() if d != "county-07"), report.failed
    assert len(store.versions(db, "county-08")) == 1
    assert wall < HANG_S / 2  # the hang did not stall the run (bound, not a benchmark)
