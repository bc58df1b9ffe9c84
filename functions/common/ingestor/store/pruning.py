"""Deleting a time range from the SQL store, rollups included, in one transaction.

Whole buckets inside the range lose their rollup rows. The buckets the range cuts (at most one per period at
each end) are summed again from the events that stay. Stays that a removed event ended may reach back before
the range: their seconds are taken out of the buckets they covered. The 16-day buckets (COARSE) that the range
cuts are made again from their days' rows once those are. The hourly and daily rollups of whole
days removed become those days' summaries (the `aggregates` retention reads), unless retention-archive
wrote its own first: a chart over a pruned day still shows it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, select, text

from ingestor.store import compaction, sqlread, sqlrise
from ingestor.store import rollups as ru
from ingestor.store.model import EventFilter
from ingestor.store.sqldicts import Dictionaries
from ingestor.store.sqlread import DAY_US, Kept, Reader, Scan
from ingestor.store.sqlschema import (
    aggregates,
    block_contexts,
    blocks,
    cold_stays,
    dim_rollups,
    hot_events,
    rollups,
    state_rollups,
)
from ingestor.store.sqlwrite import apply, coarse_again, dim_keys

US = 1_000_000
PERIOD_NAMES = {1: "hour", 2: "day"}


def _events(reader: Reader, start: int, end: int) -> list[tuple[int, Any]]:
    return list(reader.scan(Scan(EventFilter(), window=(start, end))))


def _deltas(conn: Connection, dicts: Dictionaries, reader: Reader, found: list[tuple[int, Any]],
            deltas: ru.Deltas | None = None, keys: dict[int, tuple[int, ...]] | None = None) -> ru.Deltas:
    deltas = ru.Deltas() if deltas is None else deltas
    keys = {} if keys is None else keys
    for sid, row in found:
        if sid not in keys:
            keys[sid] = dim_keys(conn, dicts, reader.series_of(sid))
        deltas.add(sid, keys[sid], row.ts, row.value,
                   dicts.string_id(conn, row.state) if ru.categorical(row.state) else None,
                   dicts.string_id(conn, row.old_state) if ru.categorical(row.old_state) else None, row.duration)
    return deltas


def _removed(conn: Connection, dicts: Dictionaries, reader: Reader, start: int, end: int) -> tuple[ru.Deltas, int]:
    """What remove() needs of the events of [start, end): the seconds of their stays in buckets that keep their
    rows (Deltas.states there; _take_out_seconds), and how many they are. Read in windows as an export reads
    (Reader.windows, each block decoded once): a day read at once held its every event (1,471 MB for the
    archive benchmark's 1.5-million-event day). The rest of each window's deltas is dropped as it is read:
    the sums per series and 5 minutes, and the stays in buckets removed whole or made again (_made_anew), go with
    their rows (kept, they took the 1.5-million-event day's delete ~45 MB higher: 9,000 series of a few hours
    each)."""
    deltas, keys, count = ru.Deltas(), {}, 0
    kept: Kept = {}
    for lo, hi in reader.windows(start, end, sqlread.WINDOW_EVENTS):
        found = reader.scan_window(kept, lo, hi)
        count += len(found)
        _deltas(conn, dicts, reader, found, deltas, keys)
        deltas.fine.clear()
        deltas.dims_of.clear()
        for key in [k for k in deltas.states if _made_anew(k[1], k[2], start, end)]:
            del deltas.states[key]
    return deltas, count


def _made_anew(period: int, bucket: int, start: int, end: int) -> bool:
    """remove() deletes the bucket's rows (it lies inside [start, end)) or makes them again from their days (a
    COARSE bucket the range reaches into): the removed stays' seconds in it are not needed."""
    width = ru.WIDTHS[period] * US
    lo, hi = bucket * width, (bucket + 1) * width
    if period == ru.COARSE:
        return lo < end and start < hi
    return start <= lo and hi <= end


