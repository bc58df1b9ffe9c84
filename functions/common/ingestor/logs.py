"""Structured JSON logs on stderr, one object per line, with known secrets redacted."""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any

from ingestor import jsoncodec, redaction

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return redaction.redact(jsoncodec.dumps(entry).decode())


def setup(service: str) -> None:
    """Route the root logger to stderr as JSON; LOG_LEVEL picks the level (default info)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
    for noisy in ("waitress", "aiohttp.access", "nats"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
