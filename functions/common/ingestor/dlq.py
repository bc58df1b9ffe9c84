"""Dead-letter records on `ha.events.dlq`: what failed, where, and why, with the payload kept."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from ingestor import jsoncodec

SUBJECT = "ha.events.dlq"


def payload_of(body: bytes) -> dict[str, Any]:
    """Keep a message body losslessly: as JSON when it parses, else as text, else base64."""
    try:
        return {"payload": jsoncodec.loads(body)}
    except jsoncodec.JSONDecodeError:
        pass
    try:
        return {"payload": body.decode("utf-8"), "payload_encoding": "text"}
    except UnicodeDecodeError:
        return {"payload": base64.b64encode(body).decode(), "payload_encoding": "base64"}


def record(dlq_id: str, stage: str, subject: str, entries: list[dict[str, Any]], **extra: Any) -> bytes:
    """One DLQ message: `entries` are {"reason", "payload", ...}; `extra` adds status, deliveries…"""
    doc = {
        "v": 1,
        "dlq_id": dlq_id,
        "stage": stage,
        "subject": subject,
        "failed_at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
        **extra,
        "entries": entries,
    }
    return jsoncodec.dumps(doc)
