"""Compaction: a series' events of one UTC day move from the hot tier into the cold tier's block(s).

A UTC day is compacted once it has been over for LATE_US (an hour), oldest first, one (series, day) per
transaction: the day's hot rows and any block already there (late events merge into it) become new blocks, their
trace index entries are rewritten, and the hot rows go. A kill between two transactions leaves every event in
exactly one tier; the next write carries on. Rollups do not change: they count events, wherever they are kept.
The hour after midnight lets the late events of a day's last seconds (a batch in flight, a bridge's reconnect)
land in the hot tier, not in blocks written again for them; after it the hot tier holds today alone. Every read of
recent events takes the hot tier row by row: yesterday's kept hot too had doubled the rows a read of the newest
50,000 stays fetched and grouped, and made most reads of a week dearer than from blocks.

A day's blocks are cut by UTC hour (store.export reads a busy day a few minutes at a time, and decodes only the
blocks of those minutes): consecutive hours share a block while they hold at most SPAN_EVENTS events, so a
quiet series keeps a block or a few a day. Blocks written before this cut (a whole day of a series in parts
of equal size) are cut again the same way, one (series, day) per transaction, when there is nothing to compact.
"""

from __future__ import annotations

from itertools import groupby

from sqlalchemy import Connection, delete, func, select, text

from ingestor.store import blocks as bk
from ingestor.store import coldstays
from ingestor.store.rows import Row
from ingestor.store.sqlread import DAY_US, HOUR_US, ROW_COLUMNS, Reader, driver_sql, ulid_key
from ingestor.store.sqlschema import block_contexts, blocks, hot_events

LATE_US = HOUR_US  # how long after its end a day stays hot
BLOCK_EVENTS = 8192  # events per block at most: an hour with more is kept in several parts
SPAN_EVENTS = 128  # events at most in a block that spans more than one UTC hour


def cutoff_day(now_us: int) -> int:
    """Days before this one (days since the epoch) are compacted: today's, and yesterday's in the hour after
    midnight."""
    return (now_us - LATE_US) // DAY_US


def plan(conn: Connection, before_day: int, limit: int) -> list[tuple[int, int, int]]:
    """(series, day, hot events) to compact next: the oldest day's series, most events first."""
    oldest = conn.exec_driver_sql("SELECT min(ts) FROM hot_events").scalar()  # after every write: past SQLAlchemy
    if oldest is None or oldest // DAY_US >= before_day:
        return []
    day = oldest // DAY_US
    h = hot_events.c
    n = func.count().label("n")
    rows = conn.execute(select(h.series, n).where(h.ts >= day * DAY_US, h.ts < (day + 1) * DAY_US)
                        .group_by(h.series).order_by(n.desc()).limit(limit))
    return [(int(sid), day, int(count)) for sid, count in rows]


def trace_keys(row: Row) -> list[tuple[int, int]]:
    """The block_contexts entries of an event: (kind, key)."""
    keys = []
    if row.ctx is not None:
        raw = bk.ulid_bytes(row.ctx)
        if raw is None or row.parent is not None or int.from_bytes(raw[:6], "big") != row.ts // 1000:
            keys.append((0, ulid_key(row.ctx)))
    if row.parent is not None:
        keys.append((1, ulid_key(row.parent)))
    return keys


