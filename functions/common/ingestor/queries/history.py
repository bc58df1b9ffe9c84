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

import dataclasses
import datetime as dt
from typing import Any

from ingestor.errors import NotFound
from ingestor.httpapi import iso
from ingestor.queries.catalog import Names
from ingestor.queries.params import Range
from ingestor.queries.stats import points, resolution
from ingestor.store.model import Change, EventFilter
from ingestor.store.protocol import EventStore
from ingestor.store.rows import stamp
from ingestor.store.timerange import from_micros, to_micros
from ingestor.timeutil import parse_timestamp
from ingestor.units import displayed, unit_name

NOT_VALUES = {"unavailable", "unknown", "", None}


def _is_number(state: str | None) -> bool:
    try:
        float(state)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True


def timeline(changes: list[Change], r: Range, until: dt.datetime, complete: bool) -> list[dict[str, Any]]:
    """Segments oldest first; `changes` are oldest first; the last segment lasts until `until`. Times are kept in
    microseconds (2,000 changes: no datetime made and parsed back for each)."""
    segments: list[tuple[int, int, str | None]] = []
    start, last = to_micros(r.start), to_micros(until)
    if changes and changes[0][2] is not None:
        lasted = changes[0][3]
        began = to_micros(from_micros(changes[0][0]) - dt.timedelta(seconds=lasted)) if lasted is not None \
            else (start if complete else None)
        if began is not None:
            segments.append((max(began, start), changes[0][0], changes[0][2]))
    for i, (ts, state, _, _) in enumerate(changes):
        segments.append((ts, changes[i + 1][0] if i + 1 < len(changes) else max(last, ts), state))
    text = {t: stamp(t) for t in {t for s, e, _ in segments for t in (s, e)}}  # an end is the next start: once each
    return [{"start": text[s], "end": text[e], "state": state, "duration_s": round((e - s) / 1_000_000, 6)}
            for s, e, state in segments]


def _changes(store: EventStore, f: EventFilter, limit: int) -> tuple[list[Change], dict[str, Any], bool]:
    """The newest `limit` changes of the range oldest first, the newest one's record ({} without any), and whether
    there were more: from the store's changes where it has them (then one record only), else its records."""
    found = store.changes(f.entity_id, f.start, f.end, limit + 1)  # type: ignore[arg-type]
    if found is None:
        page = store.query(f, limit=limit)
        events = list(reversed(page.items))
        return ([(to_micros(parse_timestamp(ev["time_fired"])), ev.get("state"), ev.get("old_state"),
                  ev.get("duration_in_state")) for ev in events], events[-1] if events else {},
                page.next_cursor is not None)
    # The newest change's record, read from its instant on: the same event (changes are in `query`'s order), but a
    # store reading every shard of the range for it (InfluxDB: ~19 fields in each) reads one.
    newest = store.query(dataclasses.replace(f, start=from_micros(found[-1][0])), limit=1).items if found else []
    return found[-limit:], newest[0] if newest else {}, len(found) > limit


def _numeric(values: list[Any], unit: str | None, attributes: dict[str, Any]) -> bool:
    if unit or attributes.get("state_class"):
        return True
    return bool(values) and all(_is_number(v) for v in values)


def history(store: EventStore, meta: dict[str, Any] | None, entity_id: str, r: Range, limit: int, bucket_s: int,
            now: dt.datetime, names: Names) -> dict[str, Any]:
    changes, newest, truncated = _changes(
        store, EventFilter(start=r.start, end=r.end, entity_id=entity_id, event_type="state_changed"), limit)
    info: dict[str, Any] = {}
    series = store.series_columns([entity_id], r.start, r.end, bucket_s, info=info)[entity_id]
    if not changes and not series.start and meta is None and not store.query(EventFilter(entity_id=entity_id), 1).items:
        raise NotFound(f"no entity {entity_id!r}: not in the metadata DB and no stored event")
    values = [change[1] for change in changes if change[1] not in NOT_VALUES]
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
        "timeline": timeline(changes, r, min(r.end, now), not truncated), "changes": len(changes),
        "series": points(series), "bucket_s": bucket_s, "truncated": truncated,
        "resolution": resolution(info),
    }
