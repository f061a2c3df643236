"""What every notification channel shares: its error, its interface, its secrets and the
network guard on its peer.  Apart from the package so that the channel modules and the
package (which builds channels from ``channels.yaml``) do not import each other."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from probes.common.netguard import check_target
from probes.common.secrets import read_secrets_file


class ChannelError(Exception):
    """One delivery attempt failed; the message is logged with the attempt."""


class Channel(Protocol):
    name: str

    def send(self, recipient: str, payload: dict[str, Any]) -> str:
        """Deliver one notification; return a short detail for the log or raise ChannelError."""


def secret(env_name: str | None, what: str) -> str:
    """A channel secret from the environment, then the secrets file; never from YAML."""
    if not env_name:
        raise ChannelError(f"{what}: no *_env variable named in channels.yaml")
    value = os.environ.get(env_name)
    if not value and os.environ.get("NMS_SECRETS_FILE"):
        value = read_secrets_file(Path(os.environ["NMS_SECRETS_FILE"])).get(env_name)
    if not value:
        raise ChannelError(f"{what}: define environment variable {env_name} (or put it in the secrets file)")
    return value


def check_url(url: str) -> None:
    """Notification peers go through the same loopback guard as device targets."""
    host = urlsplit(url).hostname
    if not host:
        raise ChannelError(f"{url}: no host in URL")
    try:
        check_target(host)
    except ValueError as exc:
        raise ChannelError(str(exc)) from None
