"""The CI rule on skips, run through a real pytest in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SAMPLE = """
import pytest

def test_passes():
    assert True

def test_needs_a_missing_peer():
    pytest.skip("snmpd not installed")
"""


def _run(tmp_path: Path, ci: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {**os.environ, "CI": ci}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.support.ci_skips",
            "-c",
            str(tmp_path / "pytest.ini"),
            str(tmp_path / "test_sample.py"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_skip_fails_the_run_under_ci(tmp_path: Path) -> None:
    r = _run(tmp_path, "true")
    assert r.returncode == 1, r.stdout
    assert "skipped under CI=true" in r.stdout and "snmpd not installed" in r.stdout
    assert "skipped: 0" in r.stdout


def test_a_skip_is_counted_but_allowed_elsewhere(tmp_path: Path) -> None:
    r = _run(tmp_path, "")
    assert r.returncode == 0, r.stdout
    assert "1 passed, 1 skipped" in r.stdout and "skipped: 1" in r.stdout
