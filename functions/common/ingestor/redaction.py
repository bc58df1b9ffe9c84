"""Known secret values, replaced wherever text leaves the process (logs, error bodies)."""

from __future__ import annotations

import threading

_lock = threading.Lock()
_secrets: set[str] = set()
REPLACEMENT = "[REDACTED]"


def register(value: str) -> None:
    if len(value) >= 4:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    for value in _secrets:
        if value in text:
            text = text.replace(value, REPLACEMENT)
    return text
