"""Writing a batch to the SQL store: the new events into the hot tier and their rollups, in one transaction.

An event already stored (by event_id, in either tier) is skipped before anything is counted, so a
redelivered batch changes nothing. Callers hold the store's write lock (sql.py), so no other writer can
slip the same event in between the check and the insert.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, and_, or_, select, text

from ingestor.normalization import coerce_state_value
from ingestor.store import compaction, rise, sqlrise
from ingestor.store import rollups as ru
from ingestor.store import rows as rw
from ingestor.store.rows import Row, Series
from ingestor.store.sqldicts import Dictionaries
from ingestor.store.sqlread import DAY_US, Reader, driver_sql
from ingestor.store.sqlschema import CAT_OLD_STATE, CAT_STATE, FLAG_VALUE_EXCEPTIONS, blocks

CHUNK = 500


def dim_keys(conn: Connection, dicts: Dictionaries, values: Series) -> tuple[int, ...]:
    """The series' key in each rollup dimension (rollups.DIMS): 0 for every event, then string ids."""
    keys = [0]
    for name in ru.DIMS[1:]:
        value = values[ru.SERIES_POS[name]]
        keys.append(dicts.string_id(conn, value) if value else 0)
    return tuple(keys)


def cat_flags(state_kept: bool, old_state_kept: bool) -> int:
    """hot_events.cat: whether the state and old_state are states the state rollups keep (ru.categorical)."""
    return (CAT_STATE if state_kept else 0) | (CAT_OLD_STATE if old_state_kept else 0)


