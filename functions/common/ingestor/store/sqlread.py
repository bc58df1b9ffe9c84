"""Raw events from both tiers of the SQL store, in (time, event_id) order, day by day.

A read first turns its filter into the series it can match (dictionary lookups, in Python), then asks the
day rollups which UTC days hold any of them, and reads each such day from the hot tier (SQL, with every
filter and the page limit pushed down) and from the cold tier (the day's blocks of those series: the time
column first, the rest only for blocks with events in the window), merged in order.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
from collections.abc import Iterator
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, any_, bindparam, func, or_, select, tuple_
from sqlalchemy.types import UserDefinedType

from ingestor import jsoncodec
from ingestor.store import coldstays
from ingestor.store.blocks import Block, decimal_parts, decode_times, ulid_bytes
from ingestor.store.model import Change, EventFilter, StayGroup
from ingestor.store.rollups import categorical
from ingestor.store.rows import Row, Series
from ingestor.store.sqldicts import Dictionaries
from ingestor.store.sqlschema import (
    LEAVES_CATEGORICAL,
    block_contexts,
    blocks,
    dim_rollups,
    hot_events,
    rollups,
    state_rollups,
)
from ingestor.store.sqlschema import series as series_table
from ingestor.store.timerange import to_micros

DAY_US = 86_400_000_000
FIVE_MIN_US = 300_000_000
HOUR_US = 3_600_000_000
WINDOW_EVENTS = 1_000  # events an export or a delete reads at once (Reader.windows; a record ~4 KB; 2,500
# before: the Parquet archive run of a 100,000-event day peaked 7 MB higher)
EDGE_US = HOUR_US  # a window this short is a range's raw edge: only series active in it are read
END_OF_TIME = 253_402_300_800_000_000  # 10000-01-01 in µs: every rollup bucket index fits 32 bits
ROW_COLUMNS = [hot_events.c[name] for name in ("eid", "ts", "state", "old_state", "value", "duration", "attrs", "ctx",
                                               "parent", "usr", "enrich", "ages", "data")]
BLOCK_COLUMN = {"old_state": "old_states", "duration": "durations"}  # a hot_events column: the Block's
SERIES_MATCH = ("event_type", "entity_id", "domain", "area_id", "device_id")
ACTIVE_DAYS = 7  # days of the daily state rollups a read of stays asks for at once (Reader._active_on)
LONG_LIST = 32  # series ids PostgreSQL is given as one array (Reader.among)
_POS = {"event_type": 0, "entity_id": 1, "domain": 2, "area_id": 3, "device_id": 4}
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@dataclasses.dataclass(frozen=True)
class Scan:
    """What to read: a filter, and what the filter alone cannot say."""

    f: EventFilter
    desc: bool = False
    after: tuple[int, bytes] | None = None  # (ts, eid) already read: continue after it
    limit: int | None = None
    durations: str | None = None  # "any": only events with a duration_in_state; "nonneg": one >= 0 ...
    categorical: bool = False  # ... that leave a state the state rollups keep
    window: tuple[int, int] | None = None  # [start, end) in µs, instead of the filter's own
    series: tuple[int, ...] | None = None  # only these series (of those the filter allows)


def bounds(f: EventFilter) -> tuple[int, int]:
    """The filter's [start, end) in µs (open ends as far as the store goes)."""
    return (to_micros(f.start) if f.start is not None else -END_OF_TIME,
            to_micros(f.end) if f.end is not None else END_OF_TIME)


def driver_sql(statement: str, dialect: str) -> str:
    """SQL with `?` placeholders as the driver takes it (statements sent past SQLAlchemy, whose per-row handling
    costs more than the database's work): psycopg's placeholders are %s, and a literal % is doubled."""
    return statement.replace("%", "%%").replace("?", "%s") if dialect == "postgresql" else statement


def lower(backend: str, text: str) -> str:
    """Case folding as each database's lower() does it: SQLite folds ASCII letters only."""
    return text.translate(_ASCII_LOWER) if backend == "sqlite" else text.lower()


def ulid_key(text: str) -> int:
    """The block_contexts key of a context id: a ULID's first 8 bytes, else a hash."""
    raw = ulid_bytes(text) or hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(raw[:8], "big", signed=True)


