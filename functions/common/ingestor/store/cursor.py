"""Opaque pagination cursors: the (time, event_id) key of the last item of a page."""

from __future__ import annotations

import base64
import binascii

from ingestor import jsoncodec


def encode(micros: int, event_id: str) -> str:
    return base64.urlsafe_b64encode(jsoncodec.dumps([micros, event_id])).decode().rstrip("=")


def decode(cursor: str) -> tuple[int, str]:
    """Raises ValueError for anything that is not a cursor this module made."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        micros, event_id = jsoncodec.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise ValueError("invalid cursor") from None
    if not isinstance(micros, int) or not isinstance(event_id, str):
        raise ValueError("invalid cursor")
    return micros, event_id
