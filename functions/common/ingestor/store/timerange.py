"""Times as users write them in queries: ISO 8601, or relative to now ("-1h", "-30m", "now")."""

from __future__ import annotations

import datetime as dt
import re

from ingestor.timeutil import parse_timestamp

_RELATIVE = re.compile(r"^-(\d+(?:\.\d+)?)(s|m|h|d|w)$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def parse_time(value: str, now: dt.datetime | None = None) -> dt.datetime:
    """An aware UTC datetime; raises ValueError naming the accepted forms."""
    now = now or dt.datetime.now(dt.UTC)
    text = value.strip()
    if text == "now":
        return now
    match = _RELATIVE.match(text)
    if match:
        return now - dt.timedelta(seconds=float(match[1]) * _SECONDS[match[2]])
    try:
        return parse_timestamp(text)
    except ValueError:
        raise ValueError(f"{value!r} is neither ISO 8601 with a time zone nor relative like -1h, -30m, -7d") from None


def to_micros(when: dt.datetime) -> int:
    """Microseconds since the epoch: exact, and comparable in every backend."""
    delta = when.astimezone(dt.UTC) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=micros)
