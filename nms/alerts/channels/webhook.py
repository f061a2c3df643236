"""Signed JSON webhooks: ``X-NMS-Signature: sha256=<hex HMAC-SHA256(key, timestamp + "." + body)>``.

The receiver recomputes the HMAC with the shared key (from ``secret_env``) over the
``X-NMS-Timestamp`` header, a dot and the raw body, and rejects old timestamps (replay).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from typing import Any

from nms.alerts.channels.base import ChannelError, check_url, secret


def sign(key: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(key.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def verify(
    key: str, timestamp: str, body: bytes, signature: str, max_age_s: float = 300, now: float | None = None
) -> bool:
    """For receivers (and tests): constant-time check of signature and timestamp age."""
    now = time.time() if now is None else now
    try:
        if abs(now - float(timestamp)) > max_age_s:
            return False
    except ValueError:
        return False
    return hmac.compare_digest(sign(key, timestamp, body), signature)


class WebhookChannel:
    def __init__(self, name: str, url: str, secret_env: str | None = None, timeout_s: float = 10.0) -> None:
        # checked by nms.alerts.channels (the file's models) before a channel is made
        self.name, self.url, self.secret_env, self.timeout_s = name, url, secret_env, timeout_s

    def send(self, recipient: str, payload: dict[str, Any]) -> str:
        url = recipient if recipient.startswith(("http://", "https://")) else self.url
        check_url(url)
        key = secret(self.secret_env, f"webhook channel {self.name}: HMAC key")
        body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
        ts = str(int(time.time()))
        req = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "X-NMS-Timestamp": ts,
                "X-NMS-Signature": sign(key, ts, body),
                "X-NMS-Event": str(payload.get("event", "")),
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:  # noqa: S310 - URL checked above
                return f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            raise ChannelError(f"webhook answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise ChannelError(f"webhook unreachable: {getattr(exc, 'reason', exc)}") from None