class Reader:
    """Raw reads within one connection."""

    def __init__(self, conn: Connection, dicts: Dictionaries, backend: str, snapshot: bool = False,
                 day_cache: coldstays.DayCache | None = None) -> None:
        self.conn = conn
        self.dicts = dicts
        self.backend = backend
        self.snapshot = snapshot  # a read in one snapshot: the series it sees cannot change (SqlEventStore.reading)
        self.day_cache = day_cache  # the store's decoded packed stays, kept across reads (coldstays.DayCache)
        self._series_known = False
        self._data: dict[int, Any] = {}
        self.kept: Kept | None = None  # blocks read by earlier windows of an export, for its later ones
        self._active_days: dict[tuple[Any, ...], dict[int, list[int]]] = {}  # _active_on's, by scan

    # --- series ------------------------------------------------------------------------------------

    def series_of(self, sid: int) -> Series:
        found = self.dicts.series.get(sid)
        if found is None:
            self.dicts.refresh_series(self.conn)
            found = self.dicts.series[sid]
        return found

    def refresh_series(self) -> None:
        """Learn the series created since the dictionaries last looked: once in a snapshot, whose series cannot
        change (a stays read over a week asked 13 times, a round trip each: 3 ms apiece on PostgreSQL at load 9),
        at each call in a transaction that may write series (compaction, a write's reads)."""
        if not self._series_known:
            self.dicts.refresh_series(self.conn)
            self._series_known = self.snapshot

    def matching(self, f: EventFilter) -> list[int] | None:
        """Series ids the filter's series fields allow (None: every series); text is left to the events."""
        wanted = [(_POS[name], getattr(f, name)) for name in SERIES_MATCH if getattr(f, name) is not None]
        if not wanted:
            return None
        self.refresh_series()
        return [sid for sid, values in self.dicts.series.items() if all(values[p] == v for p, v in wanted)]

    def seeking(self, column: Any, sids: list[int] | None) -> ColumnElement[bool]:
        """`column IN sids`, or where `sids` is None every series, for a table keyed by series first (the
        rollups): each series is then sought to its buckets. PostgreSQL (before 18) cannot skip through a key's
        first column and read the whole table instead (the summary's daily rollups of a week at 10 million
        events: 0.2 s a query, 9 ms seeking each series); SQLite skips only where ANALYZE's statistics say it
        may. Every series is a subquery on SQLite (SQLAlchemy renders a list of ~500 ids in ~5 ms) and one array
        on PostgreSQL (which might join a subquery by scanning the table)."""
        if sids is not None:
            return self.among(column, sids)
        if self.backend == "sqlite":
            return column.in_(select(series_table.c.id))
        self.refresh_series()
        return self.among(column, list(self.dicts.series))

    def among(self, column: Any, sids: list[int]) -> ColumnElement[bool]:
        """`column IN sids`; on PostgreSQL a long list as one array, not a placeholder per id, which psycopg parses
        out of the statement each time (the few hundred series active in a stays read's day: 3.2 -> 1.3 ms CPU a
        query). A short one (an entity's series) stays a list: its statement, one text for any array, would be
        prepared with a generic plan, and a history's raw edges took twice the wall time so. The array goes as its
        text, typed INTEGER[]: psycopg dumps a list item by item in Python (~0.4 ms CPU for 541 ids, a dozen arrays
        in a week's durations); the server reads the text as the array it was (a CAST of a text parameter instead
        was planned otherwise, and PostgreSQL's float sums of the state rollups came out in another order)."""
        if self.backend == "postgresql" and len(sids) > LONG_LIST:
            ids = "{" + ",".join(map(str, sids)) + "}"
            return column == any_(bindparam(None, ids, type_=_IntArrayText()))
        return column.in_(sids)

    def of_entities(self, entity_ids: list[str]) -> list[int]:
        """Series ids of any of these entities."""
        wanted = set(entity_ids)
        self.refresh_series()
        return [sid for sid, values in self.dicts.series.items() if values[_POS["entity_id"]] in wanted]

    def named(self, text: str, within: list[int] | None) -> set[int]:
        """Series whose friendly_name contains `text`, case-insensitively."""
        self.refresh_series()
        needle = lower(self.backend, text)
        ids = self.dicts.series if within is None else within
        return {sid for sid in ids if (name := self.dicts.series[sid][7]) and needle in lower(self.backend, name)}

    # --- documents -----------------------------------------------------------------------------------

    def data_of(self, did: int) -> Any:
        found = self._data.get(did)
        if found is None:
            found = self._data[did] = jsoncodec.loads(self.dicts.docs(self.conn, [did])[did])
        return found

    def block(self, sid: int, times: bytes, first: int, payload: bytes | None) -> Block:
        values = self.series_of(sid)
        return Block(bytes(times), first, None if payload is None else bytes(payload), values[0], values[1],
                     self.data_of)

    def kept_block(self, bid: int, sid: int, times: bytes, first: int, last: int) -> Block:
        """The block `bid`, decoded once for every window of an export that needs it (while `kept` is on): the
        same id with the same time column is the same block, events being never changed in place."""
        if self.kept is None:
            return self.block(sid, times, first, None)
        found = self.kept.get(bid)
        if found is not None and found[1] == times:
            found[2]._data_of = self.data_of  # the reader of this window, not of the one that decoded it
            return found[2]
        block = self.block(sid, times, first, None)
        self.kept[bid] = (last, bytes(times), block)
        return block

    def let_go(self, before: int) -> None:
        """Forget the kept blocks whose events all lie before `before` µs: no later window needs them."""
        if self.kept is not None:
            for bid in [bid for bid, (last, _, _) in self.kept.items() if last < before]:
                del self.kept[bid]

    def scan_window(self, kept: Kept, lo: int, hi: int) -> list[tuple[int, Any]]:
        """The events of [lo, hi) µs, one of the `windows` read in order, with the blocks `kept` from the windows
        before it (each block decoded once for every window that needs it, let go after the last)."""
        self.kept = kept
        try:
            return list(self.scan(Scan(EventFilter(), window=(lo, hi))))
        finally:
            self.let_go(hi)
            self.kept = None

    def payloads(self, found: list[tuple[int, Block]]) -> None:
        """Fetch the payloads of blocks read by their time column alone."""
        found = [(bid, block) for bid, block in found if block._payload is None]
        for start in range(0, len(found), 200):
            chunk = dict(found[start:start + 200])
            for bid, payload in self.conn.execute(select(blocks.c.id, blocks.c.payload)
                                                  .where(blocks.c.id.in_(list(chunk)))):
                chunk[bid]._payload = bytes(payload)

    # --- days ----------------------------------------------------------------------------------------

    def windows(self, start: int, end: int, most: int) -> list[tuple[int, int]]:
        """[start, end) µs cut at 5-minute marks into windows of at most about `most` events (by the 5-minute
        rollups): what an export reads at once. A busier 5 minutes is cut into equal slices of time, each about
        `most` events if they are spread evenly (1.5 million events a day are 5,200 every 5 minutes: read
        whole, a window held twice what it was sized for)."""
        d = dim_rollups.c
        q = (select(d.bucket, d.n).where(d.dim == 0, d.key == 0, d.period == 0, d.bucket >= start // FIVE_MIN_US,
                                         d.bucket <= (end - 1) // FIVE_MIN_US).order_by(d.bucket))
        out, lo, count = [], start, 0
        for bucket, n in self.conn.execute(q):
            at = max(start, int(bucket) * FIVE_MIN_US)
            if count and count + n > most:
                out.append((lo, at))
                lo, count = at, 0
            if n > most:
                stop = min(end, (int(bucket) + 1) * FIVE_MIN_US)
                slices = -(-n // most)
                cuts = [at + (stop - at) * i // slices for i in range(1, slices)]
                out += [(a, b) for a, b in zip([lo, *cuts[:-1]], cuts, strict=True) if a < b]
                lo = cuts[-1]
                count = n // slices
                continue
            count += n
        return [*out, (lo, end)] if lo < end else out

    def days(self, sids: list[int] | None, start: int, end: int) -> list[int]:
        """UTC days (days since the epoch) in [start, end) µs holding events of `sids`, oldest first."""
        first, last = start // DAY_US, (end - 1) // DAY_US
        if sids is None:
            q = (select(dim_rollups.c.bucket).where(dim_rollups.c.dim == 0, dim_rollups.c.key == 0,
                                                    dim_rollups.c.period == 2, dim_rollups.c.bucket >= first,
                                                    dim_rollups.c.bucket <= last))
        elif not sids:
            return []
        else:
            q = (select(rollups.c.bucket).distinct().where(rollups.c.series.in_(sids), rollups.c.period == 2,
                                                           rollups.c.bucket >= first, rollups.c.bucket <= last))
        days = {int(r[0]) for r in self.conn.execute(q)}
        # Events the rollups do not know yet cannot exist: both are written in one transaction. Blocks
        # moved from the first layout before their rollups were rebuilt are covered by the same rule.
        return sorted(days)

    def holding(self, f: EventFilter, sids: list[int] | None, start: int, end: int) -> dict[int, list[int]] | None:
        """For a filter on a state or old state the state rollups keep: the series per UTC day with an event in
        it (entered or left), from the daily state rollups, so a read of the rare "unavailable" passes over
        every other series' blocks; None for any other filter."""
        wanted = [(name, getattr(f, name)) for name in ("state", "old_state")
                  if getattr(f, name) is not None and categorical(getattr(f, name))]
        if not wanted or (sids is not None and not sids):
            return None if not wanted else {}
        sr = state_rollups.c
        found: dict[int, set[int]] | None = None
        for name, value in wanted:
            key = self.dicts.find_string(self.conn, value)
            if key is None:
                return {}
            q = select(sr.bucket, sr.series).where(
                sr.period == 2, sr.state == key, sr.bucket >= start // DAY_US, sr.bucket <= (end - 1) // DAY_US,
                sr.n > 0 if name == "state" else sr.left + sr.dn > 0)
            q = q.where(self.seeking(sr.series, sids))
            days: dict[int, set[int]] = {}
            for day, sid in self.conn.execute(q).all():  # fetched at once: row by row costs SQLAlchemy's calls
                days.setdefault(int(day), set()).add(int(sid))
            found = days if found is None else {d: found[d] & days[d] for d in found.keys() & days.keys()}
        return {day: sorted(series) for day, series in (found or {}).items() if series}

    def active(self, s: Scan, sids: list[int] | None, lo: int, hi: int) -> list[int]:
        """Of `sids` (None: every series), those that may hold an event of the scan in [lo, hi): by the 5-minute
        series rollups, or for a read of stays by the state rollups of its hours or day (a stay ends there).
        Blocks hold a whole (series, day): the raw edge of an aggregate is minutes of a cold day, in which most
        of a home's series are quiet, and most series have no stays at all (numbers are no state); their
        blocks are then not read."""
        if sids is not None and not sids:
            return []
        wanted = self.seeking((state_rollups if s.categorical else rollups).c.series, sids)
        if s.categorical and hi - lo > EDGE_US and lo // DAY_US == (hi - 1) // DAY_US:
            return self._active_on(s, sids, lo // DAY_US)
        if s.categorical:
            sr = state_rollups.c
            period, width = (1, HOUR_US) if hi - lo <= EDGE_US else (2, DAY_US)
            q = select(sr.series).distinct().where(
                wanted, sr.period == period, sr.bucket >= lo // width, sr.bucket <= (hi - 1) // width,
                sr.dn > 0 if s.durations else sr.left + sr.dn > 0)
        else:
            r = rollups.c
            q = select(r.series).distinct().where(wanted, r.period == 0, r.bucket >= lo // FIVE_MIN_US,
                                                  r.bucket <= (hi - 1) // FIVE_MIN_US, r.n > 0)
        return sorted(int(row[0]) for row in self.conn.execute(q).all())

    def _active_on(self, s: Scan, sids: list[int] | None, day: int) -> list[int]:
        """`active` for a read of stays over a whole UTC day (or most of it), from the daily state rollups of
        ACTIVE_DAYS days at once (the day and those a scan in its direction reads next), not a query a day: a
        week's stays read asked seven times for ~200 series a day."""
        key = (None if sids is None else tuple(sids), bool(s.durations), s.desc)
        found = self._active_days.get(key)
        if found is None or day not in found:
            first = day - ACTIVE_DAYS + 1 if s.desc else day
            sr = state_rollups.c
            q = select(sr.bucket, sr.series).distinct().where(
                self.seeking(sr.series, sids), sr.period == 2, sr.bucket >= first, sr.bucket < first + ACTIVE_DAYS,
                sr.dn > 0 if s.durations else sr.left + sr.dn > 0)
            found = self._active_days[key] = {d: [] for d in range(first, first + ACTIVE_DAYS)}
            for bucket, sid in self.conn.execute(q).all():
                found[int(bucket)].append(int(sid))
        return sorted(found[day])

    def compressed(self, day: int) -> bool:
        """Whether the UTC day has blocks (as a rule every day but today, and but yesterday in the hour after
        midnight: compaction.cutoff_day)."""
        return self.conn.execute(select(blocks.c.id).where(blocks.c.day == day).limit(1)).first() is not None

    # --- the scan --------------------------------------------------------------------------------------

    def _plan(self, s: Scan) -> Iterator[tuple[int, int, list[int] | None, set[int] | None]]:
        """The UTC days the scan reads, in its direction: [lo, hi) µs, the series to read there and those whose
        name matches its text."""
        f = s.f
        sids = self.matching(f)
        if s.series is not None:
            sids = [sid for sid in s.series if sids is None or sid in sids]
        named = self.named(f.text, sids) if f.text else None
        start, end = s.window or bounds(f)
        if s.after is not None:
            if s.desc:
                end = min(end, s.after[0] + 1)
            else:
                start = max(start, s.after[0])
        if start >= end:
            return
        holding = self.holding(f, sids, start, end)
        days = sorted(holding) if holding is not None else self.days(sids, start, end)
        for day in (reversed(days) if s.desc else days):
            lo, hi = max(start, day * DAY_US), min(end, (day + 1) * DAY_US)
            within = holding[day] if holding is not None else sids
            # The series active in an edge spare decoding the blocks of quiet ones; a hot day has no blocks, and its
            # index on time finds the window's events whatever their series.
            edge = hi - lo <= EDGE_US and (s.categorical or self.compressed(day))
            yield lo, hi, self.active(s, within, lo, hi) if edge or s.categorical else within, named

    def scan(self, s: Scan) -> Iterator[tuple[int, Row]]:
        left = s.limit
        for lo, hi, sids, named in self._plan(s):
            got = self._day(s, sids, named, lo, hi, left)
            yield from got
            if left is not None:
                left -= len(got)
                if left <= 0:
                    return

    def cells(self, s: Scan, columns: tuple[str, ...]) -> Iterator[tuple[Any, ...]]:
        """(series, time, *columns) of the scan's events, in no particular order and without a limit: what an
        aggregate needs, and no more. A cold block decodes only those columns (and those its filter reads),
        never the event ids and context ids a Row needs, which cost most of a block's decoding."""
        if s.desc or s.after is not None or s.limit is not None:
            raise ValueError("cells are unordered: no direction, cursor or limit")
        h = hot_events.c
        for lo, hi, sids, named in self._plan(s):
            q = select(h.series, h.ts, *(h[name] for name in columns)).where(*self._hot_clauses(s, sids, named, lo, hi))
            for part in self.conn.execute(q).partitions(WINDOW_EVENTS):  # a fetch per part, not per row
                yield from map(tuple, part)
            for sid, block, indexes in self._cold(s, sids, named, lo, hi, payloads=bool(columns) or filters_events(s)):
                first, last = indexes[0], indexes[-1] + 1
                ts = block.ts
                values = [block.values_between(first, last) if name == "value" else
                          getattr(block, BLOCK_COLUMN[name])[first:last] for name in columns]
                for i in indexes:
                    yield (sid, ts[i], *(v[i - first] for v in values))

    def left_cells(self, s: Scan) -> Iterator[tuple[Any, ...]]:
        """(series, time, state left, duration) of a read of stays (`durations`, `categorical`): what `cells(s,
        ("old_state", "duration"))` gives, in its order (so the same sums), but on a cold day a series' stays come
        from its packed row (coldstays.py), not its blocks, where that row holds all of them: the hourly state
        rollups of [lo, hi) show no negative duration (a packed row keeps stays >= 0, the durations' items every
        one). A range's raw edge (its first minutes, on a cold day) decoded the blocks of that hour of every series
        with a stay in it: 39 % of the CPU of a week's items on the year (py-spy), through the gateway's clock."""
        f = s.f
        if f.state is not None or f.old_state is not None or f.text or not s.durations or not s.categorical:
            yield from self.cells(s, ("old_state", "duration"))
            return
        h = hot_events.c
        for lo, hi, sids, named in self._plan(s):
            q = select(h.series, h.ts, h.old_state, h.duration).where(*self._hot_clauses(s, sids, named, lo, hi))
            for part in self.conn.execute(q).partitions(WINDOW_EVENTS):
                yield from map(tuple, part)
            # sids: those `active` there (a hot day: none)
            packed = coldstays.read(self.conn, lo // DAY_US, partial(self.seeking, sids=sids),
                                    self.series_of, self.day_cache) if sids else {}
            if packed:
                negative = self._negative(sids, lo, hi)
                packed = {sid: found for sid, found in packed.items() if sid not in negative}
            rest = [sid for sid in sids if sid not in packed] if sids is not None else None
            by_series: dict[int, list[tuple[Any, ...]]] = {}
            for sid, block, indexes in self._cold(s, rest, named, lo, hi):
                ts, olds, durations = block.ts, block.old_states, block.durations
                by_series.setdefault(sid, []).extend((sid, ts[i], olds[i], durations[i]) for i in indexes)
            for sid, found in packed.items():
                cells = by_series.setdefault(sid, [])
                for group in found.groups:
                    ts, durations, left = group.ts, group.durations, group.left
                    cells.extend((sid, ts[k], left, durations[k]) for k in group.window(lo, hi))
            for sid in sorted(by_series):  # as the blocks come: by series, then time
                yield from by_series[sid]

    def _negative(self, sids: list[int], lo: int, hi: int) -> set[int]:
        """Of `sids`, those with a stay of negative duration ending in the hours of [lo, hi)
        (by the hourly state rollups' least duration)."""
        sr = state_rollups.c
        q = select(sr.series).distinct().where(self.among(sr.series, sids), sr.period == 1,
                                               sr.bucket >= lo // HOUR_US, sr.bucket <= (hi - 1) // HOUR_US,
                                               sr.dn > 0, sr.dmin < 0)
        return {int(row[0]) for row in self.conn.execute(q).all()}

    def counts(self, s: Scan) -> dict[int, int]:
        """Events of the scan per series, for a scan that keeps events by their series and time alone (no
        `filters_events`): the hot tier's counted in SQL, a block's by the bisection of its time column."""
        if s.desc or s.after is not None or s.limit is not None or filters_events(s):
            raise ValueError("counts take a plain scan: no direction, cursor, limit or filter on an event's fields")
        h = hot_events.c
        out: dict[int, int] = {}
        for lo, hi, sids, named in self._plan(s):
            q = select(h.series, func.count()).where(*self._hot_clauses(s, sids, named, lo, hi)).group_by(h.series)
            for sid, n in self.conn.execute(q).all():
                out[sid] = out.get(sid, 0) + int(n)
            for sid, _, indexes in self._cold(s, sids, named, lo, hi, payloads=False):
                out[sid] = out.get(sid, 0) + len(indexes)
        return out

    def states(self, sids: list[int], lo: int, hi: int) -> list[tuple[int, str | None]]:
        """(time, state) of the series' events in [lo, hi) µs, unordered: one query per tier for the whole range,
        not a day at a time as a scan plans it (a year of one switch: 366 days of queries cost more than its
        15,000 events), and of a block its time and state columns alone."""
        if not sids:
            return []
        h = hot_events.c
        out = [(int(ts), state) for ts, state in self.conn.execute(
            select(h.ts, h.state).where(h.series.in_(sids), h.ts >= lo, h.ts < hi))]
        windows = self._windows(sids, lo, hi, with_payloads=True)  # nearly all of a range's blocks hold some
        for _, _, block, lo_i, hi_i in windows:
            out += zip(block.ts[lo_i:hi_i], block.states_between(lo_i, hi_i), strict=True)
        return out

    def stay_groups(self, f: EventFilter, limit: int) -> list[StayGroup]:
        """The newest `limit` single stays in states the state rollups keep, by (time, event_id) as a scan orders
        them, grouped by entity and state left, without their order: a window whose stays are all taken (most
        of a long range's sample: whole days) is grouped as its blocks and hot rows hold them, and only the
        window in which the `limit`-th stay falls is cut by time (event ids worked out for the stays tied at the
        cut alone). No Row, no tuple per stay, no sort of the sample; a compressed stay's event id is worked
        out only when asked for (a hash of entity, time and state)."""
        s = Scan(f, desc=True, limit=limit, durations="nonneg", categorical=True)
        groups: dict[tuple[str, str], StayGroup] = {}
        taken = 0
        packable = f.state is None and f.old_state is None and not f.text  # the packed rows filter by series alone
        every = self.matching(f) is None  # no series filter: a day's hot stays are those of its active series
        hot = self._hot_stays(s, limit) if every else None
        for lo, hi, sids, named in self._plan(s):
            if sids is not None and not sids:
                continue
            packed = coldstays.read(self.conn, lo // DAY_US, None if every else partial(self.seeking, sids=sids),
                                    self.series_of, self.day_cache) if packable else {}
            if packed:  # a cold day: its stays whole from the packed rows, its blocks not read
                taken += self._stays_into(groups, s, sids, named, lo, hi, limit - taken, every, packed, hot)
                if taken >= limit:
                    return list(groups.values())
                continue
            cut = self._newest_hours(sids, lo, hi, limit - taken) if self.compressed(lo // DAY_US) else lo
            for w_lo, w_hi in ((cut, hi), (lo, cut)) if cut > lo else ((lo, hi),):
                taken += self._stays_into(groups, s, sids, named, w_lo, w_hi, limit - taken, every, ranged=hot)
                if taken >= limit:
                    return list(groups.values())
        return list(groups.values())

    def _hot_stays(self, s: Scan, limit: int) -> HotStays:
        """The hot tier's newest `limit` stays of the scan's whole range (of every series), asked once: a window's
        newest are then a slice of them, since every newer window's were all taken (a query a day cost a round
        trip and an index descent each, most of them for days the hot tier no longer holds)."""
        h = hot_events.c
        start, end = s.window or bounds(s.f)
        named = self.named(s.f.text, None) if s.f.text else None
        q = select(h.series, h.ts, h.eid, h.old_state, h.duration).where(
            *self._hot_clauses(s, None, named, start, end))
        result = self.conn.execute(q.order_by(h.ts.desc(), h.eid.desc()).limit(limit))
        try:  # the driver's tuples, not a Row each: a busy home's ~16,000 hot stays, 16.5 -> 13.5 ms
            return HotStays(result.cursor.fetchall())
        finally:
            result.close()

    def changes(self, f: EventFilter, limit: int) -> list[Change]:
        """(time, state, old state, duration_in_state) of the scan's newest `limit` events, newest first: a scan's
        order and limit (ties by event id, worked out only for them), without building the Rows (documents,
        contexts, event ids) an entity's timeline does not show; a cold block decodes its states alone. The hot
        tier is asked once for the range (a light's 2,000 newest changes span ~80 days, a query each cost more
        than their events): a day's newest hot events are among the range's newest `limit`, since every newer
        day's were all taken."""
        s = Scan(f, desc=True, limit=limit)
        out: list[Change] = []
        h = hot_events.c
        sids = self.matching(f)
        start, end = bounds(f)
        q = select(h.ts, h.eid, h.state, h.old_state, h.duration).where(
            *self._hot_clauses(s, sids, self.named(f.text, sids) if f.text else None, start, end))
        hot = self.conn.execute(q.order_by(h.ts.desc(), h.eid.desc()).limit(limit)).all()
        keys = [-row[0] for row in hot]  # ascending, for bisection
        fetched = self._newest_days(s, sids, start, end, limit, hot)
        for lo, hi, day_sids, named in self._plan(s):
            left = limit - len(out)
            rows = hot[bisect.bisect_right(keys, -hi):bisect.bisect_right(keys, -lo)][:left]
            whole = hi - lo == DAY_US and lo % DAY_US == 0 and day_sids == sids
            cold = self._cold(s, day_sids, named, lo, hi, windows=fetched.get(lo // DAY_US) if whole else None)
            if not cold:  # a hot day: SQL's order and limit are the scan's
                out += [(ts, state, old, duration) for ts, _, state, old, duration in rows]
            else:
                found = [(ts, bytes(eid), 0, (state, old, duration)) for ts, eid, state, old, duration in rows]
                for c in self._merged(s, found, cold, left):
                    if _compressed(c):
                        block, i = c[3]
                        out.append((c[0], block.states[i], block.old_states[i], block.durations[i]))
                    else:
                        out.append((c[0], *c[3]))
            if len(out) >= limit:
                return out
        return out

    def _newest_days(self, s: Scan, sids: list[int] | None, start: int, end: int, limit: int,
                     hot: list[Any]) -> dict[int, list[tuple[int, int, Block, int, int]]]:
        """The blocks (as `_windows` gives them, payloads included) of the whole days of [start, end) that hold,
        by the daily series rollups, the newest `limit` events of the scan's series, per day, in one query: a
        light's 2,000 newest changes span ~80 days, and a query for each day cost more than its events. The
        `hot` rows of the range's last, partial day come first (a meter's 2,000 are all today's: nothing to
        read). Only for a scan on series alone (the rollups count its events); a day not here is read alone,
        as before."""
        f = s.f
        if not sids or f.text or f.state is not None or f.old_state is not None:
            return {}
        first, last = -(-start // DAY_US), end // DAY_US  # the whole days
        counted = sum(1 for row in hot if row[0] >= last * DAY_US)
        if first >= last or counted >= limit:
            return {}
        r = rollups.c
        q = select(r.bucket, func.sum(r.n)).where(self.among(r.series, sids), r.period == 2, r.bucket >= first,
                                                  r.bucket < last).group_by(r.bucket)
        oldest = last
        for day, n in sorted(self.conn.execute(q).all(), reverse=True):
            oldest, counted = int(day), counted + int(n)
            if counted >= limit:
                break
        found: dict[int, list[tuple[int, int, Block, int, int]]] = {day: [] for day in range(oldest, last)}
        if oldest < last:
            for window in self._windows(sids, oldest * DAY_US, last * DAY_US, with_payloads=True):
                found[window[2].ts[0] // DAY_US].append(window)
        return found

    def _newest_hours(self, sids: list[int] | None, lo: int, hi: int, need: int) -> int:
        """Where the newest `need` stays of [lo, hi) (a day) likely begin, by the hourly state rollups: the start
        of the latest hour from which on they count `need`, else `lo`. A compressed day decodes only the
        blocks of those hours; should they hold fewer (the rollups count stays of any duration), the rest
        of the day is read after them."""
        if sids is not None and not sids:
            return lo
        sr = state_rollups.c
        q = select(sr.bucket, func.sum(sr.dn)).where(sr.period == 1, sr.dn > 0, sr.bucket >= lo // HOUR_US,
                                                   sr.bucket <= (hi - 1) // HOUR_US).group_by(sr.bucket)
        q = q.where(self.seeking(sr.series, sids))
        counted = 0
        for hour, n in sorted(self.conn.execute(q).all(), reverse=True):
            counted += int(n)
            if counted >= need:
                return max(lo, int(hour) * HOUR_US)
        return lo

    def _stays_into(self, groups: dict[tuple[str, str], StayGroup], s: Scan, sids: list[int] | None,
                    named: set[int] | None, lo: int, hi: int, limit: int, every: bool = False,
                    packed: dict[int, coldstays.Day] | None = None, ranged: HotStays | None = None) -> int:
        """The newest `limit` stays of [lo, hi) (within one day) into `groups`; how many there were. The series
        `packed` are read from their packed rows (coldstays.py), any other from its blocks. With `every` (a read
        of every series) the hot tier is not told `sids`, the series with stays that day (the state rollups
        count every stay): PostgreSQL tests `series = ANY(array)` by a walk through the array for each row, 2
        -> 31 ms for the ~200 series of a hot day's 8,700 stays. `ranged`: the hot stays of the whole read
        (`_hot_stays`), of which the window's are a slice."""
        if ranged is not None:
            hot = ranged.within(lo, hi)[:limit]
        else:
            h = hot_events.c
            q = select(h.series, h.ts, h.eid, h.old_state, h.duration).where(
                *self._hot_clauses(s, None if every else sids, named, lo, hi))
            hot = self.conn.execute(q.order_by(h.ts.desc(), h.eid.desc()).limit(limit)).all()
        cold: list[tuple[int, Any, Any]]
        if packed:
            rest = [sid for sid in sids if sid not in packed] if sids is not None else None
            cold = self._cold(s, rest, named, lo, hi) if rest is None or rest else []  # type: ignore[assignment]
            cold += [(sid, group, found) for sid, day in packed.items() for group in day.groups
                     if (found := group.window(lo, hi))]
        else:
            cold = self._cold(s, sids, named, lo, hi)  # type: ignore[assignment]
        if cold and len(hot) + sum(len(indexes) for _, _, indexes in cold) > limit:
            hot, cold = _newest(hot, cold, limit)
        by_key: dict[tuple[int, str], list[Any]] = {}
        for row in hot:
            key = (row[0], row[3])
            found = by_key.get(key)
            if found is None:
                by_key[key] = [row]
            else:
                found.append(row)
        for (sid, left), rows in by_key.items():
            _, ts, eids, _, durations = zip(*rows, strict=True)  # the columns, in C
            self._group(groups, sid, left).add(list(map(float, durations)), list(ts), partial(_eid_in, eids))
        for sid, block, indexes in cold:
            if isinstance(block, coldstays.Group):  # one state left's stays, in time order
                if isinstance(indexes, range):
                    a, b = indexes.start, indexes.stop
                    self._group(groups, sid, block.left).add(block.durations[a:b], block.ts[a:b],
                                                             partial(_eid_at, block, a))
                else:
                    self._group(groups, sid, block.left).add([block.durations[i] for i in indexes],
                                                             [block.ts[i] for i in indexes],
                                                             partial(_eid_of, block, indexes))
                continue
            olds, durations, ts = block.old_states, block.durations, block.ts
            lefts = {olds[i] for i in indexes}  # a pass per state left (a block has a few), not a call per stay
            for left in lefts:
                kept = indexes if len(lefts) == 1 else [i for i in indexes if olds[i] == left]
                self._group(groups, sid, left).add([durations[i] for i in kept],  # type: ignore[arg-type, misc]
                                                   [ts[i] for i in kept], partial(_eid_of, block, kept))
        return len(hot) + sum(len(indexes) for _, _, indexes in cold)

    def _group(self, groups: dict[tuple[str, str], StayGroup], sid: int, left: str) -> StayGroup:
        entity_id = self.series_of(sid)[1] or ""
        found = groups.get((entity_id, left))
        if found is None:
            found = groups[(entity_id, left)] = StayGroup(entity_id, left)
        return found

    def _day(self, s: Scan, sids: list[int] | None, named: set[int] | None, lo: int, hi: int,
             limit: int | None) -> list[tuple[int, Row]]:
        hot = self._hot(s, sids, named, lo, hi, limit)
        cold = self._cold(s, sids, named, lo, hi)
        if not cold:
            return hot
        ordered = self._merged(s, [(r.ts, r.eid, sid, r) for sid, r in hot], cold, limit)
        return [(c[2], c[3] if isinstance(c[3], Row) else c[3][0].row(c[3][1])) for c in ordered]

    def _merged(self, s: Scan, hot: list[Candidate], cold: list[tuple[int, Block, list[int]]],
                limit: int | None) -> list[Candidate]:
        """A day's hot events (their eid known) and cold ones ((block, index)) in the scan's order, cut to its
        cursor and limit."""
        found = hot + [(block.ts[i], None, sid, (block, i)) for sid, block, indexes in cold for i in indexes]
        found.sort(key=lambda c: c[0], reverse=s.desc)
        ordered = _break_ties(found, s.desc)
        if s.after is not None:
            ordered = [c for c in ordered if _beyond(c, s.after, s.desc)]
        return ordered if limit is None else ordered[:limit]

    def _hot(self, s: Scan, sids: list[int] | None, named: set[int] | None, lo: int, hi: int,
             limit: int | None) -> list[tuple[int, Row]]:
        h = hot_events.c
        clauses = self._hot_clauses(s, sids, named, lo, hi)
        order = [h.ts.desc(), h.eid.desc()] if s.desc else [h.ts, h.eid]
        q = select(h.series, *ROW_COLUMNS).where(*clauses).order_by(*order)
        if limit is not None:
            q = q.limit(limit)
        return [(r[0], Row(bytes(r[1]), *r[2:])) for r in self.conn.execute(q)]

    def _hot_clauses(self, s: Scan, sids: list[int] | None, named: set[int] | None, lo: int, hi: int) -> list[Any]:
        h = hot_events.c
        clauses = [h.ts >= lo, h.ts < hi]
        if sids is not None:
            clauses.append(self.among(h.series, sids))
        if s.f.state is not None:
            clauses.append(h.state == s.f.state)
        if s.f.old_state is not None:
            clauses.append(h.old_state == s.f.old_state)
        if s.f.text:
            clauses.append(or_(h.series.in_(sorted(named or ())), h.state.icontains(s.f.text, autoescape=True)))
        if s.durations:
            clauses.append(h.duration >= 0 if s.durations == "nonneg" else h.duration.is_not(None))
        if s.categorical:
            clauses.append(LEAVES_CATEGORICAL)
        if s.after is not None:
            after = tuple_(h.ts, h.eid)
            clauses.append(after < tuple_(*s.after) if s.desc else after > tuple_(*s.after))
        return clauses

    def _cold(self, s: Scan, sids: list[int] | None, named: set[int] | None, lo: int, hi: int, payloads: bool = True,
              windows: list[tuple[int, int, Block, int, int]] | None = None) -> list[tuple[int, Block, list[int]]]:
        """Per block of the day with events in [lo, hi) that pass the scan: (series, block, their indexes).
        Without `payloads`, only the time columns are read: enough for a scan that filters on nothing else.
        `windows`: the day's blocks as `_windows` gives them, read already (`_newest_days`)."""
        if sids is not None and not sids:
            return []
        day = lo // DAY_US  # a whole day's blocks all hold events of the window: their payloads come in one query
        if windows is None:
            windows = self._windows(sids, lo, hi,
                                    with_payloads=payloads and lo == day * DAY_US and hi == lo + DAY_US)
        if not payloads:
            return [(sid, block, list(range(lo_i, hi_i))) for _, sid, block, lo_i, hi_i in windows]
        self.payloads([(bid, block) for bid, _, block, _, _ in windows])
        out = []
        for _, sid, block, lo_i, hi_i in windows:
            if not _may_hold(s, block):
                continue
            indexes = self._kept(s, named, sid, block, lo_i, hi_i)
            if indexes:
                out.append((sid, block, indexes))
        return out

    def _windows(self, sids: list[int] | None, lo: int, hi: int,
                 with_payloads: bool = False) -> list[tuple[int, int, Block, int, int]]:
        """(block id, series, block, first index, end index) of each block of the series (of all: None) with
        events in [lo, hi), from its time column (and its payload `with_payloads`, in the same query): a scan
        asks this of one day, `states` of a whole range."""
        b = blocks.c
        first_day, last_day = lo // DAY_US, (hi - 1) // DAY_US
        clauses = [b.day == first_day if first_day == last_day else b.day.between(first_day, last_day),
                   b.first_ts < hi, b.last_ts >= lo]
        if sids is not None:
            clauses.append(self.among(b.series, sids))
        columns = [b.id, b.series, b.first_ts, b.last_ts, b.times, *([b.payload] if with_payloads else [])]
        windows = []
        for bid, sid, first, last, times, *payload in self.conn.execute(  # all at once: no driver call per block
                select(*columns).where(*clauses).order_by(b.series, b.first_ts)).all():
            block = self.kept_block(bid, sid, times, first, last)
            if payload and block._payload is None:
                block._payload = bytes(payload[0])
            lo_i, hi_i = bisect.bisect_left(block.ts, lo), bisect.bisect_left(block.ts, hi)
            if lo_i < hi_i:
                windows.append((bid, sid, block, lo_i, hi_i))
        return windows

    def _kept(self, s: Scan, named: set[int] | None, sid: int, block: Block, lo: int, hi: int) -> list[int]:
        """The indexes in [lo, hi) of the block's events that pass the scan: each of its tests a pass over the
        indexes still kept (a stays read keeps ~9,000 of a day's events, one Python call each cost a third of
        it), decoding a column only while some index is left to test."""
        f = s.f
        kept: list[int] = list(range(lo, hi))
        if f.state is not None:
            states = block.states
            kept = [i for i in kept if states[i] == f.state]
        if kept and f.old_state is not None:
            olds = block.old_states
            kept = [i for i in kept if olds[i] == f.old_state]
        if kept and f.text and sid not in (named or ()):
            states, text, backend = block.states, lower(self.backend, f.text), self.backend
            kept = [i for i in kept if states[i] is not None and text in lower(backend, states[i])]  # type: ignore
        if kept and s.durations:
            durations = block.durations
            whole = durations[lo:hi] if len(kept) == hi - lo else None  # every index still kept: tested in C
            if whole is None or None in whole or (s.durations == "nonneg" and min(whole) < 0):
                kept = ([i for i in kept if (d := durations[i]) is not None and d >= 0] if s.durations == "nonneg"
                        else [i for i in kept if durations[i] is not None])
        if kept and s.categorical:  # a test per distinct state left, not per event
            olds = block.old_states
            left = {olds[i] for i in kept}
            if not all(map(categorical, left)):
                kept = [i for i in kept if categorical(olds[i])]
        return kept

    # --- traces ----------------------------------------------------------------------------------------

    def by_context(self, context_id: str, kind: int) -> list[tuple[int, Row]]:
        """Events whose context id (kind 0) or parent id (kind 1) is `context_id`, in time order."""
        column = hot_events.c.ctx if kind == 0 else hot_events.c.parent
        found = [(r[0], Row(bytes(r[1]), *r[2:]))
                 for r in self.conn.execute(select(hot_events.c.series, *ROW_COLUMNS).where(column == context_id))]
        places = {(int(r[0]), int(r[1])) for r in self.conn.execute(
            select(block_contexts.c.series, block_contexts.c.day).where(
                block_contexts.c.kind == kind, block_contexts.c.key == ulid_key(context_id)))}
        clauses = [and_(blocks.c.series == sid, blocks.c.day == day) for sid, day in places]
        raw = ulid_bytes(context_id)
        if kind == 0 and raw is not None:  # events whose time is the id's own millisecond are not indexed
            millis = int.from_bytes(raw[:6], "big")
            lo, hi = millis * 1000, millis * 1000 + 1000
            touched = [bid for bid, times, first in self.conn.execute(
                select(blocks.c.id, blocks.c.times, blocks.c.first_ts).where(
                    blocks.c.day == lo // DAY_US, blocks.c.first_ts < hi, blocks.c.last_ts >= lo))
                if count_in_window(bytes(times), first, lo, hi)]
            if touched:
                clauses.append(blocks.c.id.in_(touched))
        seen = {r.eid for _, r in found}
        if clauses:
            for sid, times, first, payload in self.conn.execute(
                    select(blocks.c.series, blocks.c.times, blocks.c.first_ts, blocks.c.payload).where(or_(*clauses))):
                block = self.block(sid, times, first, payload)
                column_values = block.contexts if kind == 0 else block.parents
                for i, value in enumerate(column_values):
                    if value == context_id:
                        row = block.row(i)
                        if row.eid not in seen:
                            seen.add(row.eid)
                            found.append((sid, row))
        found.sort(key=lambda item: (item[1].ts, item[1].eid))
        return found


def filters_events(s: Scan) -> bool:
    """Whether the scan keeps events by more than their series and time (what only a block's payload says)."""
    f = s.f
    return f.state is not None or f.old_state is not None or bool(f.text) or bool(s.durations) or s.categorical


def _may_hold(s: Scan, block: Block) -> bool:
    """Whether the block may hold an event the scan keeps, from its named states alone (a block's states are
    these, decimals or none; its old states too, but where an old state is an exception): a state filter or
    a stays read then passes over most of a day's blocks without decoding a column."""
    named = block.named_states()
    for wanted in (s.f.state, s.f.old_state):
        if wanted is not None and decimal_parts(wanted) is None and wanted not in named:
            return False
    return not s.categorical or any(map(categorical, named))


Kept = dict[int, tuple[int, bytes, Block]]  # block id: (last time, time column, block)
Candidate = tuple[int, bytes | None, int, Any]  # (ts, eid if known, series, Row or (block, index))


class _IntArrayText(UserDefinedType[str]):
    """An integer array bound as its text ("{1,2,3}"), typed INTEGER[] in the statement."""

    cache_ok = True
    render_bind_cast = True

    def get_col_spec(self, **kw: Any) -> str:
        return "INTEGER[]"


class HotStays:
    """Hot rows (series, ts, eid, old_state, duration), newest first, and a window's of them."""

    __slots__ = ("rows", "_keys")

    def __init__(self, rows: list[Any]) -> None:
        self.rows = rows
        self._keys = [-row[1] for row in rows]  # ascending, for bisection

    def within(self, lo: int, hi: int) -> list[Any]:
        """Those of [lo, hi) µs, newest first."""
        return self.rows[bisect.bisect_right(self._keys, -hi):bisect.bisect_right(self._keys, -lo)]


def _newest(hot: list[Any], cold: list[tuple[int, Block, list[int]]],
            limit: int) -> tuple[list[Any], list[tuple[int, Block, list[int]]]]:
    """Of a window's stays (hot rows (series, ts, eid, ...), blocks' indexes), the newest `limit` by (time,
    event_id): the `limit`-th newest time found among the times alone, event ids worked out only for the stays
    at that time, should more of them be there than places left."""
    times = [row[1] for row in hot]
    for _, block, indexes in cold:
        ts = block.ts
        times += ts[indexes.start:indexes.stop] if isinstance(indexes, range) else [ts[i] for i in indexes]
    times.sort(reverse=True)
    edge = times[limit - 1]
    places = limit - times.index(edge)  # left for the stays at `edge`, after the newer ones
    at_edge = [(bytes(row[2]), k) for k, row in enumerate(hot) if row[1] == edge]
    at_edge += [(block.eid(i), (c, i)) for c, (_, block, indexes) in enumerate(cold) for i in indexes
                if block.ts[i] == edge]
    chosen = {mark for _, mark in sorted(at_edge, reverse=True)[:places]}
    newest_hot = [row for k, row in enumerate(hot) if row[1] > edge or (row[1] == edge and k in chosen)]
    newest_cold = []
    for c, (sid, block, indexes) in enumerate(cold):
        ts = block.ts
        kept = [i for i in indexes if ts[i] > edge or (ts[i] == edge and (c, i) in chosen)]
        if kept:
            newest_cold.append((sid, block, kept))
    return newest_hot, newest_cold


def _eid_of(block: Block | coldstays.Group, indexes: list[int], j: int) -> bytes:
    return block.eid(indexes[j])


def _eid_at(group: coldstays.Group, start: int, j: int) -> bytes:
    return group.eid(start + j)


def _eid_in(eids: tuple[Any, ...], j: int) -> bytes:
    return bytes(eids[j])


def _break_ties(found: list[Candidate], desc: bool) -> list[Candidate]:
    """Candidates sorted by time, with those at the same time ordered by event_id (worked out only for them)."""
    if len({c[0] for c in found}) == len(found):  # no two at the same time (most days): nothing to break
        return found
    out: list[Candidate] = []
    i = 0
    while i < len(found):
        j = i + 1
        while j < len(found) and found[j][0] == found[i][0]:
            j += 1
        if j - i == 1:
            out.append(found[i])
        else:
            run = [(c[0], c[1] if c[1] is not None else c[3][0].eid(c[3][1]), c[2], c[3]) for c in found[i:j]]
            run.sort(key=lambda c: c[1], reverse=desc)
            out += run
        i = j
    return out


def _compressed(candidate: Candidate) -> bool:
    """Whether a candidate is a block's event ((block, index)): its event id is known only once a tie broke on it."""
    return isinstance(candidate[3], tuple) and isinstance(candidate[3][0], Block)


def _beyond(candidate: Candidate, after: tuple[int, bytes], desc: bool) -> bool:
    ts = candidate[0]
    if ts != after[0]:
        return ts < after[0] if desc else ts > after[0]
    eid = candidate[1] if candidate[1] is not None else candidate[3][0].eid(candidate[3][1])
    return eid < after[1] if desc else eid > after[1]


def count_in_window(times: bytes, first: int, lo: int, hi: int) -> int:
    ts = decode_times(times, first)
    return bisect.bisect_left(ts, hi) - bisect.bisect_left(ts, lo)

