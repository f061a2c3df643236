"""Several ``nms serve`` processes on one database (issue 19): SQLite data directory or PostgreSQL."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from tests.support.processes import Centre


class SharedCentre(Centre):
    """One of several centres sharing ``data_dir`` and, when ``database_url`` is set, PostgreSQL."""

    def __init__(
        self, data_dir: Path, inventory: Path, database_url: str = "", *, env: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(data_dir, inventory, **kwargs)
        self.database_url = database_url
        self.env.pop("NMS_DATABASE_URL", None)
        if database_url:
            self.env["NMS_DATABASE_URL"] = database_url
        self.env.update(env or {})
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log = data_dir / f"centre-{self.port}.log"

    def settings(self):
        from nms.config import Settings

        return Settings(data_dir=self.data_dir, inventory_path=self.inventory, database_url=self.database_url)

    def kill(self) -> None:
        """``kill -9``: no clean-up at all, as when the machine or the process dies."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None
