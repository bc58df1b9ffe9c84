"""The dataset's answers worked out in plain Python: what each query must return, independent of any store."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from ingestor.timeutil import parse_timestamp
from tests.store.rollup_model import kept_state

__all__ = ["counts", "kept_state", "matching", "whole_16_days"]


def matching(records: list[dict[str, Any]], start: dt.datetime | None = None, end: dt.datetime | None = None,
             q: str | None = None, **exact: Any) -> list[dict[str, Any]]:
    """Newest first, as the API pages them."""
    out = []
    for r in records:
        t = parse_timestamp(r["time_fired"])
        if (start and t < start) or (end and t >= end):
            continue
        if any(r.get(k) != v for k, v in exact.items()):
            continue
        if q and not any(q.lower() in (r.get(k) or "").lower() for k in ("friendly_name", "state")):
            continue
        out.append(r)
    return sorted(out, key=lambda r: (r["time_fired"], r["event_id"]), reverse=True)


def counts(records: list[dict[str, Any]], key: str) -> Counter[Any]:
    return Counter(r.get(key) for r in records)


def whole_16_days(t0: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """Four whole 16-day buckets from the epoch (the SQL stores' coarsest rollups) around the two days from `t0`."""
    width = 16 * 86_400
    first = int(t0.timestamp()) // width * width - 2 * width
    return dt.datetime.fromtimestamp(first, dt.UTC), dt.datetime.fromtimestamp(first + 4 * width, dt.UTC)
