"""E-mail over SMTP (optionally STARTTLS and login; the password from ``password_env``)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from typing import Any

from nms.alerts.channels.base import ChannelError, secret
from nms.alerts.message import email_body, email_subject
from probes.common.netguard import check_target


class EmailChannel:
    def __init__(
        self,
        name: str,
        host: str,
        sender: str,
        port: int = 25,
        starttls: bool = False,
        user: str | None = None,
        password_env: str | None = None,
        timeout_s: float = 15.0,
    ) -> None:
        # checked by nms.alerts.channels (the file's models) before a channel is made
        self.name, self.host, self.port, self.sender = name, host, port, sender
        self.starttls, self.user, self.password_env, self.timeout_s = starttls, user, password_env, timeout_s

    def send(self, recipient: str, payload: dict[str, Any]) -> str:
        try:
            check_target(self.host)
        except ValueError as exc:
            raise ChannelError(str(exc)) from None
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = recipient
        msg["Subject"] = email_subject(payload)
        msg["X-NMS-Alert-Id"] = str(payload.get("alert_id", ""))
        msg.set_content(email_body(payload))
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.user:
                    smtp.login(
                        self.user, secret(self.password_env, f"e-mail channel {self.name}: SMTP password")
                    )
                refused = smtp.send_message(msg)
        except smtplib.SMTPException as exc:
            raise ChannelError(f"SMTP: {exc}") from None
        except OSError as exc:
            raise ChannelError(f"SMTP server unreachable: {exc}") from None
        if refused:
            raise ChannelError(f"SMTP refused {', '.join(refused)}")
        return f"SMTP accepted for {recipient}"
