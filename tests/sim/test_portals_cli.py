"""``python -m probes.sim serve --portals DIR`` and the fault CLI on its portals, as real processes."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

from probes.sim import run_subprocess
from tests.support.processes import SNMP_SECRETS

ROOT = Path(__file__).resolve().parents[2]


def _cli(control: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "probes.sim", *args[:1], "--control", control, *args[1:]],
                         cwd=ROOT, capture_output=True, text=True, timeout=30)  # fmt: skip
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _get(url: str, ca: str) -> tuple[int, str]:
    ctx = ssl.create_default_context(cafile=ca)
    try:
        with urllib.request.urlopen(url, context=ctx, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_portals_served_under_the_demo_ca_and_faults_from_the_cli(tmp_path: Path) -> None:
    with run_subprocess(ROOT / "inventory.yaml", devices=["hefei-int-rtr1"], env=SNMP_SECRETS,
                        extra_args=["--portals", str(tmp_path)]) as sim:  # fmt: skip
        assert sim.ready["portals"]["count"] == 169
        where = json.loads((tmp_path / "portals.json").read_text())
        ca = str(tmp_path / "ca.pem")
        url, clone = where["https://www.hefei.gov.cn/"], where["https://www.hefei-gov.cn/"]
        assert url.startswith("https://127.35.") and clone.startswith("https://127.36.")
        status, page = _get(url, ca)  # verified: the certificate names the loopback address
        assert status == 200 and "合肥市人民政府" in page and "访问量" in page
        assert _get(clone, ca)[0] == 404  # nothing at the look-alike yet

        assert _cli(sim.control, "fault", "portal-defaced", "hefei-www")["faults"] == ["portal-defaced"]
        _cli(sim.control, "fault", "portal-clone", "hefei-www")
        assert "Owned by the crew" in _get(url, ca)[1]
        status, copy = _get(clone, ca)
        assert status == 200 and "合肥市人民政府" in copy and "Owned by the crew" not in copy
        faults = _cli(sim.control, "status")["portals"]["faults"]
        assert faults == {"hefei-www": ["portal-clone", "portal-defaced"]}
        cmd = [sys.executable, "-m", "probes.sim", "fault", "--control", sim.control, "portal-down", "x"]
        bad = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        assert bad.returncode == 1 and "expected a portal id" in bad.stderr
        _cli(sim.control, "fault", "clear-all")
        assert _cli(sim.control, "status")["portals"]["faults"] == {}
        assert "Owned by the crew" not in _get(url, ca)[1]
