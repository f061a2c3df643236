"""Settings of the centre, from the environment, in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from probes.common.settings import ROOT, BaseSettings, env_number

__all__ = ["ROOT", "Settings", "env_number"]


@dataclass
class Settings(BaseSettings):
    """The agent's settings (data, inventory, secrets) plus the centre's own."""

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
    # Reconciliation: an allocated prefix with nothing seen in it for this many days is reclaimable.
    ipam_reclaim_days: float = field(default_factory=lambda: env_number("NMS_IPAM_RECLAIM_DAYS", 30.0))
    # The reverse proxy in front (deploy/nginx/nms.conf): its X-Forwarded-For/-Proto/-Host/-Port
    # are believed from this address only, and dropped from anyone else.  Unset: no proxy.
    trusted_proxy: str | None = field(default_factory=lambda: os.environ.get("NMS_TRUSTED_PROXY") or None)
    # Behind that proxy, an agent token counts only with the agent's client certificate:
    # the proxy's X-Client-Cert-CN (verified CN, deploy/nginx/nms.conf) must be the agent's name.
    require_agent_cert: bool = field(default_factory=lambda: os.environ.get("NMS_REQUIRE_AGENT_CERT") == "1")
    # The time series on a Prometheus-compatible engine (remote write + PromQL), e.g.
    # http://127.0.0.1:8428 for VictoriaMetrics; empty = SQLite metrics.db (docs/storage.md).
    tsdb_url: str = field(default_factory=lambda: os.environ.get("NMS_TSDB_URL", "").strip())
    # With it, a second engine with a longer retention for the hourly rollups (400 days).
    tsdb_long_url: str = field(default_factory=lambda: os.environ.get("NMS_TSDB_LONG_URL", "").strip())
    # The centre's database on PostgreSQL (postgresql://user@host:port/db); empty = SQLite files
    # centre.db and metrics.db under data_dir (docs/storage.md).
    database_url: str = field(default_factory=lambda: os.environ.get("NMS_DATABASE_URL", "").strip())
    testing: bool = False

    def path(self, name: str) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir / name
