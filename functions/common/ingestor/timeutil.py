"""Timestamps as HA sends them in, and as the event store keeps them.

Every stored time is UTC with microseconds and a Z suffix, fixed width, so string comparison
(what SQLite, InfluxDB tags and cursors do) is time order.
"""

from __future__ import annotations

import functools
import re
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


# What HA sends (datetime.isoformat of a UTC time with microseconds): its first 26 characters are the stored form.
_UTC_MICROS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}\+00:00", re.ASCII)


@functools.lru_cache(maxsize=4096)
def _canonical(value: str) -> str:
    parsed = _parse(value)  # a valid instant first: the shape alone would pass 2026-02-30
    if _UTC_MICROS.fullmatch(value):
        return value[:26] + "Z"
    return format_timestamp(parsed)


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
    return dt.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"  # in C: "…+00:00" always, years 4 wide