def _freeze(conn: Connection, reader: Reader, days: list[int]) -> None:
    """Hourly and daily rollups of whole days become their summaries, where retention wrote none."""
    for day in days:
        start = day * DAY_US
        if conn.execute(select(aggregates.c.entity_id).where(aggregates.c.period == "day",
                                                             aggregates.c.start_ts == start).limit(1)).first():
            continue
        summaries: dict[tuple[str, int, int], list[Any]] = {}
        for period in (1, 2):
            width = ru.PERIODS[period]
            r = rollups.c
            for sid, bucket, *values in conn.execute(
                    select(r.series, r.bucket, r.n, r.vn, r.vsum, r.vmin, r.vmax, r.last_ts).where(
                        r.period == period, r.bucket >= start // US // width,
                        r.bucket < (start + DAY_US) // US // width)):
                entity = reader.series_of(sid)[1] or ""
                acc = summaries.setdefault((entity, period, bucket), ru.new_value())
                ru.merge_value(acc, values)
        if summaries:
            conn.execute(insert(aggregates), [
                {"entity_id": entity, "period": PERIOD_NAMES[period], "start_ts": bucket * ru.PERIODS[period] * US,
                 "count": a[0], "value_count": a[1], "mean": a[2] / a[1] if a[1] else None, "min": a[3], "max": a[4]}
                for (entity, period, bucket), a in summaries.items()])


def _delete_raw(conn: Connection, reader: Reader, start: int, end: int) -> None:
    conn.execute(delete(hot_events).where(hot_events.c.ts >= start, hot_events.c.ts < end))
    first, last = -(-start // DAY_US), end // DAY_US  # whole days: [first, last)
    if first < last:
        conn.execute(delete(blocks).where(blocks.c.day >= first, blocks.c.day < last))
        conn.execute(delete(block_contexts).where(block_contexts.c.day >= first, block_contexts.c.day < last))
        conn.execute(delete(cold_stays).where(cold_stays.c.day >= first, cold_stays.c.day < last))
    for day in {start // DAY_US, (end - 1) // DAY_US} - set(range(first, last)):
        for sid in {int(r[0]) for r in conn.execute(select(blocks.c.series).where(
                blocks.c.day == day, blocks.c.first_ts < end, blocks.c.last_ts >= start))}:
            kept = [row for row in compaction.stored_rows(conn, reader, sid, day) if not start <= row.ts < end]
            compaction.write_blocks(conn, reader, sid, day, kept)


def remove(conn: Connection, dicts: Dictionaries, backend: str, start: int, end: int) -> int:
    if start >= end:
        return 0
    reader = Reader(conn, dicts, backend)
    removed, count = _removed(conn, dicts, reader, start, end)
    if not count:
        return 0
    _freeze(conn, reader, list(range(-(-start // DAY_US), end // DAY_US)))
    _delete_raw(conn, reader, start, end)
    edges: list[tuple[int, int]] = []
    for period, width in enumerate(ru.WIDTHS):
        w = width * US
        inside = (-(-start // w), end // w)  # whole buckets [lo, hi)
        if inside[0] < inside[1]:
            for table in (rollups, dim_rollups, state_rollups):
                if period in ru.TABLE_PERIODS[table.name]:
                    c = table.c
                    conn.execute(delete(table).where(c.period == period, c.bucket >= inside[0],
                                                     c.bucket < inside[1]))
        edges += [(period, b) for b in {start // w, (end - 1) // w} if not inside[0] <= b < inside[1]]
    _take_out_seconds(conn, removed, edges)
    for period, bucket in edges:  # in period order: the days before the COARSE buckets made of them
        if period == ru.COARSE:
            coarse_again(conn, bucket, bucket + 1)
        else:
            _sum_again(conn, dicts, reader, period, bucket)
    sqlrise.refresh(reader, start, end)
    return count


def _take_out_seconds(conn: Connection, removed: ru.Deltas, edges: list[tuple[int, int]]) -> None:
    """Seconds of the removed events' stays in buckets that keep their rows (all but whole buckets removed)."""
    params = [{"series": s, "period": p, "bucket": b, "state": k, "secs": a[6]}
              for (s, p, b, k), a in removed.states.items() if a[6]]
    if params:
        conn.execute(text("UPDATE state_rollups SET secs = secs - :secs WHERE series = :series AND period = :period "
                          "AND bucket = :bucket AND state = :state"), params)


def _sum_again(conn: Connection, dicts: Dictionaries, reader: Reader, period: int, bucket: int) -> None:
    """The rows of one cut bucket from the events it still holds (seconds excepted: they are kept, less the
    removed stays', since stays that end later cover this bucket too)."""
    width = ru.PERIODS[period] * US
    lo, hi = bucket * width, (bucket + 1) * width
    kept = _deltas(conn, dicts, reader, _events(reader, lo, hi))
    secs = {}
    if period in ru.STATE_PERIODS:
        s = state_rollups.c
        secs = {(sid, state): value for sid, state, value in conn.execute(
            select(s.series, s.state, s.secs).where(s.period == period, s.bucket == bucket))}
    for table in (rollups, dim_rollups, state_rollups):
        conn.execute(delete(table).where(table.c.period == period, table.c.bucket == bucket))
    states = {k: v for k, v in kept.states.items() if k[1] == period and k[2] == bucket}
    for acc in states.values():
        acc[6] = 0.0
    for (sid, state), value in secs.items():
        states.setdefault((sid, period, bucket, state), ru.new_state())[6] = value
    apply(conn, [row for row in ru.series_params(kept) if row[1:3] == (period, bucket)],  # newest times relative
          [row for row in ru.dim_params(kept) if row[2:4] == (period, bucket)],
          [(*k, *v) for k, v in states.items() if v[0] or v[1] or v[2] or abs(v[6]) > 1e-9])

