"""Settings of the centre, from the environment, in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Settings:
    data_dir: Path = field(default_factory=lambda: Path(os.environ.get("NMS_DATA_DIR", ROOT / "var")))
    inventory_path: Path = field(
        default_factory=lambda: Path(os.environ.get("NMS_INVENTORY", ROOT / "inventory.yaml"))
    )
    secrets_path: Path | None = field(
        default_factory=lambda: Path(p) if (p := os.environ.get("NMS_SECRETS_FILE")) else None
    )
    listen_host: str = field(default_factory=lambda: os.environ.get("NMS_LISTEN_HOST", "127.0.0.1"))
    listen_port: int = field(default_factory=lambda: int(os.environ.get("NMS_LISTEN_PORT", "8080")))
    # Cookies are Secure unless explicitly served over plain HTTP on loopback (demo, tests).
    insecure_cookies: bool = field(default_factory=lambda: os.environ.get("NMS_INSECURE_COOKIES") == "1")
    testing: bool = False

    def path(self, name: str) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir / name
