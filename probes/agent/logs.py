"""Structured logging: one JSON object per line on stderr, never a secret.

Journald and log shippers parse JSON lines without a grammar; callers pass fields
as keywords so nobody formats a token or community into a message by accident.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

LOGGER_NAME = "nms.agent"
_REDACT = ("token", "community", "auth_key", "priv_key", "password", "secret", "authorization")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None) or {}
        for key, value in fields.items():
            out[key] = "***" if any(word in key.lower() for word in _REDACT) else value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def setup(level: str = "info") -> logging.Logger:
    logger = logging.getLogger(LOGGER_NAME)
    logger.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False
    return logger


def log(level: str, event: str, **fields: Any) -> None:
    """Log ``event`` with ``fields``; keys naming secrets are masked whatever their value."""
    logging.getLogger(LOGGER_NAME).log(logging.getLevelName(level.upper()), event, extra={"fields": fields})
