"""Test function: fails in every way the template must contain."""

from __future__ import annotations

import time
from typing import Any

from ingestor import config
from ingestor.errors import Invalid

STARTS: list[float] = []


def start() -> None:
    STARTS.append(time.monotonic())


def handle(event: Any, context: Any) -> Any:
    kind = event.path.strip("/") or event.query.get("kind", "")  # the root path says what to do in its query
    if kind == "starts":
        return {"statusCode": 200, "body": {"starts": len(STARTS)}}
    if kind == "raise":
        raise RuntimeError(f"exploded holding {config.secret('api-key')}")
    if kind == "bad":
        raise Invalid(f"bad input near {config.secret('api-key')}", code="bad_thing")
    if kind == "dict":
        return {"statusCode": 201, "body": {"created": True}}
    if kind == "none":
        return None
    return {"statusCode": 200, "body": "plain text", "headers": {"Content-Type": "text/plain"}}


def health() -> dict[str, Any]:
    return {"status": "degraded", "reason": "test"}
