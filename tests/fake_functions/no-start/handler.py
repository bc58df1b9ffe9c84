"""Test function: fails while it loads, as a function with a broken dependency or configuration does."""

from __future__ import annotations

from typing import Any

raise RuntimeError("no-start cannot start: its configuration is broken")


def handle(event: Any, context: Any) -> None:  # never reached
    return None
