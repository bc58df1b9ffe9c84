"""Rollups: what `write` adds to the per-bucket summaries for each event it stores, and how partial
summaries combine. The same code sums raw events at query time, so a rollup and the raw answer to the same
question are computed alike (tests/store/test_rollup_exactness.py compares them).

Every contribution belongs to one event, so storing an event adds exactly its own, an event already stored
adds nothing, and a late event lands in its own buckets whenever it comes:
- per series and per dimension, in the event's 5-minute, hour, day and 16-day buckets (COARSE: a year's reads sum
  two dozen buckets per series, not 365 days): events, and the count, sum, min and max of state_value; the
  newest event's time (and, per series, its state_value: the newest event's, the greatest among events at the
  same time);
- per series and state (states that are not plain decimals: on, off, home, unavailable…), in hour, day and
  16-day buckets: events entering the state, events leaving it, the stays they end (duration_in_state: count,
  sum, min, max, in the bucket of the ending event), and the seconds of each stay [time - duration, time) that
  fall in each bucket (so a stay that ends here updates the buckets it covered, earlier ones included).
Which periods each table keeps is said once, here (SERIES_PERIODS, DIM_PERIODS, DEVICE_PERIODS, STATE_PERIODS).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import Any

from ingestor.store.blocks import decimal_parts

PERIODS = (300, 3600, 86_400)  # period code -> bucket width in seconds: 5 minutes, hour, day (InfluxDB's too)
COARSE = 3  # 16 days, whole days from the epoch: the SQL rollup tables' alone
WIDTHS = (*PERIODS, 16 * 86_400)  # period code -> bucket width in seconds, COARSE included
DAYS_PER_COARSE = WIDTHS[COARSE] // PERIODS[2]
# The periods each SQL rollup table keeps, finest first: `write` adds to them, a delete drops or sums them again,
# readers choose among them. The 16-day rows hold their days' sums (and no meter's rise: energy reads hours).
SERIES_PERIODS = (0, 1, 2, COARSE)  # rollups
DIM_PERIODS = (0, 1, 2, COARSE)  # dim_rollups, but the DEVICE dimension's
DEVICE_PERIODS = (1, 2, COARSE)  # devices are many, with few series each: no 5-minute rows (their series' answer)
STATE_PERIODS = (1, 2, COARSE)  # state_rollups
TABLE_PERIODS = {"rollups": SERIES_PERIODS, "dim_rollups": DIM_PERIODS, "state_rollups": STATE_PERIODS}
DIMS = ("all", "domain", "event_type", "area_id", "device_id")  # dimension code -> series field
DEVICE = 4  # the dimension with DEVICE_PERIODS
SERIES_POS = {"domain": 2, "event_type": 0, "area_id": 3, "device_id": 4, "entity_id": 1}
US = 1_000_000

_categorical: dict[str, bool] = {}
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}")
MAX_STATE = 64


def categorical(state: str | None) -> bool:
    """A state one stays in, which the state rollups keep: any but None, plain decimals and timestamps (a
    sensor's every value would be a group of its own, e.g. a meter's readings, a device's "last seen"),
    up to MAX_STATE characters."""
    if state is None:
        return False
    found = _categorical.get(state)
    if found is None:
        if len(_categorical) > 100_000:
            _categorical.clear()
        found = _categorical[state] = (len(state) <= MAX_STATE and decimal_parts(state) is None
                                       and not _TIMESTAMP.match(state))
    return found


# --- accumulators: plain lists, since millions of them are made ------------------------------------------
# value: [n, vn, vsum, vmin, vmax, last_ts, last_value]; state: [n, left, dn, dsum, dmin, dmax, secs]


def new_value() -> list[Any]:
    return [0, 0, None, None, None, -1, None]


def add_event(acc: list[Any], ts: int, value: float | None) -> None:
    acc[0] += 1
    if value is not None:
        acc[1] += 1
        acc[2] = value if acc[2] is None else acc[2] + value
        if acc[3] is None or value < acc[3]:
            acc[3] = value
        if acc[4] is None or value > acc[4]:
            acc[4] = value
    if ts > acc[5] or (ts == acc[5] and newer_value(value, acc[6])):
        acc[5], acc[6] = ts, value


def newer_value(candidate: float | None, held: float | None) -> bool:
    """Between events at the same time, the greatest value is the newest (None the least)."""
    return candidate is not None and (held is None or candidate > held)


def merge_value(acc: list[Any], other: list[Any] | tuple[Any, ...]) -> None:
    acc[0] += other[0]
    if other[1]:
        acc[1] += other[1]
        acc[2] = other[2] if acc[2] is None else acc[2] + other[2]
        if acc[3] is None or other[3] < acc[3]:
            acc[3] = other[3]
        if acc[4] is None or other[4] > acc[4]:
            acc[4] = other[4]
    last_value = other[6] if len(other) > 6 else None
    if other[5] > acc[5] or (other[5] == acc[5] and newer_value(last_value, acc[6])):
        acc[5], acc[6] = other[5], last_value


def new_state() -> list[Any]:
    return [0, 0, 0, None, None, None, 0.0]


def add_duration(acc: list[Any], duration: float) -> None:
    acc[1] += 1
    acc[2] += 1
    acc[3] = duration if acc[3] is None else acc[3] + duration
    if acc[4] is None or duration < acc[4]:
        acc[4] = duration
    if acc[5] is None or duration > acc[5]:
        acc[5] = duration


def merge_state(acc: list[Any], other: list[Any] | tuple[Any, ...]) -> None:
    acc[0] += other[0]
    acc[1] += other[1]
    if other[2]:
        acc[2] += other[2]
        acc[3] = other[3] if acc[3] is None else acc[3] + other[3]
        if acc[4] is None or other[4] < acc[4]:
            acc[4] = other[4]
        if acc[5] is None or other[5] > acc[5]:
            acc[5] = other[5]
    acc[6] += other[6]


def stay_seconds(ts: int, duration: float, start_us: int, end_us: int) -> float:
    """Seconds of the stay [ts - duration, ts) inside [start_us, end_us)."""
    began = ts - duration * US
    lo, hi = max(began, start_us), min(ts, end_us)
    return (hi - lo) / US if hi > lo else 0.0


def stay_buckets(ts: int, duration: float, width_s: int) -> Iterable[tuple[int, float]]:
    """(bucket, seconds) of the stay ending at `ts` for each bucket of `width_s` it covers."""
    width = width_s * US
    began = ts - duration * US
    first = math.floor(began / width)
    last = (ts - 1) // width if ts > began else first
    for bucket in range(first, last + 1):
        seconds = stay_seconds(ts, duration, bucket * width, (bucket + 1) * width)
        if seconds > 0:
            yield bucket, seconds


_FINES = tuple(width // PERIODS[0] for width in WIDTHS)  # period code -> 5-minute buckets in each of its buckets
_SERIES_COARSER = tuple(period for period in SERIES_PERIODS if period)  # merged from the 5-minute partials
_DIM_PERIODS_OF = tuple(DEVICE_PERIODS if dim == DEVICE else DIM_PERIODS for dim in range(len(DIMS)))


class Deltas:
    """What a set of events adds to the three rollup tables, keyed as their primary keys.

    Events are first summed per series and 5-minute bucket; the coarser buckets and the dimensions are then
    merged from those sums (`series`, `dims`), which for a batch is far fewer steps than adding each event to
    its two dozen buckets."""

    def __init__(self) -> None:
        self.fine: dict[tuple[int, int], list[Any]] = {}
        self.dims_of: dict[int, tuple[int, ...]] = {}
        self.states: dict[tuple[int, int, int, int], list[Any]] = {}
        self._series: dict[tuple[int, int, int], list[Any]] | None = None
        self._dims: dict[tuple[int, int, int, int], list[Any]] | None = None

    def __bool__(self) -> bool:
        return bool(self.fine or self.states)

    def add(self, sid: int, dim_keys: tuple[int, ...], ts: int, value: float | None, state_key: int | None,
            left_key: int | None, duration: float | None) -> None:
        """One event: `dim_keys` are its key in each dimension (DIMS order); `state_key` and `left_key` the
        ids of its state and old_state when categorical, else None."""
        self._series = self._dims = None
        seconds = ts // US
        acc = self.fine.get((sid, seconds // 300))
        if acc is None:
            acc = self.fine[(sid, seconds // 300)] = new_value()
            self.dims_of[sid] = dim_keys
        add_event(acc, ts, value)
        if state_key is None and left_key is None:
            return
        for period in STATE_PERIODS:
            width = WIDTHS[period]
            bucket = seconds // width
            if state_key is not None:
                self._state(sid, period, bucket, state_key)[0] += 1
            if left_key is not None:
                acc = self._state(sid, period, bucket, left_key)
                if duration is None:
                    acc[1] += 1
                    continue
                add_duration(acc, duration)
                for covered, secs in stay_buckets(ts, duration, width):
                    self._state(sid, period, covered, left_key)[6] += secs

    def _state(self, sid: int, period: int, bucket: int, key: int) -> list[Any]:
        acc = self.states.get((sid, period, bucket, key))
        if acc is None:
            acc = self.states[(sid, period, bucket, key)] = new_state()
        return acc

    def _merge(self) -> None:
        series: dict[tuple[int, int, int], list[Any]] = {}
        dims: dict[tuple[int, int, int, int], list[Any]] = {}
        get_series, get_dims = series.get, dims.get
        for (sid, fine), acc in self.fine.items():
            series[(sid, 0, fine)] = acc  # the 5-minute row is the partial itself
            buckets = [fine // per for per in _FINES]  # the partial's bucket in each period
            for period in _SERIES_COARSER:
                bucket = buckets[period]
                target = get_series((sid, period, bucket))
                if target is None:
                    series[(sid, period, bucket)] = acc[:]
                else:
                    merge_value(target, acc)
            for dim, key in enumerate(self.dims_of[sid]):
                for period in _DIM_PERIODS_OF[dim]:
                    bucket = buckets[period]
                    target = get_dims((dim, key, period, bucket))
                    if target is None:
                        dims[(dim, key, period, bucket)] = acc[:]
                    else:
                        merge_value(target, acc)
        self._series, self._dims = series, dims

    @property
    def series(self) -> dict[tuple[int, int, int], list[Any]]:
        if self._series is None:
            self._merge()
        return self._series  # type: ignore[return-value]

    @property
    def dims(self) -> dict[tuple[int, int, int, int], list[Any]]:
        if self._dims is None:
            self._merge()
        return self._dims  # type: ignore[return-value]


StateKey = Callable[[str], int]


def collect(events: Iterable[tuple[int, tuple[int, ...], int, float | None, str | None, str | None, float | None]],
            state_key: StateKey, deltas: Deltas | None = None) -> Deltas:
    """Deltas of (series id, dimension keys, ts, value, state, old_state, duration) events."""
    deltas = deltas or Deltas()
    for sid, dims, ts, value, state, old, duration in events:
        deltas.add(sid, dims, ts, value, state_key(state) if categorical(state) else None,  # type: ignore[arg-type]
                   state_key(old) if categorical(old) else None, duration)  # type: ignore[arg-type]
    return deltas


# --- SQL: adding deltas to the tables (ON CONFLICT works alike in SQLite and PostgreSQL) -----------------


def _least(column: str, table: str) -> str:
    return (f"CASE WHEN excluded.{column} IS NULL THEN {table}.{column} WHEN {table}.{column} IS NULL "
            f"OR excluded.{column} < {table}.{column} THEN excluded.{column} ELSE {table}.{column} END")


def _greatest(column: str, table: str) -> str:
    return (f"CASE WHEN excluded.{column} IS NULL THEN {table}.{column} WHEN {table}.{column} IS NULL "
            f"OR excluded.{column} > {table}.{column} THEN excluded.{column} ELSE {table}.{column} END")


def _sum(column: str, table: str) -> str:
    return (f"CASE WHEN excluded.{column} IS NULL THEN {table}.{column} WHEN {table}.{column} IS NULL "
            f"THEN excluded.{column} ELSE {table}.{column} + excluded.{column} END")


_NEWER = ("(excluded.last_ts > rollups.last_ts OR (excluded.last_ts = rollups.last_ts AND "
          "excluded.last_value IS NOT NULL AND (rollups.last_value IS NULL OR "
          "excluded.last_value > rollups.last_value)))")

UPSERT_SERIES = (
    "INSERT INTO rollups (series, period, bucket, n, vn, vsum, vmin, vmax, last_ts, last_value) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (series, period, bucket) DO UPDATE SET n = rollups.n + excluded.n, "
    "vn = rollups.vn + excluded.vn, "
    f"vsum = {_sum('vsum', 'rollups')}, vmin = {_least('vmin', 'rollups')}, vmax = {_greatest('vmax', 'rollups')}, "
    f"last_value = CASE WHEN {_NEWER} THEN excluded.last_value ELSE rollups.last_value END, "
    "last_ts = CASE WHEN excluded.last_ts > rollups.last_ts THEN excluded.last_ts ELSE rollups.last_ts END")

UPSERT_DIMS = (
    "INSERT INTO dim_rollups (dim, key, period, bucket, n, vn, vsum, vmin, vmax, last_ts) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (dim, key, period, bucket) DO UPDATE SET n = dim_rollups.n + excluded.n, "
    "vn = dim_rollups.vn + excluded.vn, "
    f"vsum = {_sum('vsum', 'dim_rollups')}, vmin = {_least('vmin', 'dim_rollups')}, "
    f"vmax = {_greatest('vmax', 'dim_rollups')}, "
    "last_ts = CASE WHEN excluded.last_ts > dim_rollups.last_ts THEN excluded.last_ts ELSE dim_rollups.last_ts END")

UPSERT_STATES = (
    'INSERT INTO state_rollups (series, period, bucket, state, n, "left", dn, dsum, dmin, dmax, secs) '
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (series, period, bucket, state) DO UPDATE SET n = state_rollups.n + excluded.n, "
    '"left" = state_rollups."left" + excluded."left", dn = state_rollups.dn + excluded.dn, '
    f"dsum = {_sum('dsum', 'state_rollups')}, dmin = {_least('dmin', 'state_rollups')}, "
    f"dmax = {_greatest('dmax', 'state_rollups')}, secs = state_rollups.secs + excluded.secs")


# The COARSE buckets [:lo, :hi) of each table summed again from their days' rows, where writes did not build them
# alike: schema steps 12 and 13 on rows written before them, a delete that cuts a bucket, a copied day
# (bench/daycopy.py). Counts, least and greatest are the days' own, the newest time the newest day's (as µs after the
# 16-day bucket's start) with its value; sums may differ from those writes add up in their last bits (another
# order). `{keys}` stands for a condition on the table's leading key columns (sqlwrite.coarse_again).
_DAYS = f"period = 2 AND bucket >= :lo * {DAYS_PER_COARSE} AND bucket < :hi * {DAYS_PER_COARSE}"
_COARSE_OF = f"bucket / {DAYS_PER_COARSE}"
_DAY_US = PERIODS[2] * US
COARSE_FROM_DAYS = {
    "rollups": (
        "INSERT INTO rollups (series, period, bucket, n, vn, vsum, vmin, vmax, last_ts, last_value) "
        f"SELECT g.series, {COARSE}, g.coarse, g.n, g.vn, g.vsum, g.vmin, g.vmax, "
        f"(g.day - g.coarse * {DAYS_PER_COARSE}) * {_DAY_US} + d.last_ts, d.last_value "
        f"FROM (SELECT series, {_COARSE_OF} AS coarse, max(bucket) AS day, sum(n) AS n, sum(vn) AS vn, "
        "sum(vsum) AS vsum, min(vmin) AS vmin, max(vmax) AS vmax FROM rollups "
        f"WHERE {{keys}} AND {_DAYS} GROUP BY series, {_COARSE_OF}) g "
        "JOIN rollups d ON d.series = g.series AND d.period = 2 AND d.bucket = g.day"),
    "dim_rollups": (
        "INSERT INTO dim_rollups (dim, key, period, bucket, n, vn, vsum, vmin, vmax, last_ts) "
        f"SELECT dim, key, {COARSE}, {_COARSE_OF}, sum(n), sum(vn), sum(vsum), min(vmin), max(vmax), "
        f"max((bucket - {_COARSE_OF} * {DAYS_PER_COARSE}) * {_DAY_US} + last_ts) FROM dim_rollups "
        f"WHERE {{keys}} AND {_DAYS} GROUP BY dim, key, {_COARSE_OF}"),
    "state_rollups": (
        'INSERT INTO state_rollups (series, period, bucket, state, n, "left", dn, dsum, dmin, dmax, secs) '
        f'SELECT series, {COARSE}, {_COARSE_OF}, state, sum(n), sum("left"), sum(dn), sum(dsum), '
        f"min(dmin), max(dmax), sum(secs) FROM state_rollups WHERE {{keys}} AND {_DAYS} "
        f"GROUP BY series, {_COARSE_OF}, state"),
}


def series_params(deltas: Deltas) -> list[tuple[Any, ...]]:
    """Rows of `rollups`; newest times as µs after their bucket's start."""
    return [(s, p, b, *acc[:5], acc[5] - b * WIDTHS[p] * US, acc[6]) for (s, p, b), acc in deltas.series.items()]


def dim_params(deltas: Deltas) -> list[tuple[Any, ...]]:
    return [(d, k, p, b, *acc[:5], acc[5] - b * WIDTHS[p] * US) for (d, k, p, b), acc in deltas.dims.items()]


def state_params(deltas: Deltas) -> list[tuple[Any, ...]]:
    return [(*key, *acc) for key, acc in deltas.states.items()]
