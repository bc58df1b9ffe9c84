"""Test function: appends one line per invocation (time, method, body size) to PROBE_FILE."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any


def handle(event: Any, context: Any) -> dict[str, Any]:
    with open(os.environ["PROBE_FILE"], "a", encoding="utf-8") as f:
        f.write(f"{dt.datetime.now(dt.UTC).isoformat()} {event.method} {len(event.body)} "
                f"{event.headers.get('X-Trigger', '')}\n")
    return {"statusCode": 200, "body": "fired"}
