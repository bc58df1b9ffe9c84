"""A home's events with everything the pipeline does to their order, and every aggregate worked out in plain
Python from the events themselves: the answers the rollups must give."""

from __future__ import annotations

import datetime as dt
import random
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from ingestor.event_id import other_event_id, state_change_id_at
from ingestor.normalization import coerce_state_value
from ingestor.store.model import EventFilter
from ingestor.timeutil import format_timestamp, parse_timestamp

US = 1_000_000
PLAIN_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")
ENTITIES = [  # entity, area, device, states (numbers when None)
    ("sensor.power", "kitchen", "dev_plug", None),
    ("sensor.temperature", "living", "dev_thermo", None),
    ("binary_sensor.motion", "living", "dev_motion", ["on", "off"]),
    ("light.kitchen", "kitchen", None, ["on", "off", "unavailable"]),
    ("light.living", "living", "dev_light", ["on", "off"]),
    ("switch.plug", "kitchen", "dev_plug", ["on", "off", "unavailable"]),
    ("media_player.tv", None, None, ["playing", "paused", "idle", "off"]),
]


def kept_state(state: str | None) -> bool:
    """States durations group by: all but plain decimal numbers."""
    if state is None or len(state) > 64 or re.match(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d", state):
        return False  # timestamps ("last seen") and long texts: each value would be a group of its own
    return not (PLAIN_DECIMAL.fullmatch(state) and not re.fullmatch(r"-0(\.0+)?", state))


def micros(record: dict[str, Any]) -> int:
    moment = parse_timestamp(record["time_fired"]) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (moment.days * 86_400 + moment.seconds) * US + moment.microseconds


@dataclass
class History:
    records: list[dict[str, Any]]  # each event once
    batches: list[list[dict[str, Any]]]  # as delivered: out of order, late, some twice


def home(seed: int, start: dt.datetime, hours: int, events: int) -> History:
    """`events` events of ENTITIES and some service calls over `hours` from `start`, delivered in batches
    of random sizes in a shuffled order, a fifth of them delivered again."""
    rng = random.Random(seed)
    t0 = int(start.timestamp()) * US
    span = hours * 3600 * US
    times = sorted(t0 + rng.randrange(span) for _ in range(events))
    last: dict[str, tuple[str, int]] = {}
    records = []
    for ts in times:
        fired = format_timestamp(dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=ts))
        ctx = f"01J{rng.getrandbits(64):023X}"[:26]
        if rng.random() < 0.1:
            data = {"domain": "light", "service": rng.choice(["turn_on", "turn_off"])}
            records.append(_record("call_service", None, "light", None, None, fired, ctx, None, None, None,
                                   None, data, other_event_id("call_service", fired, ctx, data)))
            continue
        entity, area, device, states = rng.choice(ENTITIES)
        if states is None:
            state = f"{rng.uniform(0, 500):.{rng.choice([0, 1, 2])}f}" if rng.random() > 0.03 else "unavailable"
        else:
            state = rng.choice(states)
        previous = last.get(entity)
        old = previous[0] if previous else None
        duration = None
        if previous and old != state:
            duration = (ts - previous[1]) / US
        if previous is None or old != state:
            last[entity] = (state, ts)
        value = coerce_state_value(state)
        if entity == "sensor.temperature" and rng.random() < 0.02:
            value = 7.0  # a later stage's own value: the state rollups must not assume it
        records.append(_record("state_changed", entity, entity.split(".")[0], area, device, fired, ctx, state,
                               old, value, duration, None, state_change_id_at(entity, fired, state)))
    return delivered(records, rng, 150)


