"""Test function: answers with what it received, so tests can see the gateway pass requests through."""

from __future__ import annotations

import base64
from typing import Any

from ingestor.responses import json_response


def handle(event: Any, context: Any) -> dict[str, Any]:
    return json_response({
        "method": event.method,
        "path": event.path,
        "raw_path": event.raw_path,
        "query": dict(event.query),
        "headers": {k.lower(): v for k, v in event.headers.items()},
        "body": base64.b64encode(event.body).decode(),
        "function": context.function_name,
    }, headers={"X-Echo": "yes"})
