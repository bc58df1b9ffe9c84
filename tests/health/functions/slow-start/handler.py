"""Test function: its start takes SLOW_START_S seconds (as a heavy function's imports do on a busy machine)."""

from __future__ import annotations

import os
import time
from typing import Any

from ingestor.responses import json_response

time.sleep(float(os.environ.get("SLOW_START_S", "0")))


def handle(event: Any, context: Any) -> dict[str, Any]:
    return json_response({"ok": True})
