"""One snmpsim of the test bed's real walks and one poll of LibreNMS's devices, shared.

Starting snmpsim on the test bed and polling LibreNMS's 54 devices takes tens of seconds;
the interface, health and address comparisons with LibreNMS's parse all read the same poll
(a poll reads interfaces, health and addresses at once), so it runs once per session.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.probes.helpers import (
    LIBRENMS,
    SNMPSIM_DATA,
    librenms_expected,
    plain_copy,
    poll_all,
    start_snmpsim,
    stop,
)


@pytest.fixture(scope="session")
def snmpsim() -> Iterator[int]:
    """One snmpsim for the test bed: LibreNMS walks + the test bed's snmpsim-data walks."""
    if not LIBRENMS.is_dir():
        pytest.skip(f"test bed folder {LIBRENMS} is missing")
    dirs = [LIBRENMS] + ([plain_copy(SNMPSIM_DATA, "testbed-snmpsim-data")] if SNMPSIM_DATA.is_dir() else [])
    proc, port, _log = start_snmpsim(dirs, "vrp_5720")
    yield port
    stop(proc)


@pytest.fixture(scope="session")
def librenms_polled(snmpsim: int) -> dict[str, dict]:
    """Our poll of every walk LibreNMS parsed, by community (one poll each)."""
    return poll_all(snmpsim, sorted(librenms_expected()), in_flight=4, timeout=10)
