"""The pid file of a running ``nms serve``: written by the server, read by ``nms restore``.

Apart from :mod:`nms.serve` so that the backup code does not import the composition.
"""

from __future__ import annotations

import os

from nms.config import Settings

PIDFILE = "serve.pid"


def running_pid(settings: Settings) -> int | None:
    """Pid of a live ``nms serve`` on this data directory, else None."""
    path = settings.data_dir / PIDFILE
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid
