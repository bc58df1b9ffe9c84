"""Test function: healthy until the file SICK_FILE exists, then its /_/health fails with the file's text."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ingestor.responses import json_response


def handle(event: Any, context: Any) -> dict[str, Any]:
    return json_response({"ok": True})


def health() -> dict[str, Any]:
    sick = Path(os.environ["SICK_FILE"])
    if sick.is_file():
        return {"status": "unavailable", "reason": sick.read_text(encoding="utf-8").strip() or "sick"}
    return {"status": "ok"}
