"""Event statistics: totals, rate, counts by dimension, time-bucketed trends."""

from __future__ import annotations

import dataclasses
from typing import Any

from ingestor.httpapi import iso
from ingestor.queries.params import Range
from ingestor.store.model import Bucket, EventFilter
from ingestor.store.protocol import EventStore

GROUP_LIMIT = 20


def _counts(store: EventStore, f: EventFilter, by: str, limit: int) -> list[dict[str, Any]]:
    return [{"key": key or None, "count": n} for key, n in store.counts(f, by, limit)]


def summary(store: EventStore, f: EventFilter, r: Range, top: int) -> dict[str, Any]:
    total = store.count(f)
    return {"start": iso(r.start), "end": iso(r.end), "total": total,
            "rate_per_min": round(total / (r.seconds / 60), 6),
            "by_domain": _counts(store, f, "domain", GROUP_LIMIT),
            "by_event_type": _counts(store, f, "event_type", GROUP_LIMIT),
            "top_entities": _counts(store, f, "entity_id", top),
            "by_area": _counts(store, f, "area_id", GROUP_LIMIT)}


def point(b: Bucket) -> dict[str, Any]:
    return {"t": iso(b.start), "count": b.count, "mean": b.mean, "min": b.min, "max": b.max}


def _only_entity(f: EventFilter) -> bool:
    """A filter on one entity and time only, which the summaries of pruned days can answer too."""
    rest = dataclasses.replace(f, start=None, end=None, entity_id=None)
    return f.entity_id is not None and rest == EventFilter()


def trend(store: EventStore, f: EventFilter, r: Range, bucket_s: int) -> dict[str, Any]:
    buckets = store.series(f.entity_id, r.start, r.end, bucket_s) if _only_entity(f) else store.buckets(f, bucket_s)
    return {"start": iso(r.start), "end": iso(r.end), "bucket_s": bucket_s, "points": [point(b) for b in buckets]}
