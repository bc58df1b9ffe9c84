"""The event store on SQLite (the embedded default, WAL) or PostgreSQL, through SQLAlchemy Core.

The tiered layout (sqlschema.py, docs/design.md "Stores"): new events go to the hot tier with their rollups
in one transaction; days over for an hour are compacted into column blocks (compaction.py) a little
after each write; reads take raw events from both tiers (sqlread.py) and aggregates from the rollups where
whole buckets allow (sqlagg.py). Every user value reaches SQL as a bound parameter; text search escapes
LIKE's wildcards.

Writers take the store's write lock for each transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory
lock), so the check for events already stored and the insert cannot interleave with another writer's.
Reads run in one snapshot (SQLite's WAL read transaction; PostgreSQL REPEATABLE READ), so an event that
compaction moves between tiers meanwhile is seen exactly once.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, delete, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError

from ingestor import metrics
from ingestor.cursors import CursorError
from ingestor.store import coldstays, compaction, layout, pruning, sqlread, sqlrise, sqlwrite, tiers
from ingestor.store import cursor as cursors
from ingestor.store import rollups as ru
from ingestor.store import rows as rw
from ingestor.store import series as series_
from ingestor.store.migrate import upgrade
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
    StoreError,
    StoreUnavailable,
    Totals,
)
from ingestor.store.pausedgc import paused_gc
from ingestor.store.rows import Row
from ingestor.store.sqlagg import Aggregator, Ask, top
from ingestor.store.sqldicts import Dictionaries
from ingestor.store.sqlengine import WRITE_CACHE_KIB, engine_for, safe_url
from ingestor.store.sqlread import Kept, Reader, Scan
from ingestor.store.sqlschema import MIGRATIONS, aggregates
from ingestor.store.timerange import from_micros, to_micros

log = logging.getLogger(__name__)
ANALYZE_EVERY_S = 3600
ANALYZE_EVERY_ROWS = 100_000
COMPACT_SECONDS = 0.25  # compaction work after a write, at most (the write itself is already committed)
WRITE_LOCK = 0x4841_4941  # PostgreSQL advisory lock id of the store's writers ("HAIA")
_compacted = metrics.counter("store_compacted_events_total", "Events moved from the hot tier into blocks")
_compaction_failures = metrics.counter("store_compaction_failures_total", "Compaction steps that failed")


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


class SqlEventStore:
    def __init__(self, url: str, *, write_cache_kib: int = WRITE_CACHE_KIB) -> None:
        self.url = url
        self.engine = engine_for(url, write_cache_kib=write_cache_kib)
        self.backend = self.engine.dialect.name
        self._insert_aggregates = (sqlite if self.backend == "sqlite" else postgresql).insert(aggregates)
        self.dicts = Dictionaries()
        self._ready = False
        self._analyzed_at = float("-inf")
        self._written_since_analyze = 0
        self._compaction_failing = False
        self._rises_filled = False  # the meters' rises of an older database are all filled in (sqlrise.fill)
        self._recut_done = False  # no block of the layout before the hourly cut is left (compaction.recut)
        self._stays_filled = False  # every (series, day) with blocks has its packed stays (coldstays.fill)
        self._stays_filling: Iterator[tuple[int, int, int]] | None = None  # the fill under way, between calls
        self.now_us = lambda: time.time_ns() // 1000  # the clock compaction goes by (tests move it)
        self.day_cache = coldstays.DayCache()  # decoded packed stays, for each read of the process (Reader.day_cache)

    # --- connections -----------------------------------------------------------------------------------

    def _prepare(self) -> None:
        if not self._ready:
            upgrade(self.engine, MIGRATIONS)
            layout.ensure(self)  # raises StoreUnavailable while the first layout's rows are being moved
            self._ready = True
        self._analyze_now_and_then()

    def _analyze_now_and_then(self) -> None:
        """SQLite plans with statistics only ANALYZE gathers (PostgreSQL's autovacuum does this itself):
        at start, hourly, and after every ANALYZE_EVERY_ROWS rows written; bounded sampling keeps it quick."""
        if self.backend != "sqlite" or (time.monotonic() - self._analyzed_at < ANALYZE_EVERY_S
                                        and self._written_since_analyze < ANALYZE_EVERY_ROWS):
            return
        self._analyzed_at = time.monotonic()
        self._written_since_analyze = 0
        with self.engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA analysis_limit=1000")
            conn.exec_driver_sql("ANALYZE")

    def _guard(self, exc: DBAPIError) -> StoreError:
        if isinstance(exc, OperationalError) or exc.connection_invalidated:
            return StoreUnavailable(f"{self.backend} unavailable: {type(exc.orig).__name__}")
        return StoreError(f"{self.backend} refused the operation: {type(exc.orig).__name__}")

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A write transaction holding the store's write lock; the dictionaries learn its ids on commit."""
        try:
            with self.engine.connect().execution_options(writing=True) as conn, conn.begin():
                if self.backend == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": WRITE_LOCK})
                yield conn
        except BaseException:
            self.dicts.rollback()
            raise
        self.dicts.commit()

    @contextmanager
    def reading(self) -> Iterator[Reader]:
        """One snapshot of the store for a read that takes several queries."""
        with self.engine.connect() as conn:
            if self.backend == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield Reader(conn, self.dicts, self.backend, snapshot=True, day_cache=self.day_cache)

    def _read(self, fn: Any) -> Any:
        try:
            self._prepare()
            with self.reading() as reader:
                return fn(reader)
        except DBAPIError as exc:
            raise self._guard(exc) from exc

    # --- writing -------------------------------------------------------------------------------------

    def write(self, records: list[dict[str, Any]]) -> None:
        """Store a batch in one transaction with its rollups; events already stored are left as they are."""
        if not records:
            return
        try:
            self._prepare()
            with self.writing() as conn:
                written = sqlwrite.write(conn, self.dicts, self.backend, records)
            self._written_since_analyze += written
        except DBAPIError as exc:
            raise self._guard(exc) from exc
        self.compact(COMPACT_SECONDS)

    def load(self, records: list[dict[str, Any]]) -> int:
        """Bulk-load history in one transaction, as `write` and compaction together would store it: events
        of days compaction would have moved (compaction.cutoff_day) straight into their blocks (best with whole
        days: a block is rewritten for each load that adds to it). Returns how many events were new."""
        if not records:
            return 0
        try:
            self._prepare()
            with self.writing() as conn:
                return sqlwrite.write(conn, self.dicts, self.backend, records,
                                      cold_before=compaction.cutoff_day(self.now_us()))
        except DBAPIError as exc:
            raise self._guard(exc) from exc

    def compact(self, seconds: float, before_day: int | None = None) -> int:
        """Move the hot days compaction.cutoff_day names into blocks for up to `seconds`; returns the events moved.
        A failure is logged (once until compaction works again) and left for the next call: the events
        stay in the hot tier, where every read finds them."""
        deadline = time.monotonic() + seconds
        before = compaction.cutoff_day(self.now_us()) if before_day is None else before_day
        moved = 0
        try:
            while time.monotonic() < deadline:
                with self.engine.connect() as conn:
                    todo = compaction.plan(conn, before, 64)
                if not todo:
                    break
                for sid, day, _ in todo:
                    with self.writing() as conn:
                        moved += compaction.compact(conn, Reader(conn, self.dicts, self.backend), sid, day)
                    if time.monotonic() >= deadline:
                        break
            self._recut(deadline)
            if self._ready:  # not while the first layout's rows move: its mover compacts between batches
                self.fill_rises(deadline - time.monotonic())
                self._fill_stays_until(deadline)
            self._compaction_failing = False
        except DBAPIError as exc:
            _compaction_failures.inc()
            if not self._compaction_failing:
                log.warning("compaction failed; the events stay in the hot tier and it is tried again",
                            extra={"error": str(self._guard(exc))})
            self._compaction_failing = True
        _compacted.inc(moved)
        return moved

    def _recut(self, deadline: float) -> None:
        """Cut blocks written before the hourly cut (compaction.recut) until `deadline`, one (series, day) per
        transaction: a kill leaves each day cut or not, never half; the next call carries on where it stopped."""
        while not self._recut_done and time.monotonic() < deadline:
            with self.engine.connect() as conn:
                todo = compaction.plan_recut(conn, 64)
            self._recut_done = not todo
            for sid, day in todo:
                with self.writing() as conn:
                    compaction.recut(conn, Reader(conn, self.dicts, self.backend), sid, day)
                if time.monotonic() >= deadline:
                    return

    def fill_rises(self, seconds: float) -> bool:
        """Carry on filling in the meters' rises of a database made before they were kept (schema step 8) for
        about `seconds` (a day of a meter at least, when any is left): a slice after each write (compact), so
        opening the store never waits for it. True once done (then the energy endpoints read them)."""
        if self._rises_filled:
            return True
        self._prepare()
        self._rises_filled = sqlrise.fill(self.writing, self.dicts, self.backend, time.monotonic() + seconds)
        return self._rises_filled

    def _fill_stays_until(self, deadline: float) -> None:
        """Carry on packing the stays of days compacted before they were kept (schema step 11) until `deadline`,
        in compaction's spare time, so an upgraded store becomes fast without anyone running `stays`; a failure
        leaves the fill to start over at the next call (what is packed stays packed)."""
        if self._stays_filled or time.monotonic() >= deadline:
            return
        if self._stays_filling is None:
            self._stays_filling = self._stays_fill()
        try:
            for _ in self._stays_filling:
                if time.monotonic() >= deadline:
                    return
        except BaseException:
            self._stays_filling = None
            raise
        self._stays_filled, self._stays_filling = True, None

    def fill_stays(self) -> Iterator[tuple[int, int, int]]:
        """Write the packed stays (coldstays.py) of every (series, day) compacted before they were kept (schema
        step 11), one per transaction, yielding (series, day, stays) as each commits: safe to stop and rerun.
        Until then such a day's stays are read from its blocks, the same answer, slower."""
        self._prepare()
        try:
            yield from self._stays_fill()
        except DBAPIError as exc:
            raise self._guard(exc) from exc

    def _stays_fill(self) -> Iterator[tuple[int, int, int]]:
        return coldstays.fill(self.engine.connect, self.writing,
                              lambda conn: Reader(conn, self.dicts, self.backend).block)

    def delete(self, start: Any, end: Any) -> int:
        """Remove the events of [start, end) and take them out of the rollups. The hourly and daily rollups
        of whole days removed are kept as the summaries of those days (aggregates), unless retention wrote
        its own first, so a chart over a pruned day still shows it."""
        try:
            self._prepare()
            with self.writing() as conn:
                return pruning.remove(conn, self.dicts, self.backend, to_micros(start), to_micros(end))
        except DBAPIError as exc:
            raise self._guard(exc) from exc

    # --- raw reads -------------------------------------------------------------------------------------

    def _records(self, reader: Reader, found: list[tuple[int, Row]]) -> list[dict[str, Any]]:
        docs = self.dicts.docs(reader.conn, [i for _, r in found for i in (r.attrs, r.enrich, r.data)])
        return [rw.join(row, reader.series_of(sid), docs.__getitem__) for sid, row in found]

    def query(self, f: EventFilter, limit: int = 100, cursor: str | None = None) -> Page:
        """Newest first; `cursor` continues after the last item of the previous page."""
        after = None
        if cursor:
            ts, event_id = cursors.decode(cursor)
            after = (ts, bytes.fromhex(event_id))

        def read(reader: Reader) -> Page:
            found = list(reader.scan(Scan(f, desc=True, after=after, limit=limit + 1)))
            items = self._records(reader, found[:limit])
            more = len(found) > limit
            last = found[limit - 1][1] if more else None
            return Page(items, cursors.encode(last.ts, last.eid.hex()) if last else None)

        return self._read(read)

    def by_context(self, context_id: str) -> list[dict[str, Any]]:
        """Events caused in the context `context_id`, oldest first."""
        return self._read(lambda reader: self._records(reader, reader.by_context(context_id, 0)))

    def by_parent(self, parent_id: str) -> list[dict[str, Any]]:
        """Events whose context's parent is `parent_id` (what an automation run caused), oldest first."""
        return self._read(lambda reader: self._records(reader, reader.by_context(parent_id, 1)))

    def stay_groups(self, f: EventFilter, limit: int = 50_000) -> list[StayGroup]:
        """Single stays (duration_in_state >= 0) in states the state rollups keep, the newest `limit`, by entity
        and state left: the raw material of the duration anomalies (Reader.stay_groups)."""
        with paused_gc():
            return self._read(lambda reader: reader.stay_groups(f, limit))

    def states(self, entity_id: str, start: Any, end: Any) -> list[tuple[int, str | None]] | None:
        """(time µs, state) of the entity's events in [start, end), oldest first, from the time and state columns
        alone (a year of a switch: 15,000 events, 0.1 s instead of 1.2 s as records). None when two share a
        microsecond: their order is the event ids', which the columns do not hold (then the records answer)."""
        lo, hi = to_micros(start), to_micros(end)
        found = sorted(self._read(lambda reader: reader.states(reader.of_entities([entity_id]), lo, hi)),
                       key=lambda cell: cell[0])
        return None if any(a[0] == b[0] for a, b in zip(found, found[1:], strict=False)) else found

    def changes(self, entity_id: str, start: Any, end: Any, limit: int) -> list[Change] | None:
        """(time µs, state, old state, duration_in_state) of the entity's newest `limit` state changes in [start,
        end), oldest first: the events `query` gives for that filter, without building their records (a history's
        2,000 changes as records were two thirds of its time)."""
        f = EventFilter(start=start, end=end, entity_id=entity_id, event_type="state_changed")
        return self._read(lambda reader: reader.changes(f, limit))[::-1]

    def export(self, start: Any, end: Any, batch: int = 5000) -> Iterator[list[dict[str, Any]]]:
        """The events of [start, end) oldest first, in lists of `batch`: only the days the daily rollups say hold
        events (a range of decades with a few days of data costs those days), each read in windows of about
        sqlread.WINDOW_EVENTS (Reader.windows), so memory does not grow with the day. Each block is decoded once
        for the windows that need it and let go after the last (blocks are cut by hour: compaction.parts)."""
        self._prepare()
        first, last = to_micros(start), to_micros(end)
        if first >= last:
            return
        for day in self._read(lambda reader: reader.days(None, first, last)):
            lo, hi = max(first, day * compaction.DAY_US), min(last, (day + 1) * compaction.DAY_US)
            kept: Kept = {}
            for w_lo, w_hi in self._read(lambda reader, lo=lo, hi=hi: reader.windows(lo, hi, sqlread.WINDOW_EVENTS)):
                records = self._read(lambda reader, w=(w_lo, w_hi), k=kept:
                                     self._records(reader, reader.scan_window(k, *w)))
                for i in range(0, len(records), batch):
                    yield records[i:i + batch]

    # --- aggregates ------------------------------------------------------------------------------------

    def _values(self, ask: Ask, info: dict[str, Any] | None) -> dict[Any, list[Any]]:
        with paused_gc():  # a year of hourly cells per area is ~114,000 rows
            found, resolution = self._read(lambda reader: Aggregator(reader).values(ask))
        if info is not None:
            info["resolution"] = resolution
        return found

    def count(self, f: EventFilter, info: dict[str, Any] | None = None) -> int:
        return _total(self._values(Ask(f, values=False), info))

    def counts(self, f: EventFilter, by: GroupBy, limit: int = 20,
               info: dict[str, Any] | None = None) -> list[tuple[str | None, int]]:
        found = self._values(Ask(f, group=by, values=False), info)
        return _top(found, limit)

    def tallies(self, f: EventFilter, limits: dict[GroupBy, int],
                info: dict[str, Any] | None = None) -> tuple[int, dict[GroupBy, list[tuple[str | None, int]]]]:
        """One snapshot and one Aggregator for every question, so the raw edges are read once."""

        def read(reader: Reader) -> tuple[dict[Any, list[Any]], str, dict[GroupBy, dict[Any, list[Any]]]]:
            aggregator = Aggregator(reader)
            total, resolution = aggregator.values(Ask(f, values=False))
            return total, resolution, {by: aggregator.values(Ask(f, group=by, values=False))[0] for by in limits}

        total, resolution, grouped = self._read(read)
        if info is not None:
            info["resolution"] = resolution
        return _total(total), {by: _top(found, limits[by]) for by, found in grouped.items()}

    def buckets(self, f: EventFilter, seconds: int, info: dict[str, Any] | None = None,
                values: bool = True) -> list[Bucket]:
        """Counts and state_value mean/min/max per time bucket, aligned to the epoch (UTC days)."""
        return [Bucket(a.start, a.count, a.mean, a.min, a.max) for a in self._stats(f, seconds, info, values)]

    def stats(self, f: EventFilter, seconds: int, info: dict[str, Any] | None = None) -> list[Aggregate]:
        """Like buckets, with the count of numeric values the mean is over (so partial results combine)."""
        return self._stats(f, seconds, info, True)

    def _stats(self, f: EventFilter, seconds: int, info: dict[str, Any] | None, values: bool) -> list[Aggregate]:
        found = self._values(Ask(f, width=int(seconds), values=values), info)
        return [Aggregate(f.entity_id or "", f"{seconds}s", from_micros(bucket), acc[0], acc[1] if values else 0,
                          *((acc[2] / acc[1] if acc[1] else None, _float(acc[3]), _float(acc[4])) if values
                            else (None, None, None)))
                for (_, bucket), acc in sorted(found.items(), key=lambda kv: kv[0][1]) if acc[0]]

    def grid(self, f: EventFilter, by: GroupBy, seconds: int,
             info: dict[str, Any] | None = None) -> list[tuple[str | None, Any, int]]:
        """Event counts per (value of `by`, epoch-aligned bucket); by bucket, then key (None first)."""
        found = self._values(Ask(f, width=int(seconds), group=by, values=False), info)
        cells: dict[tuple[str | None, int], int] = {}
        for (key, bucket), acc in found.items():
            if acc[0]:
                cells[(key or None, bucket)] = cells.get((key or None, bucket), 0) + acc[0]  # type: ignore
        ordered = sorted(cells.items(), key=lambda kv: (kv[0][1], kv[0][0] is not None, kv[0][0] or ""))
        times: dict[int, dt.datetime] = {}  # a bucket's instant made once for all its keys (a year: 8,760 of 114,000)
        return [(key, times.get(t) or times.setdefault(t, from_micros(t)), n) for (key, t), n in ordered]

    def last_seen(self, f: EventFilter, by: GroupBy, limit: int = 1000,
                  info: dict[str, Any] | None = None) -> list[tuple[str | None, Any]]:
        """The time of the newest matching event per value of `by`, most recent first."""
        found = self._values(Ask(f, group=by, last=True, values=False), info)
        newest = [(key, acc[5]) for (key, _), acc in found.items() if acc[0]]
        newest.sort(key=lambda kv: (-kv[1], kv[0] is None, kv[0] or ""))
        return [(key, from_micros(int(t))) for key, t in newest[:limit]]

    def activity(self, f: EventFilter, by: GroupBy,
                 info: dict[str, Any] | None = None) -> dict[str | None, tuple[int, dt.datetime]]:
        found = self._values(Ask(f, group=by, last=True, values=False), info)
        return {key: (acc[0], from_micros(int(acc[5]))) for (key, _), acc in found.items() if acc[0]}

    def durations(self, f: EventFilter, limit: int = 50, info: dict[str, Any] | None = None) -> list[DurationStat]:
        """How long entities stayed in each state (states that are not plain decimals): per (entity, state
        left), longest total first."""
        found, resolution = self._read(lambda reader: Aggregator(reader).durations(f))
        if info is not None:
            info["resolution"] = resolution
        stats = [DurationStat(entity or "", state, acc[2], acc[3] / acc[2], float(acc[4]), float(acc[5]),
                              float(acc[3])) for (entity, state), acc in found.items() if acc[2]]
        stats.sort(key=lambda d: (-d.total, d.entity_id, d.state or ""))
        return stats[:limit]

    # --- summaries of pruned days (retention-archive) ------------------------------------------------------

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
            with self.writing() as conn:
                conn.execute(upsert, values)
        except DBAPIError as exc:
            raise self._guard(exc) from exc

    def aggregates(self, entity_id: str | None, period: str, start: Any, end: Any) -> list[Aggregate]:
        """Summaries of `period` starting in [start, end), oldest first; every entity when entity_id is None."""
        a = aggregates.c
        clauses = [a.period == period, a.start_ts >= to_micros(start), a.start_ts < to_micros(end)]
        if entity_id is not None:
            clauses.append(a.entity_id == entity_id)

        def read(reader: Reader) -> list[Aggregate]:
            rows = reader.conn.execute(select(aggregates).where(*clauses).order_by(a.start_ts, a.entity_id))
            return [Aggregate(m["entity_id"], m["period"], from_micros(m["start_ts"]), int(m["count"]),
                              int(m["value_count"]), _float(m["mean"]), _float(m["min"]), _float(m["max"]))
                    for m in (r._mapping for r in rows)]

        return self._read(read)

    def delete_aggregates(self, period: str, before: Any) -> int:
        """Drop summaries older than the long-retention window."""
        try:
            self._prepare()
            with self.writing() as conn:
                result = conn.execute(delete(aggregates).where(aggregates.c.period == period,
                                                               aggregates.c.start_ts < to_micros(before)))
            return int(result.rowcount or 0)
        except DBAPIError as exc:
            raise self._guard(exc) from exc

    def summarized_days(self, start: Any, end: Any) -> list[int]:
        """Starts (microseconds) of the UTC days in [start, end) that have daily summaries."""
        day_start = to_micros(start) // series_.DAY_US * series_.DAY_US
        a = aggregates.c
        q = select(a.start_ts).distinct().where(a.period == "day", a.start_ts >= day_start, a.start_ts < to_micros(end))
        return self._read(lambda reader: [int(r[0]) for r in reader.conn.execute(q)])

    def series(self, entity_id: str, start: Any, end: Any, bucket_s: int,
               info: dict[str, Any] | None = None) -> list[Bucket]:
        """Chart buckets of one entity over any range: rollups and raw events, or the summaries of pruned days."""
        return series_.buckets(self.series_columns([entity_id], start, end, bucket_s, info)[entity_id])

    def series_columns(self, entity_ids: list[str], start: Any, end: Any, bucket_s: int,
                       info: dict[str, Any] | None = None) -> dict[str, Columns]:
        """What `series` gives, for several entities at once and as columns: one query per rollup tier, or, for the
        whole buckets of a tier as wide as them (Aggregator.tier_columns), one per entity, the partial buckets at
        either end read as before."""
        width = int(bucket_s) * 1_000_000
        lo, hi = to_micros(start), to_micros(end)
        first, last = -(-lo // width) * width, hi // width * width
        if first < last and not self.summarized_days(start, end):
            whole = self._read(lambda reader: Aggregator(reader).tier_columns(entity_ids, int(bucket_s), first, last))
            if whole is not None:
                head = series_.columns(self, entity_ids, start, from_micros(first), bucket_s, self._parts) \
                    if lo < first else {}
                tail = series_.columns(self, entity_ids, from_micros(last), end, bucket_s, self._parts) \
                    if last < hi else {}
                if info is not None:
                    info["resolution"] = tiers.resolution(
                        tiers.pieces(lo, hi, tiers.allowed(int(bucket_s), ru.SERIES_PERIODS)))
                return {e: _joined([part[e] for part in (head, whole, tail) if part]) for e in entity_ids}
        return series_.columns(self, entity_ids, start, end, bucket_s, self._parts, info)

    def _by_hours(self, read: Any, start: Any, end: Any, info: dict[str, Any] | None, whole: bool = False) -> Any:
        """`read(reader, lo, hi)` where [start, end) holds no pruned day (and is whole hours, when `whole`), else
        None: the rollups of a pruned day are its summaries (aggregates), with no rises nor readings."""
        lo, hi = to_micros(start), to_micros(end)
        hour = 3_600_000_000
        if lo >= hi or (whole and (lo % hour or hi % hour)) or self.summarized_days(start, end):
            return None
        found = self._read(lambda reader: read(reader, lo, hi))
        if found is not None and info is not None:
            info["resolution"] = tiers.resolution(tiers.segments(lo, hi, tiers.allowed(3600)))
        return found

    def meter_totals(self, weights: dict[str, float], start: Any, end: Any,
                     info: dict[str, Any] | None = None) -> Totals | None:
        """The meters' rises per hour summed (sqlrise.totals); an hour cut by the range from its raw readings."""
        return self._by_hours(lambda reader, lo, hi: sqlrise.totals(reader, weights, lo, hi), start, end, info)

    def meter_rises(self, entity_ids: list[str], start: Any, end: Any, hours_of_day: set[int] | None = None,
                    info: dict[str, Any] | None = None) -> dict[str, Rises] | None:
        """Each meter's rise per hour (sqlrise.per_entity); an hour cut by the range from its raw readings."""
        return self._by_hours(lambda reader, lo, hi: sqlrise.per_entity(reader, entity_ids, lo, hi, hours_of_day),
                              start, end, info)

    def hourly_means(self, entity_ids: list[str], start: Any, end: Any,
                     info: dict[str, Any] | None = None) -> dict[str, dict[int, float]] | None:
        """Each entity's mean per hour (sqlrise.means), where [start, end) is whole hours of rollups."""
        return self._by_hours(lambda reader, lo, hi: sqlrise.means(reader, entity_ids, lo, hi), start, end, info,
                              whole=True)

    def _parts(self, entity_ids: list[str], start: Any, end: Any, seconds: int,
               info: dict[str, Any] | None) -> dict[str, list[series_.Part]]:
        found, resolution = self._read(lambda reader: Aggregator(reader).per_entity(
            entity_ids, int(seconds), to_micros(start), to_micros(end)))
        if info is not None:
            info["resolution"] = resolution
        return found

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


__all__ = ["SqlEventStore", "CursorError"]


def _joined(parts: list[Columns]) -> Columns:
    """Columns of consecutive ranges, in time order, as one."""
    if len(parts) == 1:
        return parts[0]
    return Columns(*([x for part in parts for x in getattr(part, name)]
                     for name in ("start", "count", "mean", "min", "max")))


def _total(found: dict[Any, list[Any]]) -> int:
    """The count of an Aggregator's answer (each accumulator's first field)."""
    return sum(acc[0] for acc in found.values())


def _top(found: dict[Any, list[Any]], limit: int) -> list[tuple[str | None, int]]:
    """A grouped Aggregator answer's counts, the `limit` largest."""
    return top(((key, acc[0]) for (key, _), acc in found.items() if acc[0]), limit)
