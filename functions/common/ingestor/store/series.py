"""A chart series over any range: raw rows where they are kept, hourly/daily aggregates where they were pruned.

Every day that retention-archive summarized (it has daily aggregates) is read from the aggregates, every
other day from the raw rows, so a 3-year chart works after raw events older than the raw window are gone.
A day both summarized and still present as raw rows (restored, or pruned later) is the same data twice:
it is read once, from the aggregates. Older than the raw window the resolution is one hour at best.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from operator import itemgetter
from typing import Any

from ingestor.store.model import PERIOD_SECONDS, Bucket, Columns
from ingestor.store.timerange import from_micros, to_micros

DAY_US = 86_400 * 1_000_000
INF = float("inf")


def raw_unit(bucket_s: int) -> int:
    """The width raw stats are read at, so that no unit straddles two days (except widths that fit neither)."""
    if bucket_s % 86_400 == 0 or 86_400 % bucket_s == 0:
        return min(bucket_s, 86_400)
    return 3600 if bucket_s % 3600 == 0 else bucket_s


Part = tuple[int, int, int, float | None, float | None, float | None]  # (start µs, count, value count, mean, min, max)
Parts = Callable[[list[str], dt.datetime, dt.datetime, int, "dict[str, Any] | None"], dict[str, list[Part]]]


def combine(parts: list[Part], bucket_s: int) -> Columns:
    """Roll summaries up into epoch-aligned buckets of `bucket_s` seconds (means weighted by value counts)."""
    width = bucket_s * 1_000_000
    parts = sorted((p for p in parts if p[1]), key=itemgetter(0))
    keys = [p[0] // width * width for p in parts]
    if not parts or len(set(keys)) < len(keys):
        return _merged(parts, keys)
    # one summary per bucket (the rollups of the bucket's own width): its figures, by the same arithmetic
    _, counts, vns, means, los, his = zip(*parts, strict=True)
    valued = [bool(n and m is not None) for n, m in zip(vns, means, strict=True)]
    return Columns(keys, [int(n) for n in counts],
                   [(0.0 + m * n) / n if v else None for n, m, v in zip(vns, means, valued, strict=True)],
                   [(x if x is not None else m) if v else None for x, m, v in zip(los, means, valued, strict=True)],
                   [(x if x is not None else m) if v else None for x, m, v in zip(his, means, valued, strict=True)])


def _merged(parts: list[Part], keys: list[int]) -> Columns:
    """`combine` where buckets have several summaries (pieces of tiers, series, pruned days), in time order."""
    out = Columns([], [], [], [], [])
    acc: list[Any] = []
    for key, (_, count, value_count, mean, lo, hi) in zip(keys, parts, strict=True):
        if not out.start or out.start[-1] != key:
            _close(out, acc)
            out.start.append(key)
            acc = [0, 0, 0.0, INF, -INF]
        acc[0] += count
        if value_count and mean is not None:
            acc[1] += value_count
            acc[2] += mean * value_count
            acc[3] = min(acc[3], lo if lo is not None else mean)
            acc[4] = max(acc[4], hi if hi is not None else mean)
    _close(out, acc)
    return out


def _close(out: Columns, acc: list[Any]) -> None:
    if acc:
        out.count.append(int(acc[0]))
        out.mean.append(acc[2] / acc[1] if acc[1] else None)
        out.min.append(acc[3] if acc[1] else None)
        out.max.append(acc[4] if acc[1] else None)


def columns(store: Any, entity_ids: list[str], start: dt.datetime, end: dt.datetime, bucket_s: int, parts: Parts,
            info: dict[str, Any] | None = None) -> dict[str, Columns]:
    """Chart buckets of each entity as columns. `parts(entity_ids, start, end, seconds, info)` is the backend's
    value summaries per entity and bucket of `seconds` (a bucket may have several); `info["resolution"]` says
    which tiers the raw part was read from (store/tiers.py)."""
    if bucket_s <= 0:
        raise ValueError("bucket_s must be positive")
    summarized = set(store.summarized_days(start, end))
    period = "day" if bucket_s % 86_400 == 0 else "hour"
    found: dict[str, list[Part]] = {entity_id: [] for entity_id in entity_ids}
    if summarized:
        for entity_id in entity_ids:
            found[entity_id] = [(t, a.count, a.value_count, a.mean, a.min, a.max)
                                for a in store.aggregates(entity_id, period, start, end)
                                if (t := to_micros(a.start)) // DAY_US * DAY_US in summarized]
    for entity_id, raw in parts(list(found), start, end, raw_unit(bucket_s), info).items():
        found[entity_id] += [p for p in raw if p[0] // DAY_US * DAY_US not in summarized] if summarized else raw
    return {entity_id: combine(kept, bucket_s) for entity_id, kept in found.items()}


def buckets(found: Columns) -> list[Bucket]:
    return [Bucket(from_micros(t), n, mean, lo, hi)
            for t, n, mean, lo, hi in zip(found.start, found.count, found.mean, found.min, found.max, strict=True)]


def period_seconds(period: str) -> int:
    return PERIOD_SECONDS[period]
