"""Hourly and daily aggregates per entity from event records: count, and mean/min/max of state_value."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import Any

from ingestor.store.model import Aggregate
from ingestor.store.timerange import from_micros, to_micros
from ingestor.timeutil import format_timestamp, parse_timestamp

DAY_US = 86_400_000_000


def _hour(fired: str) -> str:
    """The hour a time falls in, as a key: stored times are fixed-width UTC ("2025-01-31T13:…Z")."""
    if len(fired) == 27 and fired.endswith("Z"):
        return fired[:13]
    return format_timestamp(parse_timestamp(fired))[:13]


class Summary:
    """Hourly and daily aggregates taken batch by batch: memory grows with entities x hours, not events."""

    def __init__(self) -> None:
        self._hours: dict[tuple[str, str], list[float]] = {}

    def add(self, records: Iterable[dict[str, Any]]) -> None:
        hours = self._hours
        for record in records:
            value = record.get("state_value")
            a = hours.get(key := (record.get("entity_id") or "", _hour(record["time_fired"])))
            if a is None:
                a = hours[key] = [0, 0, 0.0, math.inf, -math.inf]
            a[0] += 1
            if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
                a[1] += 1
                a[2] += value
                if value < a[3]:
                    a[3] = float(value)
                if value > a[4]:
                    a[4] = float(value)

    def rows(self) -> list[Aggregate]:
        """Every (entity, hour) and (entity, day) the records touched; events without an entity under ""."""
        days: dict[tuple[str, int], list[float]] = {}
        out: list[Aggregate] = []
        for (entity, hour), a in self._hours.items():
            start = to_micros(parse_timestamp(hour + ":00:00Z"))
            out.append(_aggregate(entity, "hour", start, a))
            d = days.setdefault((entity, start // DAY_US * DAY_US), [0, 0, 0.0, math.inf, -math.inf])
            d[0] += a[0]
            d[1] += a[1]
            d[2] += a[2]
            d[3], d[4] = min(d[3], a[3]), max(d[4], a[4])
        out += [_aggregate(entity, "day", start, d) for (entity, start), d in days.items()]
        return sorted(out, key=lambda x: (x.start, x.period, x.entity_id))


def summarize(records: Iterable[dict[str, Any]]) -> list[Aggregate]:
    summary = Summary()
    summary.add(records)
    return summary.rows()


def _aggregate(entity: str, period: str, micros: int, a: list[float]) -> Aggregate:
    n = int(a[1])
    return Aggregate(entity, period, from_micros(micros), int(a[0]), n, a[2] / n if n else None,
                     a[3] if n else None, a[4] if n else None)


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1)
