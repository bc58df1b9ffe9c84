"""Attaching the latest context values to event records, each marked with its age.

Nothing here calls a provider: values come from the shared cache. A value older than its source's
refresh interval is still attached, marked `stale`; a source never fetched attaches null.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ingestor import metrics
from ingestor.context import cache
from ingestor.context.settings import Enrichment
from ingestor.errors import Invalid
from ingestor.timeutil import parse_timestamp

_attached = metrics.counter("context_attached_total", "Context values attached to batches, by freshness",
                            ["source", "freshness"])


def current(snapshot: dict[str, dict[str, Any]], now: dt.datetime, sources: list[str]) -> dict[str, Any]:
    """Per source: its values with fetched_at, age_s, stale and provider, or None."""
    out: dict[str, Any] = {}
    for name in sources:
        entry = snapshot.get(name)
        if not entry:
            out[name] = None
            _attached.labels(name, "missing").inc()
            continue
        age = max((now - parse_timestamp(entry["fetched_at"])).total_seconds(), 0.0)
        stale = age > float(entry.get("ttl_s") or 900)
        out[name] = {**entry["values"], "fetched_at": entry["fetched_at"], "age_s": round(age, 1),
                     "stale": stale, "provider": entry.get("provider")}
        _attached.labels(name, "stale" if stale else "fresh").inc()
    return out


def attach(record: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    record.update(values)
    return record


def an_object(record: Any) -> dict[str, Any]:
    """weather-enrich's stage check: what it attaches to must be an object; write checks the whole record."""
    if not isinstance(record, dict):
        raise Invalid("record: expected an object")
    return record


class Enricher:
    """Attaches the configured sources' latest values to each batch, read from the shared cache (ingestor.context.cache)
    at most every `cache_s` seconds."""

    def __init__(self, config: Enrichment) -> None:
        self.sources = list(config.sources)
        self.snapshot = cache.Snapshot(config.cache_s)

    def attach_all(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        values = current(self.snapshot.get(), dt.datetime.now(dt.UTC), self.sources)
        return [attach(record, values) for record in records]
