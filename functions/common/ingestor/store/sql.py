"""The event store on SQLite (the embedded default, WAL) or PostgreSQL, through SQLAlchemy Core.

Every user value reaches SQL as a bound parameter; text search escapes LIKE's wildcards.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, select, text, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError

from ingestor import jsoncodec
from ingestor.record import FIELDS
from ingestor.store import cursor as cursors
from ingestor.store import series as series_
from ingestor.store.migrate import upgrade
from ingestor.store.model import (
    Aggregate,
    Bucket,
    DurationSample,
    DurationStat,
    EventFilter,
    GroupBy,
    Health,
    Page,
    StoreError,
    StoreUnavailable,
)
from ingestor.store.sqlengine import engine_for, safe_url
from ingestor.store.sqlschema import MIGRATIONS, aggregates, events
from ingestor.store.timerange import from_micros, to_micros
from ingestor.timeutil import format_timestamp, parse_timestamp

ANALYZE_EVERY_S = 3600
ANALYZE_EVERY_ROWS = 100_000
_JSON_COLUMNS = ("attributes", "weather", "data")
_RECORD_KEYS = frozenset(FIELDS)  # the other context sources go to the JSON column `extra`
_PLAIN_COLUMNS = tuple(f for f in FIELDS if f not in (*_JSON_COLUMNS, "time_fired", "context"))


def to_row(record: dict[str, Any]) -> dict[str, Any]:
    context = record.get("context") or {}
    row = {name: record.get(name) for name in _PLAIN_COLUMNS}
    row.update({name: None if record.get(name) is None else jsoncodec.dumps(record[name]).decode()
                for name in _JSON_COLUMNS})
    row["ts"] = to_micros(parse_timestamp(record["time_fired"]))
    row["context_id"] = context.get("id")
    row["context_parent_id"] = context.get("parent_id")
    row["context_user_id"] = context.get("user_id")
    extra = {k: v for k, v in record.items() if k not in _RECORD_KEYS}
    row["extra"] = jsoncodec.dumps(extra).decode() if extra else None
    return row


def from_row(row: Any) -> dict[str, Any]:
    values = row._mapping
    record = {name: values[name] for name in _PLAIN_COLUMNS}
    record["time_fired"] = format_timestamp(from_micros(values["ts"]))
    record["context"] = {"id": values["context_id"], "parent_id": values["context_parent_id"],
                         "user_id": values["context_user_id"]}
    for name in _JSON_COLUMNS:
        record[name] = None if values[name] is None else jsoncodec.loads(values[name])
    if record["attributes"] is None:
        record["attributes"] = {}
    if values["extra"]:
        record.update(jsoncodec.loads(values["extra"]))
    return record


class SqlEventStore:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = engine_for(url)
        self.backend = self.engine.dialect.name
        dialect = sqlite if self.backend == "sqlite" else postgresql
        self._insert = dialect.insert(events)
        self._insert_aggregates = dialect.insert(aggregates)
        self._ready = False
        self._analyzed_at = float("-inf")
        self._written_since_analyze = 0

    def _prepare(self) -> None:
        if not self._ready:
            upgrade(self.engine, MIGRATIONS)
            self._ready = True
        self._analyze_now_and_then()

    def _analyze_now_and_then(self) -> None:
        """SQLite plans with statistics only ANALYZE gathers (PostgreSQL's autovacuum does this itself):
        without them, or with ones taken when the table was small, a 24-hour count reads the whole
        history. So: at start, hourly, and after every ANALYZE_EVERY_ROWS rows written; bounded sampling
        keeps each run quick."""
        if self.backend != "sqlite" or (time.monotonic() - self._analyzed_at < ANALYZE_EVERY_S
                                        and self._written_since_analyze < ANALYZE_EVERY_ROWS):
            return
        self._analyzed_at = time.monotonic()
        self._written_since_analyze = 0
        with self.engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA analysis_limit=1000")
            conn.exec_driver_sql("ANALYZE events")

    def _guard(self, exc: DBAPIError) -> StoreError:
        if isinstance(exc, OperationalError) or exc.connection_invalidated:
            return StoreUnavailable(f"{self.backend} unavailable: {type(exc.orig).__name__}")
        return StoreError(f"{self.backend} refused the operation: {type(exc.orig).__name__}")

    # --- writing -------------------------------------------------------------------------------

    def write(self, records: list[dict[str, Any]]) -> None:
        """Insert a batch in one transaction; an event_id already stored is left as it is."""
        if not records:
            return
        rows = [to_row(r) for r in records]
        try:
            self._prepare()
            with self.engine.begin() as conn:
                conn.execute(self._insert.on_conflict_do_nothing(index_elements=["event_id"]), rows)
            self._written_since_analyze += len(rows)
        except DBAPIError as exc:
            raise self._guard(exc) from exc

    def delete(self, start: Any, end: Any) -> int:
        try:
            self._prepare()
            with self.engine.begin() as conn:
                result = conn.execute(delete(events).where(events.c.ts >= to_micros(start),
                                                           events.c.ts < to_micros(end)))
            return int(result.rowcount or 0)
        except DBAPIError as exc:
            raise self._guard(exc) from exc

    # --- reading -------------------------------------------------------------------------------

    def _where(self, f: EventFilter) -> list[ColumnElement[bool]]:
        c = events.c
        clauses: list[ColumnElement[bool]] = []
        if f.start is not None:
            clauses.append(c.ts >= to_micros(f.start))
        if f.end is not None:
            clauses.append(c.ts < to_micros(f.end))
        for name in ("entity_id", "domain", "event_type", "area_id", "device_id", "state", "old_state"):
            value = getattr(f, name)
            if value is not None:
                clauses.append(c[name] == value)
        if f.text:
            clauses.append(or_(c.friendly_name.icontains(f.text, autoescape=True),
                               c.state.icontains(f.text, autoescape=True)))
        return clauses

    def _rows(self, statement: Any) -> list[Any]:
        try:
            self._prepare()
            with self.engine.connect() as conn:
                return list(conn.execute(statement))
        except DBAPIError as exc:
            raise self._guard(exc) from exc

    def query(self, f: EventFilter, limit: int = 100, cursor: str | None = None) -> Page:
        """Newest first; `cursor` continues after the last item of the previous page."""
        clauses = self._where(f)
        if cursor:  # a row-value comparison, which both databases answer from the time index
            clauses.append(tuple_(events.c.ts, events.c.event_id) < tuple_(*cursors.decode(cursor)))
        rows = self._rows(select(events).where(*clauses)
                          .order_by(events.c.ts.desc(), events.c.event_id.desc()).limit(limit + 1))
        items = [from_row(r) for r in rows[:limit]]
        more = len(rows) > limit
        return Page(items, cursors.encode(rows[limit - 1].ts, rows[limit - 1].event_id) if more else None)

    def count(self, f: EventFilter) -> int:
        return int(self._rows(select(func.count()).select_from(events).where(*self._where(f)))[0][0])

    def counts(self, f: EventFilter, by: GroupBy, limit: int = 20) -> list[tuple[str | None, int]]:
        column = events.c[by]
        n = func.count().label("n")
        rows = self._rows(select(column, n).where(*self._where(f)).group_by(column)
                          .order_by(n.desc(), column).limit(limit))
        return [(r[0], int(r[1])) for r in rows]

    def buckets(self, f: EventFilter, seconds: int) -> list[Bucket]:
        """Counts and state_value mean/min/max per time bucket, aligned to the epoch (UTC days)."""
        return [Bucket(a.start, a.count, a.mean, a.min, a.max) for a in self.stats(f, seconds)]

    def by_context(self, context_id: str) -> list[dict[str, Any]]:
        """Events caused in the context `context_id`, oldest first."""
        rows = self._rows(select(events).where(events.c.context_id == context_id).order_by(events.c.ts))
        return [from_row(r) for r in rows]

    def by_parent(self, parent_id: str) -> list[dict[str, Any]]:
        """Events whose context's parent is `parent_id` (what an automation run caused), oldest first."""
        rows = self._rows(select(events).where(events.c.context_parent_id == parent_id).order_by(events.c.ts))
        return [from_row(r) for r in rows]

    def durations(self, f: EventFilter, limit: int = 50) -> list[DurationStat]:
        """How long entities stayed in each state: per (entity, state left), longest total first."""
        c = events.c
        total = func.sum(c.duration_in_state).label("total")
        rows = self._rows(
            select(c.entity_id, c.old_state, func.count(c.duration_in_state), func.avg(c.duration_in_state),
                   func.min(c.duration_in_state), func.max(c.duration_in_state), total)
            .where(*self._where(f), c.duration_in_state.is_not(None))
            .group_by(c.entity_id, c.old_state).order_by(total.desc(), c.entity_id, c.old_state).limit(limit))
        return [DurationStat(r[0], r[1], int(r[2]), float(r[3]), float(r[4]), float(r[5]), float(r[6])) for r in rows]

    def duration_samples(self, f: EventFilter, limit: int = 50_000) -> list[DurationSample]:
        """Single durations (not aggregated) for percentile-based analytics, newest first, at most `limit`."""
        c = events.c
        rows = self._rows(select(c.event_id, c.entity_id, c.old_state, c.ts, c.duration_in_state)
                          .where(*self._where(f), c.duration_in_state >= 0)
                          .order_by(c.ts.desc(), c.event_id.desc()).limit(limit))
        return [DurationSample(r[0], r[1] or "", r[2], from_micros(int(r[3])), float(r[4])) for r in rows]

    def grid(self, f: EventFilter, by: GroupBy, seconds: int) -> list[tuple[str | None, Any, int]]:
        """Event counts per (value of `by`, epoch-aligned bucket): a heatmap in one scan; by bucket, then key
        (None, for events without a value, first)."""
        width = int(seconds) * 1_000_000
        column = events.c[by]
        bucket = ((events.c.ts // width) * width).label("bucket")
        cells: dict[tuple[str | None, int], int] = {}
        for r in self._rows(select(column, bucket, func.count()).where(*self._where(f))
                            .group_by(column, text("bucket"))):
            key = (r[0] or None, int(r[1]))  # "" is no value, as in InfluxDB's tags
            cells[key] = cells.get(key, 0) + int(r[2])
        ordered = sorted(cells.items(), key=lambda kv: (kv[0][1], kv[0][0] is not None, kv[0][0] or ""))
        return [(key, from_micros(t), n) for (key, t), n in ordered]

    def last_seen(self, f: EventFilter, by: GroupBy, limit: int = 1000) -> list[tuple[str | None, Any]]:
        """The time of the newest matching event per value of `by`, most recent first."""
        column = events.c[by]
        newest = func.max(events.c.ts).label("newest")
        rows = self._rows(select(column, newest).where(*self._where(f)).group_by(column)
                          .order_by(newest.desc(), column).limit(limit))
        return [(r[0], from_micros(int(r[1]))) for r in rows]

    def export(self, start: Any, end: Any, batch: int = 5000) -> Iterator[list[dict[str, Any]]]:
        """The events of [start, end) oldest first, in lists of `batch`, without holding them all."""
        last: tuple[int, str] | None = None
        while True:
            clauses = [events.c.ts >= to_micros(start), events.c.ts < to_micros(end)]
            if last:
                clauses.append(tuple_(events.c.ts, events.c.event_id) > tuple_(*last))
            rows = self._rows(select(events).where(*clauses).order_by(events.c.ts, events.c.event_id).limit(batch))
            if not rows:
                return
            yield [from_row(r) for r in rows]
            last = (rows[-1].ts, rows[-1].event_id)

    # --- aggregates (retention-archive's summaries of pruned days) ----------------------------------

    def write_aggregates(self, rows: list[Aggregate]) -> None:
        """Upsert on (entity_id, period, start): writing the same summaries again changes nothing."""
        if not rows:
            return
        values = [{"entity_id": a.entity_id, "period": a.period, "start_ts": to_micros(a.start), "count": a.count,
                   "value_count": a.value_count, "mean": a.mean, "min": a.min, "max": a.max} for a in rows]
        insert = self._insert_aggregates
        upsert = insert.on_conflict_do_update(
            index_elements=["entity_id", "period", "start_ts"],
            set_={name: insert.excluded[name] for name in ("count", "value_count", "mean", "min", "max")})
        try:
            self._prepare()
            with self.engine.begin() as conn:
                conn.execute(upsert, values)
        except DBAPIError as exc:
            raise self._guard(exc) from exc

    def aggregates(self, entity_id: str | None, period: str, start: Any, end: Any) -> list[Aggregate]:
        """Summaries of `period` starting in [start, end), oldest first; every entity when entity_id is None."""
        a = aggregates.c
        clauses = [a.period == period, a.start_ts >= to_micros(start), a.start_ts < to_micros(end)]
        if entity_id is not None:
            clauses.append(a.entity_id == entity_id)
        rows = self._rows(select(aggregates).where(*clauses).order_by(a.start_ts, a.entity_id))
        return [Aggregate(m["entity_id"], m["period"], from_micros(m["start_ts"]), int(m["count"]),
                          int(m["value_count"]), _float(m["mean"]), _float(m["min"]), _float(m["max"]))
                for m in (r._mapping for r in rows)]

    def delete_aggregates(self, period: str, before: Any) -> int:
        """Drop summaries older than the long-retention window."""
        try:
            self._prepare()
            with self.engine.begin() as conn:
                result = conn.execute(delete(aggregates).where(aggregates.c.period == period,
                                                               aggregates.c.start_ts < to_micros(before)))
            return int(result.rowcount or 0)
        except DBAPIError as exc:
            raise self._guard(exc) from exc

    def summarized_days(self, start: Any, end: Any) -> list[int]:
        """Starts (microseconds) of the UTC days in [start, end) that have daily summaries."""
        day_start = to_micros(start) // series_.DAY_US * series_.DAY_US
        a = aggregates.c
        rows = self._rows(select(a.start_ts).distinct().where(a.period == "day", a.start_ts >= day_start,
                                                              a.start_ts < to_micros(end)))
        return [int(r[0]) for r in rows]

    def stats(self, f: EventFilter, seconds: int) -> list[Aggregate]:
        """Like buckets, with the count of numeric values the mean is over (so partial results combine)."""
        width = int(seconds) * 1_000_000
        start = ((events.c.ts // width) * width).label("bucket")
        v = events.c.state_value
        rows = self._rows(select(start, func.count(), func.count(v), func.avg(v), func.min(v), func.max(v))
                          .where(*self._where(f)).group_by(text("bucket")).order_by(text("bucket")))
        return [Aggregate(f.entity_id or "", f"{seconds}s", from_micros(int(r[0])), int(r[1]), int(r[2]),
                          _float(r[3]), _float(r[4]), _float(r[5])) for r in rows]

    def series(self, entity_id: str, start: Any, end: Any, bucket_s: int) -> list[Bucket]:
        """Chart buckets of one entity over any range: raw rows, or the summaries of pruned days."""
        return series_.series(self, entity_id, start, end, bucket_s)

    def health(self) -> Health:
        started = time.perf_counter()
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except DBAPIError as exc:
            return Health("unavailable", self.backend, reason=str(self._guard(exc)),
                          details={"url": safe_url(self.url)})
        return Health("ok", self.backend, round((time.perf_counter() - started) * 1000, 2),
                      details={"url": safe_url(self.url)})

    def close(self) -> None:
        self.engine.dispose()


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
