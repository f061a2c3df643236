"""``pip install`` into a temporary prefix, then ``nms init``, ``nms doctor`` and ``nms serve`` from it.

What a clean machine gets: the ``nms`` and ``nms-agent`` commands, the package data
(templates, profiles, alert rules), nothing read from the checkout.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import urllib.error
import urllib.request

import pytest

from tests.support.ports import free_port
from tests.support.processes import ROOT, wait_for, write_inventory

PACKAGES = ("nms", "probes", "ipam", "dashboards")


@pytest.mark.skipif(
    importlib.util.find_spec("wheel") is None, reason="wheel not installed (requirements.txt)"
)
def test_install_init_doctor_serve(tmp_path):
    src, prefix = tmp_path / "src", tmp_path / "prefix"
    for pkg in PACKAGES:  # a copy: the build leaves build/ and *.egg-info beside the sources
        shutil.copytree(ROOT / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", src)
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index"]
    done = subprocess.run(
        [*pip, "--prefix", str(prefix), str(src)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    site = sysconfig.get_path("purelib", vars={"base": str(prefix), "platbase": str(prefix)})
    bin_dir = prefix / "bin"
    assert (bin_dir / "nms").exists() and (bin_dir / "nms-agent").exists()

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("NMS_") and k not in ("PYTHONPATH", "PYTHONHOME")
    }
    env.update(
        PYTHONPATH=site,
        PYTHONUNBUFFERED="1",
        NMS_DATA_DIR=str(tmp_path / "data"),
        NMS_INVENTORY=str(write_inventory(tmp_path / "inventory.yaml", roles=("firewall",))),
        NMS_SECRETS_FILE=str(tmp_path / "secrets.env"),
        NMS_ADMIN_PASSWORD="install-test-password-1",
        NMS_INSECURE_COOKIES="1",
    )

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)

    where = run(sys.executable, "-c", "import nms, probes.agent.cli as a; print(nms.__file__, a.__file__)")
    assert where.returncode == 0 and all(p.startswith(site) for p in where.stdout.split()), where.stdout
    init = run(str(bin_dir / "nms"), "init")
    assert init.returncode == 0, init.stderr
    assert "administrator admin at anhui: created" in init.stdout
    doctor = run(str(bin_dir / "nms"), "doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "ok    database centre" in doctor.stdout and "ok    inventory" in doctor.stdout
    agent = run(str(bin_dir / "nms-agent"), "run", "--help")
    assert agent.returncode == 0 and "--cert-file" in agent.stdout

    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        serve = subprocess.Popen(
            [str(bin_dir / "nms"), "serve", "--port", str(port), "--rollup-every", "0", "--threads", "2"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def login_page() -> str | None:
        if serve.poll() is not None:
            raise AssertionError(f"nms serve exited: {log.read_text()[-2000:]}")
        try:
            with opener.open(f"http://127.0.0.1:{port}/login", timeout=2) as resp:
                return resp.read().decode() if resp.status == 200 else None
        except (urllib.error.URLError, OSError):
            return None

    try:
        page = wait_for(login_page, 30, f"the installed nms serve on {port}")
        assert 'name="password"' in page
    finally:
        serve.send_signal(signal.SIGINT)
        try:
            serve.wait(timeout=15)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait()
    assert serve.returncode == 0, log.read_text()[-2000:]
