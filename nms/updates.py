"""Wake-ups after a change: ingest and state aging raise them, the alert evaluator and the
wall's event streams wait on them.

A module of its own below both, so that the ingest path wakes the alerts without importing them.
Two signals:

- *state updated* (:func:`notify_state_updated`): wakes the alert evaluator thread;
- *something changed* (a generation counter, :func:`wait_for_change`): wakes every local
  waiter, e.g. each open wall stream, which then asks its feed for the new document.

Both are in-process.  With several centres on one PostgreSQL database, :mod:`nms.notify`
registers a publisher (:func:`add_publisher`) that tells the other processes over
``LISTEN``/``NOTIFY``, and calls :func:`wake_from_peer` when one of them tells this one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

STATE, ALERTS = "state", "alerts"  # kinds of change

_wake = threading.Event()
_changed = threading.Condition()
_generation = 0
_publishers: list[Callable[[str], None]] = []


def notify_state_updated() -> None:
    """Called after the state machine applied a batch: wakes the evaluator thread (cheap, never blocks)."""
    _wake.set()
    changed(STATE)


def wait_for_update(timeout: float) -> bool:
    """Wait until the state changed or ``timeout`` passed; True when woken."""
    hit = _wake.wait(timeout)
    _wake.clear()
    return hit


def changed(kind: str = STATE) -> None:
    """A change of ``kind`` was committed here: wake local waiters and tell the other centres."""
    _bump()
    for publish in list(_publishers):
        publish(kind)  # publishers only queue; they never block the caller


def wake_from_peer(kind: str) -> None:
    """Another centre committed a change: wake this process's waiters (never re-published)."""
    if kind == STATE:
        _wake.set()
    _bump()


def _bump() -> None:
    global _generation
    with _changed:
        _generation += 1
        _changed.notify_all()


def generation() -> int:
    """Counts changes seen by this process (local or from peers); compare, never interpret."""
    return _generation


def wait_for_change(since: int, timeout: float) -> int:
    """Block until the generation moved past ``since`` or ``timeout`` passed; the generation then."""
    with _changed:
        _changed.wait_for(lambda: _generation != since, timeout)
        return _generation


def add_publisher(publish: Callable[[str], None]) -> Callable[[], None]:
    """Call ``publish(kind)`` on every local change; returns the function that removes it."""
    _publishers.append(publish)

    def remove() -> None:
        if publish in _publishers:
            _publishers.remove(publish)

    return remove