INSERT_HOT = ("INSERT INTO hot_events (eid, series, ts, state, old_state, value, duration, attrs, ctx, parent, usr, "
              "enrich, ages, data, cat) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


executemany = compaction.executemany
"""For bulk writes: SQLAlchemy's per-row parameter handling costs more than the database's own work."""


@functools.cache
def in_hot(count: int, dialect: str) -> str:
    """The hot events at `count` (series, time) pairs, as the driver takes it: a batch's lookup compiled by
    SQLAlchemy (a join of a hundred pairs, its cache key included) cost more than the database's own work."""
    pairs = ", ".join(["(?, ?)"] * count)
    return driver_sql(f"WITH v (s, t) AS (VALUES {pairs}) SELECT h.eid FROM v "
                      "JOIN hot_events h ON h.series = v.s AND h.ts = v.t", dialect)


@functools.cache
def days_in_blocks(count: int, dialect: str) -> str:
    """Which of `count` days have blocks, as the driver takes it (asked per batch: SQLAlchemy's compilation of
    the same select, its cache key included, cost more than the database's answer)."""
    return driver_sql(f"SELECT DISTINCT day FROM blocks WHERE day IN ({', '.join(['?'] * count)})", dialect)


def stored_ids(conn: Connection, reader: Reader, candidates: dict[bytes, tuple[Series, int]]) -> set[bytes]:
    """Which of the event ids (with their series and time) are stored already, in either tier. An event can only
    collide with one of the same type and entity at the same time (all three are in what its id hashes), so
    both tiers are searched by series and time: the hot tier has no index of event ids, whose every insert
    dirtied a page of its own (ids are hashes) and cost more than the rest of the insert."""
    reader.dicts.refresh_series(conn)
    same = reader.dicts.series_of_entity
    pairs = sorted({(sid, ts) for values, ts in candidates.values() for sid in same(values[0], values[1])})
    found: set[bytes] = set()
    for start in range(0, len(pairs), CHUNK):
        chunk = pairs[start:start + CHUNK]
        params = tuple(x for pair in chunk for x in pair)
        found.update(eid for eid in (bytes(r[0]) for r in conn.exec_driver_sql(in_hot(len(chunk), conn.dialect.name),
                                                                               params)) if eid in candidates)
    days = sorted({ts // DAY_US for eid, (_, ts) in candidates.items() if eid not in found})
    if not days:
        return found
    compacted = {int(r[0]) for r in conn.exec_driver_sql(days_in_blocks(len(days), conn.dialect.name), tuple(days))}
    if not compacted:
        return found
    wanted: dict[tuple[int, int], dict[int, list[bytes]]] = defaultdict(lambda: defaultdict(list))
    for eid, (values, ts) in candidates.items():
        if eid not in found and ts // DAY_US in compacted:
            for sid in same(values[0], values[1]):
                wanted[(sid, ts // DAY_US)][ts].append(eid)
    if not wanted:
        return found
    places = list(wanted)
    for start in range(0, len(places), 100):
        clauses = [and_(blocks.c.series == sid, blocks.c.day == day) for sid, day in places[start:start + 100]]
        candidates_blocks = [(int(r[0]), int(r[1]), int(r[2]), bytes(r[3]), r[4]) for r in conn.execute(
            select(blocks.c.id, blocks.c.series, blocks.c.first_ts, blocks.c.times, blocks.c.day)
            .where(or_(*clauses)))]
        for bid, sid, first, times, day in candidates_blocks:
            block = reader.block(sid, times, first, None)
            times_wanted = wanted[(sid, day)]
            hits = [i for i, ts in enumerate(block.ts) if ts in times_wanted]
            if not hits:
                continue
            reader.payloads([(bid, block)])
            for i in hits:
                eid = block.eid(i)
                if eid in times_wanted[block.ts[i]]:
                    found.add(eid)
    return found


def write(conn: Connection, dicts: Dictionaries, backend: str, records: list[dict[str, Any]],
          cold_before: int | None = None) -> int:
    """Store the events of `records` not stored yet, and add them to the rollups; returns how many.

    Events of days before `cold_before` (days since the epoch) go straight into their series' blocks, as
    compaction would put them (a bulk load of history; merged with what the blocks hold); the rest go to
    the hot tier."""
    reader = Reader(conn, dicts, backend)
    fresh: dict[bytes, dict[str, Any]] = {}
    candidates: dict[bytes, tuple[Series, int]] = {}
    for record in records:
        eid = bytes.fromhex(record["event_id"])
        if eid not in fresh:
            fresh[eid] = record
            candidates[eid] = (rw.series_of(record), rw.micros_of(record["time_fired"]))
    for eid in stored_ids(conn, reader, candidates):
        del fresh[eid]
    if not fresh:
        return 0
    bodies: dict[bytes, int] = {}

    def collect(body: bytes) -> int:
        return bodies.setdefault(body, -len(bodies) - 1)

    split = [(candidates[eid][0], rw.split(record, collect, candidates[eid][1], eid)) for eid, record in fresh.items()]
    ids = dicts.doc_ids(conn, bodies)
    real = {temporary: ids[body] for body, temporary in bodies.items()}
    deltas = ru.Deltas()
    values: list[tuple[Any, ...]] = []
    cold: dict[tuple[int, int], list[Row]] = defaultdict(list)
    series_keys: dict[Series, tuple[int, tuple[int, ...], bool]] = {}  # id, dimension keys, a meter
    new_readings: dict[int, list[rise.Reading]] = defaultdict(list)
    string_id = dicts.string_id
    categorical = ru.categorical
    add = deltas.add
    # Each event with its documents' real ids, read from the split's fields (a Row's attributes cost more), made a
    # Row again only for the cold tier.
    for series_values, (eid, ts, state, old_state, value, duration, attrs, ctx, parent, user, enrich, ages,
                        data) in split:
        attrs, enrich, data = real.get(attrs, attrs), real.get(enrich, enrich), real.get(data, data)
        known = series_keys.get(series_values)
        if known is None:
            sid = dicts.series_id(conn, series_values)
            known = series_keys[series_values] = (sid, dim_keys(conn, dicts, series_values),
                                                   rise.is_meter(series_values))
        sid, dims, meter = known
        state_kept, old_state_kept = categorical(state), categorical(old_state)  # once per event
        if value is not None and meter:
            new_readings[sid].append((ts, value))
        if value != coerce_state_value(state):
            dicts.flag(conn, sid, FLAG_VALUE_EXCEPTIONS)
        if cold_before is not None and ts // DAY_US < cold_before:
            cold[(sid, ts // DAY_US)].append(Row(eid, ts, state, old_state, value, duration, attrs, ctx, parent,
                                                 user, enrich, ages, data))
        else:
            values.append((eid, sid, ts, state, old_state, value, duration, attrs, ctx, parent, user, enrich, ages,
                           data, cat_flags(state_kept, old_state_kept)))  # INSERT_HOT's columns
        add(sid, dims, ts, value, string_id(conn, state) if state_kept else None,  # type: ignore[arg-type]
            string_id(conn, old_state) if old_state_kept else None, duration)  # type: ignore[arg-type]
    rises: dict[rise.Key, float] = {}
    for sid, found in new_readings.items():  # from the readings stored before this batch's
        rises.update(sqlrise.batch_changes(reader, sid, found))
    executemany(conn, INSERT_HOT, values)
    if cold:
        stored = {(int(sid), int(day)) for sid, day in conn.execute(
            select(blocks.c.series, blocks.c.day).distinct().where(blocks.c.day.in_(sorted({d for _, d in cold}))))}
        block_rows: list[tuple[Any, ...]] = []
        context_rows: list[tuple[Any, ...]] = []
        for (sid, day), rows in cold.items():
            if (sid, day) in stored:  # merged with what the series' blocks of that day hold
                rows = compaction.stored_rows(conn, reader, sid, day) + rows
                compaction.write_blocks(conn, reader, sid, day, sorted(rows, key=lambda r: (r.ts, r.eid)))
                continue
            rows.sort(key=lambda r: (r.ts, r.eid))
            new_blocks, new_contexts = compaction.encoded(reader, sid, day, rows)
            block_rows += new_blocks
            context_rows += new_contexts
            compaction.write_stays(conn, reader, sid, day, rows)
        executemany(conn, compaction.INSERT_BLOCK, block_rows)
        executemany(conn, compaction.INSERT_CONTEXT, context_rows)
    apply(conn, ru.series_params(deltas), ru.dim_params(deltas), ru.state_params(deltas))
    sqlrise.apply(conn, rises)
    return len(values) + sum(len(rows) for rows in cold.values())


def apply(conn: Connection, series_rows: list[tuple[Any, ...]], dim_rows: list[tuple[Any, ...]],
          state_rows: list[tuple[Any, ...]]) -> None:
    """Add rows of (key..., values...) to the three rollup tables."""
    executemany(conn, ru.UPSERT_SERIES, series_rows)
    executemany(conn, ru.UPSERT_DIMS, dim_rows)
    executemany(conn, ru.UPSERT_STATES, state_rows)


def coarse_again(conn: Connection, lo: int, hi: int, tables: tuple[str, ...] = tuple(ru.COARSE_FROM_DAYS)) -> None:
    """The COARSE buckets [lo, hi) of `tables` made again from their days' rows (rollups.COARSE_FROM_DAYS), every
    key of a table sought to its days and 16-day buckets (the tables are clustered on their keys, period and bucket
    after them: `period = 2` alone reads every 5-minute row ever written, tens of millions in a year)."""
    params = {"lo": lo, "hi": hi}
    for table in tables:
        for keys in _every_key(table, conn.dialect.name):
            conn.execute(text(f"DELETE FROM {table} WHERE {keys} AND period = {ru.COARSE} AND bucket >= :lo "
                              "AND bucket < :hi"), params)
            conn.execute(text(ru.COARSE_FROM_DAYS[table].format(keys=keys)), params)


def _every_key(table: str, dialect: str) -> list[str]:
    """Conditions that together take every key of a rollup table (a superset: a key with no rows costs one seek):
    the series; per dimension 0 and the strings that are a value of its series field (sqlwrite.dim_keys)."""
    if table != "dim_rollups":
        return [_among("series", "SELECT id FROM series", dialect)]
    return ["dim = 0 AND key = 0"] + [
        f"dim = {dim} AND " + _among("key", f"SELECT 0 UNION SELECT id FROM strings WHERE value IN "
                                            f"(SELECT {name} FROM series)", dialect)
        for dim, name in enumerate(ru.DIMS) if dim]


def _among(column: str, keys: str, dialect: str) -> str:
    """`column` in the keys a subquery selects, as a condition the index is sought by, key after key: PostgreSQL
    seeks each element of an array, where it may join a subquery by scanning the table."""
    return f"{column} = ANY(ARRAY({keys}))" if dialect == "postgresql" else f"{column} IN ({keys})"
