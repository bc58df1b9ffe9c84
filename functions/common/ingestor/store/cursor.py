"""The event stores' page cursor: the (time in microseconds, event_id) key of the last item of a page.

Its time must be one every backend can hold: InfluxDB counts nanoseconds in 64 bits (1677-09-21 to 2262-04-11).
"""

from __future__ import annotations

import re

from ingestor.cursors import INT64_MAX, INT64_MIN, CursorError, Keyset

EVENTS = Keyset((int, str), low=INT64_MIN // 1000 + 1, high=INT64_MAX // 1000)


def encode(micros: int, event_id: str) -> str:
    return EVENTS.encode(micros, event_id)


def decode(cursor: str) -> tuple[int, str]:
    """Raises CursorError (a ValueError) for anything that is not a cursor this module made."""
    micros, event_id = EVENTS.decode(cursor)
    if not _EVENT_ID.fullmatch(event_id):
        raise CursorError
    return micros, event_id


_EVENT_ID = re.compile(r"[0-9a-f]{32}")
