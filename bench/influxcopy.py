"""Fill the past days of a scale-benchmark InfluxDB store by copying days it already holds, shifted by whole days.

Loading a day through `write` takes 100-140 s on the shared 2 cores (every batch's 5-minute buckets are summed
again from their raw points, bench/scale_benchmark.py), so 10 million events would take hours. A copy reads a
stored day's points once, every measurement (the events' and the rollups': rollup_*, stays_*) as line protocol,
and writes them to each target day with their times moved, in big batches: what `write` stored, not a
re-derivation of it. Field types come from SHOW FIELD KEYS, so a copy keeps them (InfluxDB keeps a field's first
type forever).

Moved with the day: every point's time; the rollups' `newest` (an event time in µs); context ids and parent ids
that are ULIDs (their first 10 characters: the creation time in ms), so a copied automation's trace finds the
copy's events. Kept: event ids (the same id appears on several days, as with bench/daycopy.py); the
`rollups_ready` marker and the retention summaries (aggregates_*) are not copied, nor the packed stays
(packed_stays_*: times inside a JSON field), which `fill` packs again from the copies' points afterwards
(InfluxEventStore.fill_stays). The packed sums and counts (packed_sums_*, packed_counts_*) are copied as the rollups
are: they hold no time but their points'.

What a copy does not reproduce: what crosses a day boundary follows the source day's neighbours (a day's first
change's duration_in_state and old_state, and a stay's bucket), as with bench/daycopy.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ingestor.store.influx import InfluxEventStore, _identifier, _rows
from ingestor.store.lineprotocol import _escape_tag, _string
from ingestor.store.model import StoreUnavailable

DAY_US = 86_400_000_000
DAY_MS = 86_400_000
BATCH = 50_000  # lines a /write carries
BATCH_BYTES = 10_000_000  # and bytes, about (InfluxDB's default max-body-size is 25 MB)
RETRIES = 3
SKIPPED = ("rollups_ready", "aggregates_", "packed_stays")
MOVED = frozenset({"newest", "context_id", "context_parent_id"})
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_DIGITS = {c: i for i, c in enumerate(_CROCKFORD)}


def shift_ulid(value: str, shift_ms: int) -> str:
    """A ULID with its time moved by `shift_ms`; anything else unchanged."""
    if len(value) != 26 or any(c not in _DIGITS for c in value[:10]):
        return value
    millis = 0
    for char in value[:10]:
        millis = millis * 32 + _DIGITS[char]
    millis += shift_ms
    if not 0 <= millis < 32**10:
        return value
    head = "".join(_CROCKFORD[(millis >> (5 * i)) & 31] for i in range(9, -1, -1))
    return head + value[10:]


def _field(name: str, kind: str, value: Any) -> str:
    if kind == "integer":
        return f"{name}={int(value)}i"
    if kind == "float":
        return f"{name}={float(value)!r}"
    if kind == "boolean":
        return f"{name}={'true' if value else 'false'}"
    return f"{name}={_string(str(value))}"


def _moved(name: str, value: Any, shift_us: int) -> str:
    """A field that moves with the day: `newest` (µs), a ULID context or parent id (its ms)."""
    if name == "newest":
        return f"newest={int(value) + shift_us}i"
    return f"{name}={_string(shift_ulid(str(value), shift_us // 1000))}"


class DayPoints:
    """One stored day's points, every measurement but the marker and retention summaries, as line protocol
    whose times (and the fields that move with them) are filled in for the day it is written at."""

    def __init__(self, store: InfluxEventStore, day: int) -> None:
        self.day = day
        # (measurement and tags, the fields that stay, [(field, value)] that move, time µs)
        self.rows: list[tuple[str, str, list[tuple[str, Any]], int]] = []
        for name in [n for n in store._measurements() if not n.startswith(SKIPPED)]:
            kinds = {c["fieldKey"]: c["fieldType"] for _, _, c in _rows(store._select(
                f"SHOW FIELD KEYS FROM {_identifier(name)}"))}
            for s in self._series(store, name, day):
                columns = s["columns"]
                head = name.replace(",", r"\,").replace(" ", r"\ ") + "".join(
                    f",{_escape_tag(k)}={_escape_tag(v)}" for k, v in sorted((s.get("tags") or {}).items()) if v)
                fixed = [(i, c, kinds.get(c, "string")) for i, c in enumerate(columns)
                         if c != "time" and c not in MOVED]
                moving = [(i, c) for i, c in enumerate(columns) if c in MOVED]
                for v in s.get("values", []):
                    body = ",".join(_field(c, k, v[i]) for i, c, k in fixed if v[i] is not None)
                    self.rows.append((head, body, [(c, v[i]) for i, c in moving if v[i] is not None], int(v[0])))

    @staticmethod
    def _series(store: InfluxEventStore, name: str, day: int) -> list[dict[str, Any]]:
        """The day's points of one measurement, read an hour at a time (a day of events at once outlasts a
        request's timeout)."""
        hour_ns = 3_600_000_000_000
        return [s for start in range(day * DAY_US * 1000, (day + 1) * DAY_US * 1000, hour_ns)
                for s in store._select(f"SELECT * FROM {_identifier(name)} WHERE time >= {start} "
                                       f"AND time < {start + hour_ns} GROUP BY *")]

    def lines(self, target: int) -> list[str]:
        shift_us = (target - self.day) * DAY_US
        return [f"{head} {','.join([*([body] if body else []), *(_moved(c, v, shift_us) for c, v in moving)])} "
                f"{ts + shift_us}" for head, body, moving, ts in self.rows]


