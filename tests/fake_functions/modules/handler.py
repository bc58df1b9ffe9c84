"""Test function: uses NATS as the pipeline stages do, and says which libraries its process has loaded
(GET /), or imports one (GET /import/<module>) and says so."""

from __future__ import annotations

import importlib
import sys
from typing import Any

from ingestor import bus  # noqa: F401  # what every stage imports: nats-py


def handle(event: Any, context: Any) -> dict[str, Any]:
    name = event.path.removeprefix("/import/")
    if name != event.path:
        importlib.import_module(name)
    return {"statusCode": 200, "body": {"loaded": sorted(m for m in ("aiohttp", "nats") if sys.modules.get(m))}}
