"""SMS through an HTTP SMS gateway: URL, parameters and message template from config.

``params`` values are templates: ``{to}`` (the mobile number), ``{message}`` (the text,
cut to 70 characters), ``{key}`` (the gateway key from ``key_env``).  Success is a 2xx
answer whose body matches ``ok_match`` (a regular expression; default: anything).
"""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from nms.alerts.channels.base import ChannelError, check_url, secret
from nms.alerts.message import sms_text


class SmsChannel:
    def __init__(
        self,
        name: str,
        url: str,
        params: dict[str, str] | None = None,
        method: str = "POST",
        template: str | None = None,
        key_env: str | None = None,
        ok_match: str | None = None,
        timeout_s: float = 10.0,
        encoding: str = "utf-8",
    ) -> None:
        # checked by nms.alerts.channels (the file's models) before a channel is made
        self.name, self.url, self.method = name, url, method
        self.params = dict(params or {"to": "{to}", "message": "{message}"})
        self.template, self.key_env, self.timeout_s, self.encoding = template, key_env, timeout_s, encoding
        self.ok_match = re.compile(ok_match) if ok_match else None

    def text(self, payload: dict[str, Any]) -> str:
        return sms_text(payload, self.template)

    def send(self, recipient: str, payload: dict[str, Any]) -> str:
        check_url(self.url)
        values = {"to": recipient, "message": self.text(payload), "alert_id": payload.get("alert_id", "")}
        if self.key_env or any("{key}" in str(v) for v in self.params.values()):
            values["key"] = secret(self.key_env, f"SMS channel {self.name}: gateway key")
        form = {k: str(v).format_map(values) for k, v in self.params.items()}
        data = urllib.parse.urlencode(form, encoding=self.encoding)
        if self.method == "GET":
            sep = "&" if "?" in self.url else "?"
            req = urllib.request.Request(self.url + sep + data, method="GET")
        else:
            req = urllib.request.Request(
                self.url,
                data=data.encode("ascii"),
                method="POST",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:  # noqa: S310 - URL checked above
                body = resp.read(4096).decode("utf-8", "replace")
                status = resp.status
        except urllib.error.HTTPError as exc:
            raise ChannelError(f"SMS gateway answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise ChannelError(f"SMS gateway unreachable: {getattr(exc, 'reason', exc)}") from None
        if self.ok_match is not None and not self.ok_match.search(body):
            raise ChannelError(f"SMS gateway refused: {body[:120]!r}")
        return f"HTTP {status}"
