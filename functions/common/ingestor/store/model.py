"""What every event-store backend answers, independent of how it stores it."""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from ingestor import errors
from ingestor.store.timerange import from_micros

GroupBy = Literal["domain", "event_type", "entity_id", "area_id", "device_id"]
GROUPS: tuple[str, ...] = ("domain", "event_type", "entity_id", "area_id", "device_id")


class StoreError(errors.Problem):
    """The store refused an operation: a bug or bad data, not worth retrying."""

    default_code = "store_error"


class StoreUnavailable(StoreError, errors.Unavailable):
    """The store cannot be reached right now; the caller should retry later."""

    default_code = "unavailable"


@dataclass(frozen=True)
class EventFilter:
    """Which events a read concerns. Every value is bound or escaped by the backend."""

    start: dt.datetime | None = None
    end: dt.datetime | None = None  # exclusive
    entity_id: str | None = None
    domain: str | None = None
    event_type: str | None = None
    area_id: str | None = None
    device_id: str | None = None
    text: str | None = None  # case-insensitive substring of friendly_name or state
    state: str | None = None  # exact new state
    old_state: str | None = None  # exact state left


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


@dataclass(frozen=True)
class Bucket:
    start: dt.datetime
    count: int
    mean: float | None
    min: float | None
    max: float | None


@dataclass(frozen=True)
class Columns:
    """One entity's chart buckets as columns, oldest first: what a read of thousands of buckets returns (a year
    of hours is 8,760 per series) without a datetime and an object per bucket. `start` is µs since the epoch;
    mean/min/max are None where the bucket has no numeric value."""

    start: list[int]
    count: list[int]
    mean: list[float | None]
    min: list[float | None]
    max: list[float | None]


@dataclass(frozen=True)
class DurationStat:
    entity_id: str
    state: str | None
    count: int
    mean: float
    min: float
    max: float
    total: float


Change = tuple[int, str | None, str | None, float | None]
"""One state change as a history's timeline needs it: (time µs, state, old_state, duration_in_state)."""


class StayGroup:
    """The stays of one entity in one state (the state they left) among the newest a read took: their durations
    (s) and times (µs) side by side, in no particular order (a median and its outliers need no order, and
    putting 50,000 stays in time order was most of their read).

    An answer names a few of them, so a stay's event id is worked out only when `event_id` is asked for: a
    compressed state change's id is a hash (~25 µs). The ids come in chunks, as the read found the stays (a
    block's, a day's hot rows): `add` takes a chunk's durations and times and how to find the id of its j-th
    stay (the id, its 16 bytes)."""

    __slots__ = ("entity_id", "state", "durations", "times", "_starts", "_ids")

    def __init__(self, entity_id: str, state: str) -> None:
        self.entity_id, self.state = entity_id, state
        self.durations: list[float] = []
        self.times: list[int] = []
        self._starts: list[int] = []
        self._ids: list[Callable[[int], str | bytes]] = []

    def add(self, durations: list[float], times: list[int], ids: Callable[[int], str | bytes]) -> None:
        self._starts.append(len(self.durations))
        self._ids.append(ids)
        self.durations += durations
        self.times += times

    def event_id(self, k: int) -> str:
        """The event id of the k-th stay (of `durations` and `times`)."""
        ids, j = self.chunk(k)
        found = ids(j)
        return found if isinstance(found, str) else found.hex()

    def chunk(self, k: int) -> tuple[Callable[[int], str | bytes], int]:
        """How to find the k-th stay's id, and its place in its chunk."""
        chunk = bisect.bisect_right(self._starts, k) - 1
        return self._ids[chunk], k - self._starts[chunk]

    def time(self, k: int) -> dt.datetime:
        return from_micros(self.times[k])


def prefetch_ids(stays: Iterable[tuple[StayGroup, int]]) -> None:
    """Have the ids of these (group, k) stays looked up together where their chunks look them up in the store
    (InfluxDB's packed stays: a chunk with a `source` that `fetch`es many by `key(j)` at once) before
    `event_id` asks them one at a time; ids worked out in process (the SQL stores') need nothing."""
    wanted: dict[Any, list[Any]] = {}
    for group, k in stays:
        ids, j = group.chunk(k)
        source = getattr(ids, "source", None)
        if source is not None:
            wanted.setdefault(source, []).append(ids.key(j))  # type: ignore[attr-defined]
    for source, keys in wanted.items():
        source.fetch(keys)


@dataclass(frozen=True)
class Health:
    status: Literal["ok", "unavailable"]
    backend: str
    latency_ms: float | None = None
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


Period = Literal["hour", "day"]
PERIOD_SECONDS: dict[str, int] = {"hour": 3600, "day": 86400}


@dataclass(frozen=True)
class Aggregate:
    """Summary of one entity's events in one period (an hour or a UTC day), kept after raw rows are pruned.

    `count` counts events; `value_count` those with a numeric state_value, which mean/min/max describe
    (None when there is none). Events without an entity are summarized under entity_id "".
    """

    entity_id: str
    period: str
    start: dt.datetime
    count: int
    value_count: int
    mean: float | None
    min: float | None
    max: float | None


@dataclass(frozen=True)
class Totals:
    """Meters' hours as columns: µs of each hour's start, weighted rises summed, meters with a reading, and
    meters with a reading in the hour before (up to the range's start, in its first hour)."""

    start: list[int]
    energy: list[float]
    meters: list[int]
    before: list[int]


@dataclass(frozen=True)
class Rises:
    """One meter's hours as columns: µs of each hour's start, its rise, and whether the hour before has a
    reading (the hour's rise is then its own, not what the meter rose over several)."""

    start: list[int]
    energy: list[float]
    read_before: list[bool]
