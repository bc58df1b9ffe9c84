"""Timestamps as HA sends them in, and as the event store keeps them.

Every stored time is UTC with microseconds and a Z suffix, fixed width, so string comparison
(what SQLite, InfluxDB tags and cursors do) is time order.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime


def _show(value: str, limit: int = 40) -> str:
    return repr(value) if len(value) <= limit else repr(value[:limit]) + f"… ({len(value)} characters)"


def parse_timestamp(value: object) -> datetime:
    """An aware UTC datetime from an ISO 8601 string with a timezone offset ("+00:00" or "Z").

    Naive timestamps are refused: guessing their zone would silently shift events by hours.
    Raises ValueError with the offending value (shortened) otherwise. The same text is parsed once: an event's
    time_fired, last_changed and last_updated are often one instant, read again by every check and stage.
    """
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO 8601 timestamp string, got {type(value).__name__}")
    return _parse(value)


def canonical(value: object) -> str:
    """An ISO 8601 timestamp (as parse_timestamp takes it) as the store keeps it: UTC, microseconds, Z."""
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO 8601 timestamp string, got {type(value).__name__}")
    return _canonical(value)


@functools.lru_cache(maxsize=4096)
def _canonical(value: str) -> str:
    return format_timestamp(_parse(value))


@functools.lru_cache(maxsize=4096)
def _parse(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{_show(value)} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError(f"{_show(value)} has no timezone offset")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{_show(value)} is out of range in UTC") from None


parse_text = _parse
"""parse_timestamp of a value the caller knows is a str: the cached parse itself, one call fewer on the hot path."""


def format_timestamp(dt: datetime) -> str:
    """UTC as YYYY-MM-DDTHH:MM:SS.ffffffZ, fixed width (strftime would not pad years below 1000)."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("cannot format a naive datetime: its timezone is unknown")
    u = dt.astimezone(UTC)
    return (f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}"
            f".{u.microsecond:06d}Z")
