"""A chart series over any range: raw rows where they are kept, hourly/daily aggregates where they were pruned.

Every day that retention-archive summarized (it has daily aggregates) is read from the aggregates, every
other day from the raw rows, so a 3-year chart works after raw events older than the raw window are gone.
A day both summarized and still present as raw rows (restored, or pruned later) is the same data twice:
it is read once, from the aggregates. Older than the raw window the resolution is one hour at best.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ingestor.store.model import PERIOD_SECONDS, Aggregate, Bucket, EventFilter
from ingestor.store.timerange import from_micros, to_micros

DAY_US = 86_400 * 1_000_000


def raw_unit(bucket_s: int) -> int:
    """The width raw stats are read at, so that no unit straddles two days (except widths that fit neither)."""
    if bucket_s % 86_400 == 0 or 86_400 % bucket_s == 0:
        return min(bucket_s, 86_400)
    return 3600 if bucket_s % 3600 == 0 else bucket_s


def combine(parts: list[Aggregate], bucket_s: int) -> list[Bucket]:
    """Roll summaries up into epoch-aligned buckets of `bucket_s` seconds (means weighted by value counts)."""
    width = bucket_s * 1_000_000
    acc: dict[int, list[float]] = {}
    for part in parts:
        if not part.count:
            continue
        key = to_micros(part.start) // width * width
        a = acc.setdefault(key, [0, 0, 0.0, float("inf"), float("-inf")])
        a[0] += part.count
        if part.value_count and part.mean is not None:
            a[1] += part.value_count
            a[2] += part.mean * part.value_count
            a[3] = min(a[3], part.min if part.min is not None else part.mean)
            a[4] = max(a[4], part.max if part.max is not None else part.mean)
    return [Bucket(from_micros(k), int(a[0]), a[2] / a[1] if a[1] else None, a[3] if a[1] else None,
                   a[4] if a[1] else None) for k, a in sorted(acc.items())]


def series(store: Any, entity_id: str, start: dt.datetime, end: dt.datetime, bucket_s: int,
           info: dict[str, Any] | None = None) -> list[Bucket]:
    """`info["resolution"]` says which tiers the raw part was read from (store/tiers.py)."""
    if bucket_s <= 0:
        raise ValueError("bucket_s must be positive")
    summarized = set(store.summarized_days(start, end))
    period = "day" if bucket_s % 86_400 == 0 else "hour"
    kept = [a for a in store.aggregates(entity_id, period, start, end)
            if to_micros(a.start) // DAY_US * DAY_US in summarized]
    raw = [s for s in store.stats(EventFilter(entity_id=entity_id, start=start, end=end), raw_unit(bucket_s),
                                  info=info) if to_micros(s.start) // DAY_US * DAY_US not in summarized]
    return combine(kept + raw, bucket_s)


def period_seconds(period: str) -> int:
    return PERIOD_SECONDS[period]
