"""Settings of the centre, from the environment, in one place."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def env_number(var: str, default: float, env: Mapping[str, str] | None = None, minimum: float = 0.0) -> float:
    """A number (seconds, a factor) from the environment; a bad value names the variable."""
    raw = (os.environ if env is None else env).get(var)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{var}: not a number ({raw!r})") from None
    if not value >= minimum:
        raise ValueError(f"{var}: must be at least {minimum:g} (got {raw!r})")
    return value


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
    # Ingest refuses a batch with a sample dated more than this ahead of the centre's clock:
    # one sample from an agent whose clock jumped would otherwise freeze a device's state.
    ingest_max_future_skew_s: float = field(
        default_factory=lambda: env_number("NMS_INGEST_MAX_FUTURE_SKEW_S", 120.0)
    )
    # Four-eyes rule: an address request is approved by someone other than its requester,
    # unless a one-person centre sets NMS_IPAM_ALLOW_SELF_APPROVAL=1 (audited as such).
    ipam_allow_self_approval: bool = field(
        default_factory=lambda: os.environ.get("NMS_IPAM_ALLOW_SELF_APPROVAL") == "1"
    )
    # The time series on a Prometheus-compatible engine (remote write + PromQL), e.g.
    # http://127.0.0.1:8428 for VictoriaMetrics; empty = SQLite metrics.db (docs/storage.md).
    tsdb_url: str = field(default_factory=lambda: os.environ.get("NMS_TSDB_URL", "").strip())
    testing: bool = False

    def path(self, name: str) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir / name
