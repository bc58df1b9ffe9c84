"""Test function: takes SLOW_START_S seconds to load before the template binds its port, as a function with
heavy imports or a slow dependency does; tests act on its port in that window. `?sleep=<s>` makes a call
take that long."""

from __future__ import annotations

import time
from typing import Any

from ingestor import config

time.sleep(config.env_float("SLOW_START_S", 2.0))


def handle(event: Any, context: Any) -> dict[str, Any]:
    time.sleep(float(event.query.get("sleep", 0)))
    return {"statusCode": 200, "body": {"function": context.function_name}}
