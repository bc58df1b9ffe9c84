"""Event statistics: totals, rate, counts by dimension, time-bucketed trends.

A trend has a point for every bucket of the range (zero events where there were none), so a chart of it shows
the whole range and invents nothing between buckets. Its rate is the points' sum over the range, the same
figure the summary gives. Values (mean/min/max of state_value) are given for one entity only: across entities
they would mix units (watts, °C and on/off 1/0 in one mean), so a trend of several entities counts events only.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ingestor.httpapi import iso
from ingestor.queries.catalog import Names
from ingestor.queries.params import Range, bucket_starts
from ingestor.store import tiers
from ingestor.store.model import Bucket, Columns, EventFilter
from ingestor.store.protocol import EventStore
from ingestor.store.rows import stamp
from ingestor.store.timerange import to_micros

GROUP_LIMIT = 20


def _rows(counts: list[tuple[str | None, int]], named: dict[str, str | None] | None = None) -> list[dict[str, Any]]:
    rows = [{"key": key or None, "count": n} for key, n in counts]
    if named is not None:
        for row in rows:
            row["name"] = named.get(row["key"]) if row["key"] else None
    return rows


def rate_per_min(total: int, r: Range) -> float:
    return round(total / (r.seconds / 60), 6)


def resolution(*infos: dict[str, Any]) -> str:
    """The tiers several reads used together, coarsest first (store/tiers.py names them)."""
    used = {part for info in infos for part in str(info.get("resolution") or "raw").split("+")}
    return "+".join(name for name in tiers.COARSEST_FIRST if name in used)


def summary(store: EventStore, f: EventFilter, r: Range, top: int, names: Names) -> dict[str, Any]:
    info: dict[str, Any] = {}
    total, counts = store.tallies(f, {"domain": GROUP_LIMIT, "event_type": GROUP_LIMIT, "entity_id": top,
                                      "area_id": GROUP_LIMIT}, info=info)
    return {"start": iso(r.start), "end": iso(r.end), "total": total, "rate_per_min": rate_per_min(total, r),
            "by_domain": _rows(counts["domain"]),
            "by_event_type": _rows(counts["event_type"]),
            "top_entities": _rows(counts["entity_id"], names.entities),
            "by_area": _rows(counts["area_id"], names.areas),
            "resolution": resolution(info)}


def point(b: Bucket, values: bool = True) -> dict[str, Any]:
    return {"t": iso(b.start), "count": b.count, "mean": b.mean if values else None,
            "min": b.min if values else None, "max": b.max if values else None}


def points(found: Columns) -> list[dict[str, Any]]:
    """`point` of each bucket, straight from the store's columns: no datetime made per bucket (a 30-day history
    has 1,440 of them)."""
    return [{"t": stamp(t), "count": n, "mean": mean, "min": lo, "max": hi}
            for t, n, mean, lo, hi in zip(found.start, found.count, found.mean, found.min, found.max, strict=True)]


def _only_entity(f: EventFilter) -> bool:
    """A filter on one entity and time only, which the summaries of pruned days can answer too."""
    rest = dataclasses.replace(f, start=None, end=None, entity_id=None)
    return f.entity_id is not None and rest == EventFilter()


def every_bucket(buckets: list[Bucket], r: Range, bucket_s: int) -> list[Bucket]:
    """`buckets` with the empty ones of the range added (count 0, no values), oldest first."""
    found = {to_micros(b.start): b for b in buckets}
    return [found.get(to_micros(t)) or Bucket(t, 0, None, None, None) for t in bucket_starts(r, bucket_s)]


def trend(store: EventStore, f: EventFilter, r: Range, bucket_s: int) -> dict[str, Any]:
    info: dict[str, Any] = {}
    values = f.entity_id is not None
    buckets = store.series(f.entity_id, r.start, r.end, bucket_s, info=info) if _only_entity(f) \
        else store.buckets(f, bucket_s, info=info, values=values)
    points = every_bucket(buckets, r, bucket_s)
    total = sum(b.count for b in points)
    return {"start": iso(r.start), "end": iso(r.end), "bucket_s": bucket_s, "total": total,
            "rate_per_min": rate_per_min(total, r), "values": values,
            "points": [point(b, values) for b in points], "resolution": resolution(info)}
