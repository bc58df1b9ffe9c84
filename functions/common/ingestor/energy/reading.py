"""What energy analytics reads from the event store: a meter's energy per hour (or per day for a total), an
entity's latest reading, and the hourly means of the context series (price, carbon intensity, temperature).

Every range is read from the rollups (store.series: pruned days from their summaries), so its cost grows with
the buckets (a year: 365 days or 8,760 hours per series), not the events; raw events are read only for an hour
with readings on both sides of a meter reset (energy/meters.py) and for the one reading before the range.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from ingestor.energy import meters
from ingestor.store.model import Bucket, EventFilter
from ingestor.store.protocol import EventStore
from ingestor.store.timerange import to_micros
from ingestor.timeutil import parse_timestamp

HOUR_S = 3600
DAY_S = 86_400
BASELINE_LOOKBACK = dt.timedelta(days=31)  # how far back the reading before a range is looked for
RAW_PAGE = 1000

# the context series (ingestor.context.samples names them context.<source>_<metric>)
PRICE = "context.electricity_price_price"
CARBON = "context.carbon_intensity_intensity"
TEMPERATURE = "context.weather_temperature"


@dataclass(frozen=True)
class Reading:
    value: float | None
    state: str | None
    unit: str | None
    time: dt.datetime


def latest(store: EventStore, entity_id: str, start: dt.datetime | None, end: dt.datetime) -> Reading | None:
    """The newest event of `entity_id` in [start, end) with a number, else the newest event at all."""
    page = store.query(EventFilter(entity_id=entity_id, start=start, end=end), limit=10)
    if not page.items:
        return None
    item = next((i for i in page.items if i.get("state_value") is not None), page.items[0])
    return Reading(item.get("state_value"), item.get("state"), item.get("unit"), parse_timestamp(item["time_fired"]))


def _raw(store: EventStore, entity_id: str, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    """The entity's events in [start, end), oldest first."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = store.query(EventFilter(entity_id=entity_id, start=start, end=end), RAW_PAGE, cursor)
        items.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return items[::-1]


def _raw_values(store: EventStore, entity_id: str, start: dt.datetime, end: dt.datetime) -> list[float]:
    return [i["state_value"] for i in _raw(store, entity_id, start, end) if i.get("state_value") is not None]


def timeline(store: EventStore, entity_id: str, start: dt.datetime, end: dt.datetime) -> list[tuple[int, str | None]]:
    """(time µs, state) of each state change in [start, end), oldest first, after the state held at `start`."""
    before = latest(store, entity_id, start - BASELINE_LOOKBACK, start)
    out = [(to_micros(start), before.state)] if before else []
    out += [(to_micros(parse_timestamp(i["time_fired"])), i.get("state")) for i in _raw(store, entity_id, start, end)]
    return out


def meter_hours(store: EventStore, entity_id: str, start: dt.datetime, end: dt.datetime,
                info: dict[str, Any] | None = None) -> list[meters.Hour]:
    """The meter's energy per hour of [start, end) that has a reading, in the meter's own unit."""
    before = latest(store, entity_id, start - BASELINE_LOOKBACK, start)
    return _periods(store, entity_id, start, end, before, store.series(entity_id, start, end, HOUR_S, info=info),
                    HOUR_S)


def meter_total(store: EventStore, entity_id: str, start: dt.datetime, end: dt.datetime,
                info: dict[str, Any] | None = None) -> list[meters.Hour]:
    """The meter's energy over [start, end) in as few buckets as tell it exactly: days (a year is 365 rows), or
    hours when a day holds readings on both sides of a reset."""
    before = latest(store, entity_id, start - BASELINE_LOOKBACK, start)
    days = store.series(entity_id, start, end, DAY_S, info=info)
    if meters.split_reset(days, before.value if before else None):
        return _periods(store, entity_id, start, end, before,
                        store.series(entity_id, start, end, HOUR_S, info=info), HOUR_S)
    return _periods(store, entity_id, start, end, before, days, DAY_S)


def _periods(store: EventStore, entity_id: str, start: dt.datetime, end: dt.datetime, before: Reading | None,
             buckets: list[Bucket], width_s: int) -> list[meters.Hour]:
    baseline = before.value if before else None
    width = dt.timedelta(seconds=width_s)
    return meters.hours(buckets, baseline, before.time if before and baseline is not None else None,
                        lambda t: _raw_values(store, entity_id, max(t, start), t + width), width)


def hourly_means(store: EventStore, entity_id: str, start: dt.datetime, end: dt.datetime,
                 info: dict[str, Any] | None = None) -> dict[int, float]:
    """Mean value per hour (µs of the hour's start) where the series has one."""
    return {to_micros(b.start): b.mean for b in store.series(entity_id, start, end, HOUR_S, info=info)
            if b.mean is not None}
