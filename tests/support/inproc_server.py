"""The centre's Flask app under waitress in a thread of the test process, stopped safely.

waitress's single-socket ``close()`` closes its trigger pipe but leaves the worker threads
running.  A worker still streaming (the wall's SSE) then writes to the closed pipe's fd
number, which the next test's SQLite file may already hold: that test fails with "file is
not a database".  So the workers are stopped first, and any that outlive the wait write
nowhere.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from waitress import wasyncore
from waitress.server import BaseWSGIServer, create_server


def start(app: Flask, threads: int = 4) -> tuple[BaseWSGIServer, threading.Thread]:
    """The app on a free loopback port (``server.effective_port``), served by a thread."""
    server = create_server(app, host="127.0.0.1", port=0, threads=threads)
    thread = threading.Thread(target=server.run, name="waitress", daemon=True)
    thread.start()
    return server, thread


def stop(server: BaseWSGIServer, thread: threading.Thread) -> None:
    """Workers first, then the sockets and the trigger pipe (module docstring)."""
    server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)
    server.trigger._physical_pull = lambda: None  # a straggler must not write to a reused fd
    wasyncore.close_all(server._map)  # listener, trigger and every open channel: the loop ends
    thread.join(5)


@contextmanager
def serve_in_thread(app: Flask, threads: int = 4) -> Iterator[str]:
    """The app for the duration of the block; yields its base URL."""
    server, thread = start(app, threads)
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        stop(server, thread)