def batches(lines: list[str], most: int = BATCH, most_bytes: int = BATCH_BYTES) -> list[str]:
    """The lines joined into bodies of at most `most` lines and about `most_bytes` bytes: InfluxDB refuses a
    body over its max-body-size (25 MB unless configured: 50,000 events' lines with their attributes reach it)."""
    out: list[str] = []
    body: list[str] = []
    size = 0
    for line in lines:
        if body and (len(body) >= most or size + len(line) > most_bytes):
            out.append("\n".join(body))
            body, size = [], 0
        body.append(line)
        size += len(line) + 1
    return [*out, "\n".join(body)] if body else out


def copy_day(store: InfluxEventStore, source: DayPoints, target: int) -> int:
    """Write `source`'s points at `target`, in batches of BATCH lines and BATCH_BYTES; returns the lines written."""
    lines = source.lines(target)
    for body in batches(lines):
        for attempt in range(RETRIES):  # a busy InfluxDB can stall a write (a compaction): rewriting is harmless
            try:
                store.transport.write(body)
                break
            except StoreUnavailable:
                if attempt == RETRIES - 1:
                    raise
                time.sleep(5)
    return len(lines)


def fill(store: InfluxEventStore, todo: list[int], sources: list[int], source_of: Callable[[int, list[int]], int],
         log: Callable[[str], None]) -> int:
    """Copy the `sources` days into every day of `todo`, then pack the stays of the store's days again (packs
    are not copied); returns the points written. Each source day is read once and written to all its targets
    before the next is read (one day's points in memory)."""
    if not sources:
        raise SystemExit("no stored day to copy: load some days first")
    log(f"copying {len(sources)} stored days into {len(todo)} empty days")
    began, total, n = time.perf_counter(), 0, 0
    for source in reversed(sources):  # one source day in memory at a time, its copies newest first
        targets = [t for t in todo if source_of(t, sources) == source]
        if not targets:
            continue
        started = time.perf_counter()
        points = DayPoints(store, source)
        log(f"read day {source}: {len(points.rows):,} points in {time.perf_counter() - started:.1f} s")
        for target in targets:
            started = time.perf_counter()
            total += copy_day(store, points, target)
            n += 1
            spent = time.perf_counter() - began
            log(f"copied {n} of {len(todo)} days (day {target} from {source}) in "
                f"{time.perf_counter() - started:.1f} s: {total:,} points in {spent / 60:.1f} min")
    started = time.perf_counter()
    packed = sum(1 for _ in store.fill_stays())
    log(f"stays of {packed} days packed in {time.perf_counter() - started:.1f} s")
    return total