def parts(rows: list[Row]) -> list[list[Row]]:
    """The blocks of `rows` (one series and day, sorted): an hour each, hours in a row together while they hold
    at most SPAN_EVENTS, an hour of more than BLOCK_EVENTS in equal parts."""
    out: list[list[Row]] = []
    for _, hour in groupby(rows, key=lambda row: row.ts // HOUR_US):
        group = list(hour)
        if out and len(out[-1]) + len(group) <= SPAN_EVENTS:
            out[-1] += group
            continue
        size = -(-len(group) // -(-len(group) // BLOCK_EVENTS))
        out += [group[start:start + size] for start in range(0, len(group), size)]
    return out


def plan_recut(conn: Connection, limit: int) -> list[tuple[int, int]]:
    """(series, day) whose blocks are not cut by hour yet (written before the cut): a block of more than
    SPAN_EVENTS events spanning two hours or more."""
    # Literal numbers: SQLite uses the partial index ix_blocks_uncut only for a WHERE that repeats its own.
    q = text(f"SELECT DISTINCT series, day FROM blocks WHERE n > {int(SPAN_EVENTS)} "
             f"AND first_ts / {HOUR_US} != last_ts / {HOUR_US} LIMIT {int(limit)}")
    return [(int(sid), int(day)) for sid, day in conn.execute(q)]


def recut(conn: Connection, reader: Reader, sid: int, day: int) -> int:
    """Write the series' blocks of `day` again, cut by hour; returns how many events they hold."""
    rows = sorted(stored_rows(conn, reader, sid, day), key=lambda r: (r.ts, r.eid))
    write_blocks(conn, reader, sid, day, rows)
    return len(rows)


INSERT_BLOCK = "INSERT INTO blocks (series, day, first_ts, last_ts, n, times, payload) VALUES (?, ?, ?, ?, ?, ?, ?)"
INSERT_CONTEXT = "INSERT INTO block_contexts (kind, key, series, day) VALUES (?, ?, ?, ?)"


def encoded(reader: Reader, sid: int, day: int, rows: list[Row]) -> tuple[list[tuple], list[tuple]]:
    """The rows of `blocks` and `block_contexts` that hold `rows` (one series and day, sorted)."""
    if not rows:
        return [], []
    values = reader.series_of(sid)
    out = []
    for part in parts(rows):
        times, payload = bk.encode(part, values[0], values[1], reader.data_of)
        out.append((sid, day, part[0].ts, part[-1].ts, len(part), times, payload))
    keys = sorted({key for row in rows for key in trace_keys(row)})
    return out, [(kind, key, sid, day) for kind, key in keys]


def write_blocks(conn: Connection, reader: Reader, sid: int, day: int, rows: list[Row]) -> None:
    """Replace the series' blocks of `day` (and their trace entries and packed stays) by those of `rows`
    (sorted)."""
    conn.execute(delete(blocks).where(blocks.c.series == sid, blocks.c.day == day))
    conn.execute(delete(block_contexts).where(block_contexts.c.series == sid, block_contexts.c.day == day))
    block_rows, context_rows = encoded(reader, sid, day, rows)
    executemany(conn, INSERT_BLOCK, block_rows)
    executemany(conn, INSERT_CONTEXT, context_rows)
    write_stays(conn, reader, sid, day, rows)


def write_stays(conn: Connection, reader: Reader, sid: int, day: int, rows: list[Row]) -> None:
    """The (series, day)'s packed stays (coldstays.py), as its blocks of `rows` hold them: none without rows."""
    values = reader.series_of(sid)
    coldstays.write(conn, sid, day, coldstays.from_rows(rows, values[0], values[1]) if rows else None)


def executemany(conn: Connection, sql: str, rows: list[tuple]) -> None:
    """Many rows through the driver directly (`?` placeholders)."""
    if rows:
        conn.exec_driver_sql(driver_sql(sql, conn.dialect.name), rows)


def stored_rows(conn: Connection, reader: Reader, sid: int, day: int) -> list[Row]:
    """The rows of the series' blocks of `day`, in order."""
    out: list[Row] = []
    for times, first, payload in conn.execute(select(blocks.c.times, blocks.c.first_ts, blocks.c.payload)
                                              .where(blocks.c.series == sid, blocks.c.day == day)
                                              .order_by(blocks.c.first_ts)):
        out += reader.block(sid, times, first, payload).rows()
    return out


def compact(conn: Connection, reader: Reader, sid: int, day: int) -> int:
    """Move the series' hot events of `day` into its blocks; returns how many moved."""
    h = hot_events.c
    window = (h.series == sid, h.ts >= day * DAY_US, h.ts < (day + 1) * DAY_US)
    hot = [Row(bytes(r[0]), *r[1:]) for r in conn.execute(select(*ROW_COLUMNS).where(*window))]
    if not hot:
        return 0
    merged = sorted(stored_rows(conn, reader, sid, day) + hot, key=lambda r: (r.ts, r.eid))
    write_blocks(conn, reader, sid, day, merged)
    conn.execute(delete(hot_events).where(*window))
    return len(hot)
