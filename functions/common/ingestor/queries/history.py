"""One entity's history: its state timeline (segments between state changes) and a numeric series.

The timeline holds the newest `limit` state changes of the range (`truncated` when there were more), plus
the state the entity was in when the range (or the kept part) began, taken from the first change's
old_state and duration_in_state. The series comes from store.series, which also reads the hourly and
daily summaries of days whose raw events were pruned.

`numeric` says how to chart it, as HA's history panel decides: an entity with a unit of measurement or a
state_class is numeric (a line over time; states that are not numbers, such as unavailable, are gaps); so is
one without either whose every state is a number (a counter). Anything else (on/off, modes) is a timeline of
states.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ingestor.errors import NotFound
from ingestor.httpapi import iso
from ingestor.queries.catalog import Names
from ingestor.queries.params import Range
from ingestor.queries.stats import point, resolution
from ingestor.store.model import EventFilter
from ingestor.store.protocol import EventStore
from ingestor.timeutil import parse_timestamp
from ingestor.units import displayed, unit_name

NOT_VALUES = {"unavailable", "unknown", "", None}


def _is_number(state: str | None) -> bool:
    try:
        float(state)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True


def timeline(events: list[dict[str, Any]], r: Range, until: dt.datetime, complete: bool) -> list[dict[str, Any]]:
    """Segments oldest first; `events` are oldest first; the last segment lasts until `until`."""
    segments: list[dict[str, Any]] = []
    times = [parse_timestamp(ev["time_fired"]) for ev in events]
    if events and events[0].get("old_state") is not None:
        lasted = events[0].get("duration_in_state")
        began = times[0] - dt.timedelta(seconds=lasted) if lasted is not None else (r.start if complete else None)
        if began is not None:
            segments.append((max(began, r.start), times[0], events[0]["old_state"]))
    for i, ev in enumerate(events):
        segments.append((times[i], times[i + 1] if i + 1 < len(events) else max(until, times[i]), ev.get("state")))
    return [{"start": iso(s), "end": iso(e), "state": state, "duration_s": round((e - s).total_seconds(), 6)}
            for s, e, state in segments]


def _numeric(values: list[Any], unit: str | None, attributes: dict[str, Any]) -> bool:
    if unit or attributes.get("state_class"):
        return True
    return bool(values) and all(_is_number(v) for v in values)


def history(store: EventStore, meta: dict[str, Any] | None, entity_id: str, r: Range, limit: int, bucket_s: int,
            now: dt.datetime, names: Names) -> dict[str, Any]:
    page = store.query(EventFilter(start=r.start, end=r.end, entity_id=entity_id, event_type="state_changed"),
                       limit=limit)
    events = list(reversed(page.items))
    info: dict[str, Any] = {}
    series = store.series(entity_id, r.start, r.end, bucket_s, info=info)
    if not events and not series and meta is None and not store.query(EventFilter(entity_id=entity_id), 1).items:
        raise NotFound(f"no entity {entity_id!r}: not in the metadata DB and no stored event")
    values = [ev.get("state") for ev in events if ev.get("state") not in NOT_VALUES]
    newest = events[-1] if events else {}
    meta = meta or {}
    attributes = newest.get("attributes") if isinstance(newest.get("attributes"), dict) else {}
    unit = unit_name(newest.get("unit") or meta.get("unit"))
    area, device = newest.get("area_id") or meta.get("area_id"), newest.get("device_id") or meta.get("device_id")
    return {
        "entity_id": entity_id, "start": iso(r.start), "end": iso(r.end),
        "numeric": _numeric(values, unit, attributes),
        "unit": unit,
        "unit_of_measurement": displayed(unit, attributes) if newest else meta.get("unit_of_measurement"),
        "device_class": newest.get("device_class") or meta.get("device_class"),
        "state_class": attributes.get("state_class") if isinstance(attributes.get("state_class"), str) else None,
        "friendly_name": newest.get("friendly_name") or meta.get("friendly_name") or names.entities.get(entity_id),
        "area_id": area, "area_name": names.areas.get(area) if area else None,
        "device_id": device, "device_name": names.devices.get(device) if device else None,
        "timeline": timeline(events, r, min(r.end, now), page.next_cursor is None), "changes": len(events),
        "series": [point(b) for b in series], "bucket_s": bucket_s, "truncated": page.next_cursor is not None,
        "resolution": resolution(info),
    }
