"""Waiting for something that happens elsewhere (another process, a server): poll, never sleep a guess."""

from __future__ import annotations

import time
from typing import Any


def wait_for(predicate: Any, timeout: float, interval: float = 0.1) -> Any:
    """Poll until predicate() is truthy; return its value, or the last (falsy) value seen at the deadline."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


def wait_until(predicate: Any, timeout: float, what: str = "", interval: float = 0.2) -> Any:
    """wait_for that fails the test, saying `what` did not happen and how long it was given."""
    started = time.monotonic()
    value = wait_for(predicate, timeout, interval)
    assert value, f"not within {timeout:.0f}s ({time.monotonic() - started:.1f}s): {what}"
    return value
