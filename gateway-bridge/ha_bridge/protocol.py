"""HA's WebSocket protocol as data: message ids, frames (single messages or coalesced arrays), commands.

Nothing here touches a socket, so the rules that keep HA from dropping the connection (ids strictly
increasing per connection, both frame shapes accepted) are plain functions.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from typing import Any

from ingestor import jsoncodec


class ProtocolError(Exception):
    """The server sent something the protocol does not allow at this point."""


class AuthInvalid(Exception):
    """HA rejected the token (auth_invalid): retrying with the same token cannot succeed."""


class MessageIds:
    """Strictly increasing ids for one connection; HA refuses an id that is not above the last one."""

    def __init__(self) -> None:
        self._next = itertools.count(1)
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            return next(self._next)


@dataclass(frozen=True)
class Malformed:
    """One part of a frame that could not be used, and why (logged and counted, never fatal)."""

    reason: str
    sample: str


def sample(value: Any, limit: int = 200) -> str:
    """A bounded excerpt for logs: a hostile frame must not become a hostile log line."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} characters)"


def decode_frame(frame: str | bytes) -> tuple[list[dict[str, Any]], list[Malformed]]:
    """Messages of one text frame: a JSON object, or the JSON array that `coalesce_messages` produces.

    Returns the usable messages and a Malformed entry for each unusable part; never raises.
    """
    try:
        doc = jsoncodec.loads(frame)
    except jsoncodec.JSONDecodeError as exc:
        return [], [Malformed(f"not JSON: {exc}", sample(frame))]
    items = doc if isinstance(doc, list) else [doc]
    messages: list[dict[str, Any]] = []
    malformed: list[Malformed] = []
    for item in items:
        if not isinstance(item, dict):
            malformed.append(Malformed("message is not a JSON object", sample(item)))
        elif not isinstance(item.get("type"), str):
            malformed.append(Malformed("message has no string 'type'", sample(item)))
        else:
            messages.append(item)
    return messages, malformed


def event_of(message: dict[str, Any]) -> dict[str, Any] | None:
    """The `event` object of an event message when it has HA's shape enough to be forwarded."""
    event = message.get("event")
    if isinstance(event, dict) and isinstance(event.get("event_type"), str) and isinstance(event.get("data"), dict):
        return event
    return None


def auth(token: str) -> dict[str, Any]:
    return {"type": "auth", "access_token": token}


def command(msg_id: int, kind: str, **fields: Any) -> dict[str, Any]:
    return {"id": msg_id, "type": kind, **fields}


def encode(message: dict[str, Any]) -> str:
    return jsoncodec.dumps(message).decode()
