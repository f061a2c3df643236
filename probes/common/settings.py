"""Settings both an agent node and the centre read from the environment.

The agent needs only these (where the inventory, the secrets file and its data live);
:class:`nms.config.Settings` extends them with the centre's own.  ``ROOT`` is the
directory holding ``probes/``: the project checkout, or an agent's install.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


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
class BaseSettings:
    """Data directory, inventory and secrets file: what every process of the platform reads."""

    data_dir: Path = field(default_factory=lambda: Path(os.environ.get("NMS_DATA_DIR", ROOT / "var")))
    inventory_path: Path = field(
        default_factory=lambda: Path(os.environ.get("NMS_INVENTORY", ROOT / "inventory.yaml"))
    )
    secrets_path: Path | None = field(
        default_factory=lambda: Path(p) if (p := os.environ.get("NMS_SECRETS_FILE")) else None
    )
