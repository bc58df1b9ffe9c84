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
from ingestor.store.model import Columns, EventFilter
from ingestor.store.protocol import EventStore
from ingestor.store.timerange import from_micros, to_micros
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
    found = store.states(entity_id, start, end)
    if found is None:
        found = [(to_micros(parse_timestamp(i["time_fired"])), i.get("state"))
                 for i in _raw(store, entity_id, start, end)]
    return out + found


def meter_hours(store: EventStore, entity_ids: list[str], start: dt.datetime, end: dt.datetime,
                info: dict[str, Any] | None = None) -> dict[str, meters.Hours]:
    """Each meter's energy per hour of [start, end) that has a reading, in the meter's own unit."""
    befores = _befores(store, entity_ids, start)
    found = store.series_columns(entity_ids, start, end, HOUR_S, info=info)
    return {e: _periods(store, e, start, found[e], HOUR_S, befores[e]) for e in entity_ids}


def meter_total(store: EventStore, entity_ids: list[str], start: dt.datetime, end: dt.datetime,
                info: dict[str, Any] | None = None) -> dict[str, meters.Hours]:
    """Each meter's energy over [start, end) in as few buckets as tell it exactly: days (a year is 365 rows), or
    hours for a meter whose day holds readings on both sides of a reset."""
    befores = _befores(store, entity_ids, start)
    days = store.series_columns(entity_ids, start, end, DAY_S, info=info)
    split = [e for e in entity_ids if meters.split_reset(days[e], befores[e].value if befores[e] else None)]
    hours = store.series_columns(split, start, end, HOUR_S, info=info) if split else {}
    return {e: _periods(store, e, start, hours[e], HOUR_S, befores[e]) if e in hours else
            _periods(store, e, start, days[e], DAY_S, befores[e]) for e in entity_ids}


def _befores(store: EventStore, entity_ids: list[str], start: dt.datetime) -> dict[str, Reading | None]:
    """Each meter's reading before `start`: where its first bucket counts from."""
    return {entity_id: latest(store, entity_id, start - BASELINE_LOOKBACK, start) for entity_id in entity_ids}


def _periods(store: EventStore, entity_id: str, start: dt.datetime, buckets: Columns, width_s: int,
             before: Reading | None) -> meters.Hours:
    baseline = before.value if before else None
    width = dt.timedelta(seconds=width_s)

    def raw(t: int) -> list[float]:
        at = from_micros(t)
        return _raw_values(store, entity_id, max(at, start), at + width)

    return meters.hours(buckets, baseline, to_micros(before.time) if before and baseline is not None else None, raw,
                        width_s)


def hourly_means(store: EventStore, entity_ids: list[str], start: dt.datetime, end: dt.datetime,
                 info: dict[str, Any] | None = None) -> dict[str, dict[int, float]]:
    """Per series: its mean value per hour (µs of the hour's start) where it has one: the whole hours' means
    alone where the store reads them so, an hour cut by either end of the range (and every hour where the store
    does not) from each hour's summary."""
    hour = HOUR_S * 1_000_000
    first, last = from_micros(-(-to_micros(start) // hour) * hour), from_micros(to_micros(end) // hour * hour)
    found = store.hourly_means(entity_ids, first, last, info) if first < last else None
    if found is None:
        return _summarized_means(store, entity_ids, start, end, info)
    for lo, hi in ((start, first), (last, end)):
        if lo < hi:
            for entity_id, means in _summarized_means(store, entity_ids, lo, hi, info).items():
                found[entity_id].update(means)
    return found


def _summarized_means(store: EventStore, entity_ids: list[str], start: dt.datetime, end: dt.datetime,
                      info: dict[str, Any] | None) -> dict[str, dict[int, float]]:
    return {entity_id: {t: mean for t, mean in zip(c.start, c.mean, strict=True) if mean is not None}
            for entity_id, c in store.series_columns(entity_ids, start, end, HOUR_S, info=info).items()}
