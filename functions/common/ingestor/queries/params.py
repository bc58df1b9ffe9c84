"""Parameters several query routes share: filters, time ranges and chart buckets, with their limits.

A range is clamped to what every backend can represent (InfluxDB's nanosecond times end in 2262), and a
chart never has more than MAX_POINTS buckets: an explicit bucket that would give more is refused with a
400 naming the limit; without one, the finest standard bucket within the limit is chosen (or whole days).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from ingestor.cursors import MAX_CURSOR, Keyset
from ingestor.errors import Invalid
from ingestor.httpapi import Param
from ingestor.store.cursor import EVENTS
from ingestor.store.model import EventFilter

MAX_POINTS = 2000
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2262, 1, 1, tzinfo=dt.UTC)
BUCKETS: dict[str, int] = {"5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "6h": 21_600, "12h": 43_200,
                           "1d": 86_400}
DAY_S = 86_400


def start(default: str) -> Param:
    return Param("start", f"Range start (inclusive); default {default}", "time", default=default)


END = Param("end", "Range end (exclusive); default now", "time")
BUCKET = Param("bucket", f"Bucket width; default: the finest giving at most {MAX_POINTS} buckets",
               enum=tuple(BUCKETS))
ENTITY_ID = Param("entity_id", "Exact entity id, e.g. light.kitchen")
DOMAIN = Param("domain", "Exact domain, e.g. light")
EVENT_TYPE = Param("event_type", "Exact event type, e.g. state_changed")
DEVICE_ID = Param("device_id", "Exact device id")
AREA_ID = Param("area_id", "Exact area id")
Q = Param("q", "Case-insensitive substring of friendly_name or state (taken literally: % _ * are plain)")
STATE = Param("state", "Exact new state, e.g. unavailable")


def filters(default_start: str) -> tuple[Param, ...]:
    return (start(default_start), END, ENTITY_ID, DOMAIN, EVENT_TYPE, DEVICE_ID, AREA_ID, Q, STATE)


def limit(default: int, maximum: int) -> Param:
    return Param("limit", "Page size", "integer", default=default, minimum=1, maximum=maximum)


def cursor(keyset: Keyset) -> Param:
    return Param("cursor", "next_cursor of the previous page", max_length=MAX_CURSOR, check=keyset.decode)


CURSOR = cursor(EVENTS)


@dataclass(frozen=True)
class Range:
    start: dt.datetime
    end: dt.datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def time_range(p: dict[str, Any], now: dt.datetime) -> Range:
    """The requested [start, end), end defaulting to now, both clamped to EARLIEST..LATEST."""
    first = min(max(p.get("start") or EARLIEST, EARLIEST), LATEST)
    last = min(max(p.get("end") or now, EARLIEST), LATEST)
    if last <= first:
        raise Invalid(f"end: must be after start ({first.isoformat()})", code="bad_parameter")
    return Range(first, last)


def event_filter(p: dict[str, Any], r: Range) -> EventFilter:
    return EventFilter(start=r.start, end=r.end, entity_id=p.get("entity_id"), domain=p.get("domain"),
                       event_type=p.get("event_type"), area_id=p.get("area_id"), device_id=p.get("device_id"),
                       text=p.get("q") or None, state=p.get("state"))


def bucket_seconds(name: str | None, r: Range, preferred: str | None = None, most: int = MAX_POINTS) -> int:
    """The bucket width for a chart over `r`; 400 when an explicit one would exceed MAX_POINTS.

    Without one: `preferred` when it gives at most `most` buckets, else the finest standard width that does (else
    whole days): a chart whose default would draw more columns than a screen shows may ask for fewer.
    """
    if name is not None:
        seconds = BUCKETS[name]
        points = _points(r, seconds)
        if points > MAX_POINTS:
            raise Invalid(f"bucket: {name} over this range gives {points} buckets, at most {MAX_POINTS}; "
                             "use a coarser bucket or a shorter range", code="bad_parameter")
        return seconds
    if preferred is not None and _points(r, BUCKETS[preferred]) <= most:
        return BUCKETS[preferred]
    for seconds in BUCKETS.values():
        if _points(r, seconds) <= most:
            return seconds
    return DAY_S * math.ceil(r.seconds / DAY_S / (most - 1))


def _points(r: Range, seconds: int) -> int:
    """Epoch-aligned buckets touched by the range (what the stores group by)."""
    first = int(r.start.timestamp()) // seconds
    last = math.ceil(r.end.timestamp() / seconds)
    return max(1, last - first)


def bucket_starts(r: Range, seconds: int) -> list[dt.datetime]:
    first = int(r.start.timestamp()) // seconds * seconds
    return [EARLIEST + dt.timedelta(seconds=t) for t in range(first, math.ceil(r.end.timestamp()), seconds)]
