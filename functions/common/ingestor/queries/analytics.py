"""Analytics over the event store joined with the metadata DB: area activity, durations, device reliability.

Area activity: per-area event counts per bucket (a heatmap), from one store.grid scan. Events without an
area are shown as area_id null named "(no area)". Without a bucket asked for, hourly, or the finest standard
width giving at most HEAT_COLUMNS buckets (heat_bucket).

Duration anomalies: for every (entity, state left) with at least MIN_SAMPLES stored duration_in_state
values in the range, expected = their median; a stay shorter than TOO_SHORT x median is "too_short",
longer than TOO_LONG x median "too_long". At most SAMPLE_LIMIT durations (the newest) are read.

Reliability: per device, its events and last event in the range (from the store, by device_id), and its
unavailable periods: an entity of the device entering "unavailable" until its next change (the time of
that change; still unavailable: the end of the range), intervals of one device's entities merged, so two
entities down together count once. availability = 1 - unavailable_s / range_s.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import heapq
import itertools
import statistics
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ingestor.httpapi import iso
from ingestor.queries.params import Range, bucket_seconds, bucket_starts
from ingestor.queries.stats import resolution
from ingestor.store.model import EventFilter, StayGroup, prefetch_ids
from ingestor.store.pausedgc import paused_gc
from ingestor.store.protocol import EventStore
from ingestor.timeutil import parse_timestamp

NO_AREA = "(no area)"
MIN_SAMPLES = 5
TOO_SHORT = 0.1
TOO_LONG = 10.0
SAMPLE_LIMIT = 50_000
UNAVAILABLE = "unavailable"
TRANSITION_LIMIT = 10_000  # unavailable starts and ends read at most, each
PAGE = 1000
# A heatmap's default buckets are at most this many: a column per bucket, 400 already fill a wide screen at 2-4 px
# each (the dashboard asks for 12-30), where the 1,460 of a year in 6 hours did not show and cost the most
# (~114,000 hourly rows summed); a year is 365 days then, read from the daily rollups. An explicit bucket may
# still give up to params.MAX_POINTS.
HEAT_COLUMNS = 400
Anomaly = tuple[float, int, str, StayGroup, int, float]  # (-severity, time µs, kind, group, its stay, median)


def heat_bucket(name: str | None, r: Range) -> int:
    """The heatmap's bucket width in seconds: `name`'s (within params.MAX_POINTS buckets), else 1h, else the finest
    standard width giving at most HEAT_COLUMNS buckets (a year: 1 day)."""
    return bucket_seconds(name, r, preferred="1h", most=HEAT_COLUMNS)


def areas(store: EventStore, f: EventFilter, r: Range, bucket_s: int, names: dict[str, str | None]) -> dict[str, Any]:
    starts = bucket_starts(r, bucket_s)
    index = {t: i for i, t in enumerate(starts)}  # by the instant: a busy home's 30-day heatmap has ~18,000 cells
    per_area: dict[str | None, dict[dt.datetime, int]] = defaultdict(dict)
    info: dict[str, Any] = {}
    for area_id, start, n in store.grid(f, "area_id", bucket_s, info=info):
        per_area[area_id][start] = n
    rows = list(per_area.items())
    rows.sort(key=lambda row: (-sum(row[1].values()), row[0] or ""))
    cells = [[i, index[t], n] for i, (_, counts) in enumerate(rows) for t, n in sorted(counts.items())
             if t in index and n]
    return {"start": iso(r.start), "end": iso(r.end), "bucket_s": bucket_s,
            "areas": [{"area_id": area_id, "name": names.get(area_id) or area_id if area_id else NO_AREA,
                       "count": sum(counts.values())} for area_id, counts in rows],
            "buckets": [iso(t) for t in starts], "cells": cells, "resolution": resolution(info)}


def durations(store: EventStore, f: EventFilter, r: Range, limit: int, anomaly_limit: int,
              names: dict[str, str | None]) -> dict[str, Any]:
    """The collector paused for the whole answer, not the stays read alone: the sample's ~10,000 lists and
    objects are let go when `_durations` returns, before it runs again, instead of walked by the collection
    that followed the read (6-20 ms of the week's ~120 ms of CPU on the busy home)."""
    with paused_gc():
        return _durations(store, f, r, limit, anomaly_limit, names)


def _durations(store: EventStore, f: EventFilter, r: Range, limit: int, anomaly_limit: int,
               names: dict[str, str | None]) -> dict[str, Any]:
    info: dict[str, Any] = {}
    # The items (mostly the database's work: on SQLite a year's state sums, ~60 ms without the GIL) read in a thread
    # of their own, on a connection of their own, while this one reads the sample and finds its anomalies (mostly
    # Python): the answer takes about the longer of the two where a core is free, not their sum. Each read is a
    # snapshot of its own, as before.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="durations") as pool:
        stats = pool.submit(store.durations, f, limit, info=info)
        groups = store.stay_groups(f, SAMPLE_LIMIT)
        samples = sum(len(group.durations) for group in groups)
        anomalies = _anomalies(groups, anomaly_limit, names)
        items = [{"entity_id": s.entity_id, "name": names.get(s.entity_id), "state": s.state, "count": s.count,
                  "mean_s": s.mean, "min_s": s.min, "max_s": s.max, "total_s": s.total} for s in stats.result()]
    return {"start": iso(r.start), "end": iso(r.end), "items": items, "resolution": resolution(info),
            "anomalies": anomalies, "samples": samples, "sampled": samples >= SAMPLE_LIMIT,
            "rule": {"min_samples": MIN_SAMPLES, "too_short_below": TOO_SHORT, "too_long_above": TOO_LONG,
                     "description": "per entity and state left, with at least min_samples durations: shorter than "
                                    "too_short_below x median or longer than too_long_above x median"}}


def _anomalies(groups: list[StayGroup], limit: int, names: dict[str, str | None]) -> list[dict[str, Any]]:
    """The `limit` most severe stays of the sample against their group's median, formatted."""
    found: list[Anomaly] = []
    for group in groups:
        durations = group.durations
        if len(durations) < MIN_SAMPLES:
            continue
        median = statistics.median(durations)
        if median <= 0:
            continue
        short, long, times = TOO_SHORT * median, TOO_LONG * median, group.times
        for k, d in enumerate(durations):
            if d < short:
                found.append((-median / max(d, 1e-9), times[k], "too_short", group, k, median))
            elif d > long:
                found.append((-d / median, times[k], "too_long", group, k, median))
    # A third of a busy home's stays can be anomalies: only those answered are formatted, their ids looked up
    # together where the store looks them up (InfluxDB).
    answered = _most_severe(found, limit)
    prefetch_ids((a[3], a[4]) for a in answered)
    return [{"event_id": group.event_id(k), "entity_id": group.entity_id, "name": names.get(group.entity_id),
             "state": group.state, "time_fired": iso(group.time(k)), "duration_s": group.durations[k],
             "expected_s": median, "kind": kind}
            for _, _, kind, group, k, median in answered]


def _most_severe(found: list[Anomaly], limit: int) -> list[Anomaly]:
    """The first `limit` anomalies by severity, then time, then event id: ids are worked out only for those that
    tie on both (a stay's id may be a hash to compute, store/model.py)."""
    head = heapq.nsmallest(limit, found, key=lambda a: a[:2])
    if head and len(head) < len(found):  # those tied with the last one kept compete for its place
        edge = head[-1][:2]
        head = sorted((a for a in found if a[:2] <= edge), key=lambda a: a[:2])
    runs = [list(tied) for _, tied in itertools.groupby(head, key=lambda a: a[:2])]
    prefetch_ids((a[3], a[4]) for run in runs if len(run) > 1 for a in run)
    out: list[Anomaly] = []
    for run in runs:
        out += sorted(run, key=lambda a: a[3].event_id(a[4])) if len(run) > 1 else run
    return out[:limit]


def _events(store: EventStore, f: EventFilter) -> tuple[list[dict[str, Any]], bool]:
    """Matching events, newest first, at most TRANSITION_LIMIT (and whether there were more)."""
    out: list[dict[str, Any]] = []
    cursor = None
    while len(out) < TRANSITION_LIMIT:
        page = store.query(f, limit=min(PAGE, TRANSITION_LIMIT - len(out)), cursor=cursor)
        out.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return out, False
    return out, True


def _merge(intervals: list[tuple[dt.datetime, dt.datetime]]) -> list[tuple[dt.datetime, dt.datetime]]:
    merged: list[tuple[dt.datetime, dt.datetime]] = []
    for s, e in sorted(intervals):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def unavailable(store: EventStore, f: EventFilter, r: Range, until: dt.datetime,
                devices_of: dict[str, str]) -> tuple[dict[str, list[tuple[dt.datetime, dt.datetime]]], bool]:
    """Merged unavailable intervals per device_id."""
    went, more_went = _events(store, dataclasses.replace(f, state=UNAVAILABLE))
    came, more_came = _events(store, dataclasses.replace(f, old_state=UNAVAILABLE))
    marks: dict[str, list[tuple[dt.datetime, int, dict[str, Any]]]] = defaultdict(list)
    for kind, events in ((0, went), (1, came)):
        for ev in events:
            if ev.get("entity_id"):
                marks[ev["entity_id"]].append((parse_timestamp(ev["time_fired"]), kind, ev))
    per_device: dict[str, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    for entity_id, entity_marks in marks.items():
        entity_marks.sort(key=lambda m: (m[0], m[1]))
        began: dt.datetime | None = None
        device = None
        for at, kind, ev in entity_marks:
            device = ev.get("device_id") or devices_of.get(entity_id) or device
            if kind == 0:
                if began is None:
                    began = at
                continue
            if began is None:  # unavailable since before the range: as long as it says it lasted
                lasted = ev.get("duration_in_state")
                began = max(r.start, at - dt.timedelta(seconds=lasted)) if lasted is not None else r.start
            if device:
                per_device[device].append((began, at))
            began = None
        if began is not None and device and began < until:
            per_device[device].append((began, until))
    return {device: _merge(spans) for device, spans in per_device.items()}, more_went or more_came


def reliability(store: EventStore, f: EventFilter, r: Range, now: dt.datetime, devices: dict[str, dict[str, Any]],
                devices_of: dict[str, str], limit: int) -> dict[str, Any]:
    until = min(r.end, now)
    span_s = max((until - r.start).total_seconds(), 1e-9)
    info: dict[str, Any] = {}
    active = {key: found for key, found in store.activity(f, "device_id", info=info).items() if key}
    counts = {key: n for key, (n, _) in active.items()}
    seen = {key: t for key, (_, t) in active.items()}
    down, truncated = unavailable(store, f, r, until, devices_of)
    items = []
    for device_id in sorted(set(devices) | set(counts) | set(down)):
        meta = devices.get(device_id) or {}
        spans = down.get(device_id, [])
        down_s = sum((e - s).total_seconds() for s, e in spans)
        items.append({"device_id": device_id, "name": meta.get("name"), "manufacturer": meta.get("manufacturer"),
                      "model": meta.get("model"), "area_id": meta.get("area_id"), "area_name": meta.get("area_name"),
                      "entity_count": meta.get("entity_count", 0), "events": counts.get(device_id, 0),
                      "events_per_hour": round(counts.get(device_id, 0) / (span_s / 3600), 6),
                      "last_seen": iso(seen.get(device_id)), "unavailable_periods": len(spans),
                      "unavailable_s": round(down_s, 6),
                      "availability": round(min(1.0, max(0.0, 1 - down_s / span_s)), 6), "known": bool(meta)})
    items.sort(key=lambda i: (i["availability"], -i["events"], i["device_id"]))
    return {"start": iso(r.start), "end": iso(r.end), "items": items[:limit], "truncated": truncated,
            "resolution": resolution(info)}