def delivered(records: list[dict[str, Any]], rng: random.Random, largest: int) -> History:
    """The records in batches of up to `largest`, in a shuffled order, a fifth of the batches delivered again."""
    order = records[:]
    batches = []
    while order:
        size = rng.randint(1, largest)
        batches.append(order[:size])
        order = order[size:]
    rng.shuffle(batches)
    batches += rng.sample(batches, len(batches) // 5)
    return History(records, batches)


def _record(event_type: str, entity: str | None, domain: str | None, area: str | None, device: str | None,
            fired: str, ctx: str, state: str | None, old: str | None, value: float | None,
            duration: float | None, data: Any, event_id: str) -> dict[str, Any]:
    return {"event_id": event_id, "event_type": event_type, "time_fired": fired, "origin": "LOCAL",
            "entity_id": entity, "domain": domain, "state": state, "old_state": old, "state_value": value,
            "unit": "W" if entity == "sensor.power" else None, "device_class": None,
            "friendly_name": entity.split(".")[1].replace("_", " ").title() if entity else None,
            "attributes": {"friendly_name": entity} if entity else {}, "duration_in_state": duration,
            "context": {"id": ctx, "parent_id": None, "user_id": None}, "device_id": device, "area_id": area,
            "device_manufacturer": None, "device_model": None, "weather": None, "data": data}


def matches(record: dict[str, Any], f: EventFilter) -> bool:
    ts = micros(record)
    if f.start is not None and ts < micros({"time_fired": format_timestamp(f.start)}):
        return False
    if f.end is not None and ts >= micros({"time_fired": format_timestamp(f.end)}):
        return False
    for name in ("entity_id", "domain", "event_type", "area_id", "device_id", "state", "old_state"):
        if getattr(f, name) is not None and record[name] != getattr(f, name):
            return False
    if f.text:
        needle = f.text.lower()
        return needle in (record["friendly_name"] or "").lower() or needle in (record["state"] or "").lower()
    return True


def values(records: list[dict[str, Any]], f: EventFilter, width: int | None, group: str | None) -> dict:
    """Per (group value, bucket start µs): [count, value count, sum, min, max, newest time]."""
    out: dict[tuple[Any, int | None], list[Any]] = {}
    for r in records:
        if not matches(r, f):
            continue
        ts = micros(r)
        key = (r[group] if group else None, ts // (width * US) * (width * US) if width else None)
        acc = out.setdefault(key, [0, 0, 0.0, None, None, -1])
        acc[0] += 1
        value = r["state_value"]
        if value is not None:
            acc[1] += 1
            acc[2] += value
            acc[3] = value if acc[3] is None else min(acc[3], value)
            acc[4] = value if acc[4] is None else max(acc[4], value)
        acc[5] = max(acc[5], ts)
    return out


def durations(records: list[dict[str, Any]], f: EventFilter) -> dict[tuple[str, str], list[float]]:
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in records:
        if matches(r, f) and r["duration_in_state"] is not None and kept_state(r["old_state"]):
            groups[(r["entity_id"], r["old_state"])].append(r["duration_in_state"])
    return groups


def stays(records: list[dict[str, Any]], f: EventFilter) -> list[tuple[str, str, int, float, str]]:
    """(entity, state left, time µs, duration, event id) of the single stays (duration_in_state >= 0) in kept
    states, newest first by time, then event id: the anomalies' sample is the first `limit` of them."""
    found = [(r["entity_id"], r["old_state"], micros(r), r["duration_in_state"], r["event_id"]) for r in records
             if matches(r, f) and r["duration_in_state"] is not None and r["duration_in_state"] >= 0
             and kept_state(r["old_state"])]
    return sorted(found, key=lambda s: (s[2], s[4]), reverse=True)


METER = "sensor.energy_meter"


def meter(seed: int, start: dt.datetime, hours: int, readings: int) -> History:
    """An energy meter (kWh, total_increasing) read `readings` times over `hours`: it rises, dips now and then
    (noise: a reading a little below the one before), starts new cycles (a drop below 90 %) and is unavailable
    at times; delivered in shuffled batches, a fifth of them twice."""
    rng = random.Random(seed)
    t0 = int(start.timestamp()) * US
    times = sorted(t0 + rng.randrange(hours * 3600 * US) for _ in range(readings))
    total, records = 100.0, []
    for ts in times:
        fired = format_timestamp(dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=ts))
        total += rng.uniform(0, 0.4)
        draw = rng.random()
        if draw < 0.02:
            total = rng.uniform(0, 0.5)  # a new cycle
        shown = total * rng.uniform(0.93, 1.0) if 0.02 <= draw < 0.07 else total
        state = "unavailable" if draw > 0.98 else f"{shown:.3f}"
        record = _record("state_changed", METER, "sensor", "kitchen", "dev_meter", fired, "01J" + "0" * 23, state,
                         None, coerce_state_value(state), None, None, state_change_id_at(METER, fired, state))
        record["unit"] = "kWh"
        records.append(record)
    return delivered(records, rng, 60)


def rises(records: list[dict[str, Any]], width: int) -> dict[int, float]:
    """Per bucket (µs of its start) with a reading: what its readings added, each over the reading before it
    (itself after a drop below 90 %; the first only sets the start), in time order, the smaller first."""
    readings = sorted((micros(r), r["state_value"]) for r in records if r["state_value"] is not None)
    out: dict[int, float] = {}
    previous = None
    for ts, value in readings:
        bucket = ts // (width * US) * width * US
        out[bucket] = out.get(bucket, 0.0) + (0.0 if previous is None else
                                              value if value < 0.9 * previous else value - previous)
        previous = value
    return out


def hours_within(records: list[dict[str, Any]], lo: int, hi: int) -> dict[int, tuple[float, bool]]:
    """Per hour (µs of its start) with a reading in [lo, hi) (µs): what its readings there added, each over the
    reading before it in time however old (as `rises`), and whether there is a reading in the hour before it,
    up to `lo` (so that hour's energy is its own)."""
    hour = 3600 * US
    readings = sorted((micros(r), r["state_value"]) for r in records if r["state_value"] is not None)
    out: dict[int, tuple[float, bool]] = {}
    previous = None
    for ts, value in readings:
        if lo <= ts < hi:
            h = ts // hour * hour
            amount = 0.0 if previous is None else value if value < 0.9 * previous[1] else value - previous[1]
            before = any(h - hour <= t < max(h, lo) for t, _ in readings)
            out[h] = (out.get(h, (0.0, before))[0] + amount, before)
        previous = (ts, value)
    return out
