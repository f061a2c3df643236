"""Fixtures shared by every test area."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TESTBED = ROOT.parent / "shared" / "testbed"


def free_port(host: str = "127.0.0.1", kind: int = socket.SOCK_STREAM) -> int:
    """A port that was free a moment ago on ``host`` (TCP by default)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@pytest.fixture
def testbed() -> Path:
    """The shared test bed of real device walks; tests that need it skip without it."""
    if not TESTBED.is_dir():
        pytest.skip(f"test bed not found at {TESTBED} (../shared/testbed beside the repository)")
    return TESTBED
