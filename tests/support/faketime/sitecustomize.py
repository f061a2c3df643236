"""Loaded only by ``scripts/faketime-tests.sh``: lets Python 3.11 sleep under libfaketime.

Debian 12's libfaketime (0.9.10) hangs Python's timed lock waits when it fakes the
monotonic clock, so the script leaves that clock real (``FAKETIME_DONT_FAKE_MONOTONIC=1``);
then its ``clock_nanosleep`` wrapper fails ``time.sleep`` with EINVAL.  Sleeping in
``select`` instead keeps the wall clock faked and every wait working.
"""

import select
import time


def _sleep(seconds: float) -> None:
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        select.select([], [], [], left)


time.sleep = _sleep
