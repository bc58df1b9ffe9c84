"""The event store's one interface: what every backend (SQL, InfluxDB) answers, whatever it stores underneath.

Callers (write, the queries, retention-archive, health) are typed against `EventStore` and get one from
`ingestor.store.open_event_store(url)`; a backend's own layout (tables, measurements, tiers) stays inside it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

from ingestor.store.model import (
    Aggregate,
    Bucket,
    Change,
    Columns,
    DurationStat,
    EventFilter,
    GroupBy,
    Health,
    Page,
    Rises,
    StayGroup,
    Totals,
)


@runtime_checkable
class EventStore(Protocol):
    backend: str
    """sqlite, postgresql, influxdb1 or influxdb2."""

    # writing: idempotent on event_id; StoreUnavailable while the store cannot be reached, StoreError on refusal
    def write(self, records: list[dict[str, Any]]) -> None: ...
    def delete(self, start: dt.datetime, end: dt.datetime) -> int: ...

    # reading. The aggregates take `info`: given a dict, they put in it the tiers that answered
    # ("resolution": "1d+1h+5m+raw", store/tiers.py), which the query API returns beside the answer.
    def query(self, f: EventFilter, limit: int = 100, cursor: str | None = None) -> Page: ...
    def count(self, f: EventFilter, info: dict[str, Any] | None = None) -> int: ...
    def counts(self, f: EventFilter, by: GroupBy, limit: int = 20,
               info: dict[str, Any] | None = None) -> list[tuple[str | None, int]]: ...
    def tallies(self, f: EventFilter, limits: dict[GroupBy, int],
                info: dict[str, Any] | None = None) -> tuple[int, dict[GroupBy, list[tuple[str | None, int]]]]: ...
    """count and counts by each grouping of `limits` (its top `limit`), in one read: the stats summary's questions,
    whose raw edges the SQL store reads once for all of them."""
    def buckets(self, f: EventFilter, seconds: int, info: dict[str, Any] | None = None,
                values: bool = True) -> list[Bucket]: ...
    """Per bucket of `seconds`: count, and mean/min/max of state_value unless `values` is False (counts only:
    a chart of several entities, whose values would mix units; the SQL store then reads no value at the
    range's raw edges)."""
    def stats(self, f: EventFilter, seconds: int, info: dict[str, Any] | None = None) -> list[Aggregate]: ...
    """Per bucket of `seconds`: count, value count, mean/min/max of state_value; hourly and daily buckets of
    whole hours and days come from the rollups (what energy analytics reads)."""
    def series(self, entity_id: str, start: dt.datetime, end: dt.datetime, bucket_s: int,
               info: dict[str, Any] | None = None) -> list[Bucket]: ...
    def series_columns(self, entity_ids: list[str], start: dt.datetime, end: dt.datetime, bucket_s: int,
                       info: dict[str, Any] | None = None) -> dict[str, Columns]: ...
    """`series` of each entity (every one asked is in the answer), as columns: for reads of many buckets."""
    def meter_totals(self, weights: dict[str, float], start: dt.datetime, end: dt.datetime,
                     info: dict[str, Any] | None = None) -> Totals | None: ...
    def meter_rises(self, entity_ids: list[str], start: dt.datetime, end: dt.datetime,
                    hours_of_day: set[int] | None = None,
                    info: dict[str, Any] | None = None) -> dict[str, Rises] | None: ...
    def hourly_means(self, entity_ids: list[str], start: dt.datetime, end: dt.datetime,
                     info: dict[str, Any] | None = None) -> dict[str, dict[int, float]] | None: ...
    """Energy meters' rises kept in the rollups (store/rise.py) per whole hour of the range: summed over the meters
    (times their weights), or each meter's. None where the store does not keep them for this question (then the
    readings' min and max per hour answer: ingestor.energy.reading). `hourly_means`: each entity's mean per whole
    hour that has one (the mean `series_columns` gives), or None where that reads them (as with the rises)."""
    def states(self, entity_id: str, start: dt.datetime, end: dt.datetime) -> list[tuple[int, str | None]] | None: ...
    """(time µs, state) of an entity's events in [start, end), oldest first, without building records; None where
    the store would not read them faster than its records (then a caller pages through `query`)."""
    def changes(self, entity_id: str, start: dt.datetime, end: dt.datetime,
                limit: int) -> list[Change] | None: ...
    """(time µs, state, old_state, duration_in_state) of an entity's newest `limit` state changes in [start, end),
    oldest first: what `query` gives of them, without building records; None where the store would not read
    them faster than its records (then a caller reads `query`)."""
    def by_context(self, context_id: str) -> list[dict[str, Any]]: ...
    def by_parent(self, parent_id: str) -> list[dict[str, Any]]: ...
    def durations(self, f: EventFilter, limit: int = 50, info: dict[str, Any] | None = None) -> list[DurationStat]: ...
    def stay_groups(self, f: EventFilter, limit: int = 50_000) -> list[StayGroup]: ...
    """The newest `limit` single stays (duration_in_state >= 0, newest by time, then event id) in states the
    state rollups keep, grouped by entity and state left: the raw material of the duration anomalies."""
    def grid(self, f: EventFilter, by: GroupBy, seconds: int,
             info: dict[str, Any] | None = None) -> list[tuple[str | None, Any, int]]: ...
    def last_seen(self, f: EventFilter, by: GroupBy, limit: int = 1000,
                  info: dict[str, Any] | None = None) -> list[tuple[str | None, Any]]: ...
    def activity(self, f: EventFilter, by: GroupBy,
                 info: dict[str, Any] | None = None) -> dict[str | None, tuple[int, dt.datetime]]: ...
    """Per value of `by` with matching events: their count and the newest one's time (`counts` and `last_seen`
    of every value together, in one read of the range's raw edges: what a device's reliability needs)."""
    def export(self, start: dt.datetime, end: dt.datetime, batch: int = 5000) -> Iterator[list[dict[str, Any]]]: ...

    # the summaries retention-archive keeps of pruned days
    def write_aggregates(self, rows: list[Aggregate]) -> None: ...
    def aggregates(self, entity_id: str | None, period: str, start: dt.datetime,
                   end: dt.datetime) -> list[Aggregate]: ...
    def delete_aggregates(self, period: str, before: dt.datetime) -> int: ...
    def summarized_days(self, start: dt.datetime, end: dt.datetime) -> list[int]: ...

    def health(self) -> Health: ...
    def close(self) -> None: ...
