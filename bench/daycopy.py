"""Fill the past days of a scale-benchmark SQL store (SQLite or PostgreSQL) by copying days it already holds,
shifted by whole days.

Loading a year through `load` takes ~3 hours on the shared 2 cores; a copy of a stored day takes a second or two,
so the scale benchmark loads a few weeks of distinct days and copies them back to a year (`build --base-days`).
A copy is made of the tiered layout's own rows (store/sqlschema.py), in SQL, one target day per transaction:
- `blocks`: day, first_ts and last_ts move by the shift; the blobs are unchanged, since a block's times are
  deltas from its first_ts (blocks.decode_times) and its context ULIDs are kept as offsets from each event's time;
- `cold_stays` (packed stays): day and the stays' times move;
- `block_contexts`: day moves; the key of a ULID context id (its first 8 bytes: 48-bit milliseconds and 16 random
  bits) moves with the time, as the copied block's context ids do; parent ids and hashed ids keep their key;
- `rollups`, `dim_rollups`, `state_rollups`: the buckets of the source day (5 minutes, hour, day) move by the
  shift; last_ts is relative to its bucket's start, so it needs no change; meters' rises are in `rollups.rise`.
  The 16-day buckets cannot be shifted by any number of days: the one holding the target day is made again
  from its days' rows in each table (sqlwrite.coarse_again).
Dictionaries (series, strings, docs) are shared: copies reference the same ids. Only days already in blocks are
sources (the hot tier's day or two are not copied); copies go to days that hold no block.

What a copy does not reproduce (what differs from a year loaded event by event):
- parent ids keep the source day's ULID (the payload holds them whole): a trace of a copied context finds the
  events of that context, not the children whose parent id it is, and a source day's parent id is found in the
  source day and in every copy of it;
- event ids that a block stores (those not derived from entity, time and state or type, time, context and data)
  and context ids that are not ULIDs keep their source values, so the same id appears on several days;
- what crosses a day boundary follows the source day's neighbours, not the copy's: the first reading's rise of a
  meter (from the previous day's last reading), the first change's duration_in_state and old_state, and the seconds
  of a stay that began the day before (state_rollups.secs of the earlier day, which the copy does not touch);
- a target day's rows from a neighbour (a stay's seconds spilling into it) are replaced by the source's.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Connection, inspect, text

from ingestor.store import coldstays
from ingestor.store.rollups import DAYS_PER_COARSE, PERIODS
from ingestor.store.sqlengine import engine_for
from ingestor.store.sqlwrite import coarse_again

DAY_US = 86_400_000_000
DAY_MS = 86_400_000
ULID_SLACK_MS = 2 * DAY_MS  # a ULID context key whose time lies this near its block's day is a ULID's, not a hash
WEEK = 7


COPY_CACHE_KIB = 262_144  # SQLite: every series' rollup pages are touched by each day


def stored_days(conn: Connection) -> list[int]:
    """Days (since the epoch) with blocks, oldest first."""
    return [int(d) for d, in conn.execute(text("SELECT DISTINCT day FROM blocks ORDER BY day"))]


def days_of(url: str) -> list[int]:
    """stored_days of the store at `url`."""
    engine = engine_for(url)
    try:
        with engine.connect() as conn:
            return stored_days(conn)
    finally:
        engine.dispose()


def sources_for(days: list[int]) -> list[int]:
    """The newest run of consecutive stored days, cut to whole weeks when it holds one (so a copy falls on its
    source's weekday)."""
    run: list[int] = []
    for day in reversed(days):
        if run and day != run[0] - 1:
            break
        run.insert(0, day)
    if len(run) >= WEEK:
        run = run[len(run) % WEEK:]
    return run


def source_of(target: int, sources: list[int]) -> int:
    return sources[0] + (target - sources[0]) % len(sources)


def _buckets(day: int) -> list[tuple[int, int, int]]:
    """(period, first bucket, bucket count) of a day in each rollup period."""
    return [(period, day * (86_400 // width), 86_400 // width) for period, width in enumerate(PERIODS)]


def _context_key(kind: int, key: int, day: int, shift: int) -> int:
    if kind == 0 and abs((key >> 16) - day * DAY_MS) < ULID_SLACK_MS:
        return key + ((shift * DAY_MS) << 16)
    return key


def copy_day(conn: Connection, source: int, target: int) -> int:
    """Replace `target`'s cold rows by `source`'s, shifted; in the caller's transaction. Returns events copied."""
    shift = target - source
    conn.execute(text("DELETE FROM blocks WHERE day = :day"), {"day": target})
    conn.execute(text("DELETE FROM block_contexts WHERE day = :day"), {"day": target})
    conn.execute(text(
        "INSERT INTO blocks (series, day, first_ts, last_ts, n, times, payload) "
        "SELECT series, day + :shift, first_ts + :us, last_ts + :us, n, times, payload FROM blocks "
        "WHERE day = :source ORDER BY series, first_ts"), {"shift": shift, "us": shift * DAY_US, "source": source})
    events = conn.execute(text("SELECT coalesce(sum(n), 0) FROM blocks WHERE day = :day"), {"day": target}).scalar()
    _copy_stays(conn, source, target)
    contexts = conn.execute(text("SELECT kind, key, series FROM block_contexts WHERE day = :day"), {"day": source})
    rows = [{"kind": kind, "key": _context_key(kind, key, source, shift), "series": sid, "day": target}
            for kind, key, sid in contexts]
    if rows:
        conn.execute(text("INSERT INTO block_contexts (kind, key, series, day) VALUES (:kind, :key, :series, :day)"),
                     rows)
    inspector = inspect(conn)
    for period, first, count in _buckets(target):
        moved = shift * count
        lo, hi = first - moved, first - moved + count
        for table, keys in (("rollups", "series IN (SELECT id FROM series)"),
                            ("state_rollups", "series IN (SELECT id FROM series)"),
                            ("dim_rollups", "(dim, key) IN (SELECT dim, key FROM copy_dims)")):
            columns = [c["name"] for c in inspector.get_columns(table)]
            names = ", ".join(f'"{c}"' for c in columns)
            picked = ", ".join(f"bucket + {moved}" if c == "bucket" else f'"{c}"' for c in columns)
            conn.execute(text(f"DELETE FROM {table} WHERE {keys} AND period = :period AND bucket >= :lo "
                              "AND bucket < :hi"), {"period": period, "lo": first, "hi": first + count})
            conn.execute(text(f"INSERT INTO {table} ({names}) SELECT {picked} FROM {table} "
                              f"WHERE {keys} AND period = :period AND bucket >= :lo AND bucket < :hi"),
                         {"period": period, "lo": lo, "hi": hi})
    coarse_again(conn, target // DAYS_PER_COARSE, target // DAYS_PER_COARSE + 1)
    return int(events or 0)


def _copy_stays(conn: Connection, source: int, target: int) -> None:
    """The source day's packed stays (store/coldstays.py), their times shifted, where the store keeps them."""
    if "cold_stays" not in inspect(conn).get_table_names():
        return
    conn.execute(text("DELETE FROM cold_stays WHERE day = :day"), {"day": target})
    rows = [{"series": sid, "day": target, "n": n, "stays": coldstays.shifted(bytes(blob), (target - source) * DAY_US)}
            for sid, n, blob in conn.execute(text("SELECT series, n, stays FROM cold_stays WHERE day = :day"),
                                             {"day": source})]
    if rows:
        conn.execute(text("INSERT INTO cold_stays (series, day, n, stays) VALUES (:series, :day, :n, :stays)"), rows)


def fill(url: str, first: int, last: int, sources: list[int], log: Callable[[str], None]) -> int:
    """Copy the `sources` days (consecutive, see sources_for) into every day of [first, last] that holds no block,
    newest first (a stopped fill leaves the most recent days whole); returns events copied. Resumable: days
    already holding blocks are skipped."""
    if not sources:
        raise SystemExit("no stored day to copy: load some days first")
    engine = engine_for(url, write_cache_kib=COPY_CACHE_KIB)
    try:
        with engine.connect().execution_options(writing=True) as conn:
            have = set(stored_days(conn))
            todo = [d for d in range(last, first - 1, -1) if d not in have]
            log(f"copying {len(sources)} stored days ({sources[0]}..{sources[-1]}) into {len(todo)} empty days")
            conn.execute(text("CREATE TEMP TABLE IF NOT EXISTS copy_dims AS SELECT DISTINCT dim, key FROM dim_rollups"))
            conn.commit()
            began, total = time.perf_counter(), 0
            for n, target in enumerate(todo, 1):
                with conn.begin():
                    total += copy_day(conn, source_of(target, sources), target)
                if n % 10 == 0 or n == len(todo):
                    spent = time.perf_counter() - began
                    log(f"copied {n} of {len(todo)} days: {total:,} events in {spent / 60:.1f} min "
                        f"({spent / n:.2f} s a day)")
        if engine.dialect.name == "sqlite":  # outside a transaction, where it can truncate the WAL
            raw = engine.raw_connection()
            try:
                raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
            finally:
                raw.close()
        else:  # the planner's statistics, which a table grown 5-fold in minutes lacks until autovacuum comes by
            with engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
    finally:
        engine.dispose()
    return total
