"""The state-updated signal: ingest and state aging raise it, the alert evaluator waits on it.

A module of its own below both, so that the ingest path wakes the alerts without importing them.
"""

from __future__ import annotations

import threading

_wake = threading.Event()


def notify_state_updated() -> None:
    """Called after the state machine applied a batch: wakes the evaluator thread (cheap, never blocks)."""
    _wake.set()


def wait_for_update(timeout: float) -> bool:
    """Wait until the state changed or ``timeout`` passed; True when woken."""
    hit = _wake.wait(timeout)
    _wake.clear()
    return hit
