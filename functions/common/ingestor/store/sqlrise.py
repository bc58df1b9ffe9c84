"""Meters' rises (store/rise.py) in the SQL store's rollups: added by `write` in the batch's transaction, worked
out again for the buckets a delete cuts, and filled in for the meters of a database made before they were kept
(schema step 8), one day of one meter per transaction a little after each write, so opening the store does not
wait for it and an interrupted fill carries on where it stopped.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import Connection, insert, inspect, select, text, update

from ingestor.store import rise
from ingestor.store.model import EventFilter, Rises, Totals
from ingestor.store.rollups import PERIODS, US
from ingestor.store.sqldicts import Dictionaries
from ingestor.store.sqlread import Reader, Scan, driver_sql
from ingestor.store.sqlschema import store_state

log = logging.getLogger(__name__)


FILL = "rise_fill"  # store_state: "done", the last series filled ("7"), or a series and its last day filled ("7:20412")
FINE = PERIODS[0] * US
HOUR = PERIODS[1] * US
DAY = PERIODS[2] * US

ADD = "UPDATE rollups SET rise = COALESCE(rise, 0) + ? WHERE series = ? AND period = ? AND bucket = ?"
SET = "UPDATE rollups SET rise = ? WHERE series = ? AND period = ? AND bucket = ?"
_BEFORE = "SELECT max(bucket) FROM rollups WHERE series = ? AND period = 0 AND bucket < ? AND vn > 0"
_NEXT_DAY = "SELECT min(bucket) FROM rollups WHERE series = ? AND period = 2 AND bucket > ? AND vn > 0"
ZERO_DAY = ("UPDATE rollups SET rise = 0 WHERE series = ? AND vn > 0 AND ((period = 0 AND bucket >= ? AND bucket < ?) "
            "OR (period = 1 AND bucket >= ? AND bucket < ?) OR (period = 2 AND bucket = ?))")
_AFTER = "SELECT min(bucket) FROM rollups WHERE series = ? AND period = 0 AND bucket > ? AND vn > 0"
# The newest bucket with a reading, its newest event's time (µs after the bucket's start) and value: a value there
# is the newest reading (at one time the greatest value is the newest, as rise.py orders readings); None is an
# event without one, and the readings are then read.
_NEWEST = ("SELECT bucket, last_ts, last_value FROM rollups WHERE series = ? AND period = 0 AND vn > 0 "
           "ORDER BY bucket DESC LIMIT 1")


def _sql(conn: Connection, statement: str) -> str:
    return driver_sql(statement, conn.dialect.name)


def _rows(conn: Connection, statement: str, params: tuple[Any, ...]) -> list[Any]:
    """The driver's rows as they come: thousands of them, with no SQLAlchemy Row for each."""
    cursor = conn.connection.cursor()
    try:
        cursor.execute(_sql(conn, statement), params)
        return cursor.fetchall()
    finally:
        cursor.close()


def _one(conn: Connection, statement: str, *params: Any) -> Any:
    return conn.exec_driver_sql(_sql(conn, statement), params).scalar()


def stored(reader: Reader, sids: list[int], lo: int, hi: int) -> dict[int, list[rise.Reading]]:
    """Each series' stored readings in [lo, hi), in order: one read for them all."""
    out: dict[int, list[rise.Reading]] = {sid: [] for sid in sids}
    for sid, ts, value in reader.cells(Scan(EventFilter(), window=(lo, hi), series=tuple(sids)), ("value",)):
        if value is not None:
            out[sid].append((ts, value))
    for found in out.values():
        found.sort()
    return out


def readings(reader: Reader, sid: int, lo: int, hi: int) -> list[rise.Reading]:
    """The series' stored readings in [lo, hi), in order."""
    return stored(reader, [sid], lo, hi)[sid]


def around(reader: Reader, sid: int, lo: int, hi: int) -> tuple[rise.Reading | None, list[rise.Reading]]:
    """The series' last stored reading before `lo` (µs), however old (the 5-minute rollups say where it is),
    and its readings in [lo, hi), in order."""
    found = _one(reader.conn, _BEFORE, sid, lo // FINE)
    return _split(readings(reader, sid, lo // FINE * FINE if found is None else int(found) * FINE, hi), lo)


def _split(rows: list[rise.Reading], lo: int) -> tuple[rise.Reading | None, list[rise.Reading]]:
    """Readings in order: the last one before `lo`, and those from `lo` on."""
    earlier = [r for r in rows if r[0] < lo]
    return earlier[-1] if earlier else None, rows[len(earlier):]


def batch_changes(reader: Reader, sid: int, new: list[rise.Reading]) -> dict[rise.Key, float]:
    """What storing a series' `new` readings changes in its rises. Appending to a meter (every stored reading
    older than the new ones: the pipeline's usual case) needs only the newest stored reading, which its
    5-minute rollup holds (last_ts, last_value); otherwise the stored readings read are those from the
    5 minutes holding the predecessor of the first to those holding the successor of the last (the 5-minute
    rollups say where they are)."""
    conn = reader.conn
    newest = conn.exec_driver_sql(_sql(conn, _NEWEST), (sid,)).first()
    if newest is None:  # no reading stored yet
        return rise.changes(sid, [], new, anchored=False)
    bucket, offset, value = newest
    if value is not None and int(bucket) * FINE + int(offset) < min(new)[0]:
        return rise.changes(sid, [(int(bucket) * FINE + int(offset), float(value))], new, anchored=True)
    first, last = min(new)[0] // FINE, max(new)[0] // FINE
    before = _one(conn, _BEFORE, sid, first)
    after = _one(conn, _AFTER, sid, last)
    lo = (first if before is None else int(before)) * FINE
    hi = ((last if after is None else int(after)) + 1) * FINE
    return rise.changes(sid, readings(reader, sid, lo, hi), new, anchored=before is not None)


def apply(conn: Connection, deltas: dict[rise.Key, float], statement: str = ADD) -> None:
    if deltas:
        conn.exec_driver_sql(_sql(conn, statement), [(amount, *key) for key, amount in deltas.items()])


def meters(reader: Reader) -> list[int]:
    reader.refresh_series()
    return sorted(sid for sid, values in reader.dicts.series.items() if rise.is_meter(values))


def refresh(reader: Reader, lo: int, hi: int) -> None:
    """Work out again the rises of every meter's buckets that hold [lo, hi) (the buckets a delete cut, rebuilt
    from the readings they kept), from the readings there and the one before them."""
    conn = reader.conn
    for sid in meters(reader):
        after = _one(conn, _AFTER, sid, (hi - 1) // FINE)  # the first reading after: its predecessor may be gone
        for period, width in enumerate(PERIODS):
            w = width * US
            for bucket in {lo // w, (hi - 1) // w, *([int(after) * FINE // w] if after is not None else [])}:
                before, found = around(reader, sid, bucket * w, (bucket + 1) * w)
                sums = rise.sums(sid, found, None if before is None else before[1])
                conn.exec_driver_sql(_sql(conn, SET), (sums.get((sid, period, bucket), 0.0), sid, period, bucket))


def _fill_day(reader: Reader, sid: int, day: int) -> int:
    """Work out again the rises of a meter's buckets of one day from its readings there and the one before."""
    conn, lo, hi = reader.conn, day * DAY, (day + 1) * DAY
    before, found = around(reader, sid, lo, hi)
    conn.exec_driver_sql(_sql(conn, ZERO_DAY), (sid, lo // FINE, hi // FINE, lo // HOUR, hi // HOUR, day))
    apply(conn, rise.sums(sid, found, None if before is None else before[1]), SET)
    return len(found)


def _position(state: str) -> tuple[int, int | None]:
    """(series, last day filled of it) from the fill's state: "7" is every meter up to series 7 filled."""
    sid, _, day = state.partition(":")
    return int(sid), int(day) if day else None


def fill(conn_factory: Any, dicts: Dictionaries, backend: str, deadline: float) -> bool:
    """Fill in the rises of the meters stored before they were kept (a state left by schema step 8), one day of
    one meter per transaction, until `deadline` (time.monotonic()); True once done. `conn_factory()` gives a
    write transaction's connection (the store's `writing`): a write between two days sees the days filled
    exact and adds to them, and what it adds to a day not filled yet is worked out again when that day is; a
    stopped fill carries on from the last day it committed."""
    while True:
        with conn_factory() as conn:
            state = conn.execute(select(store_state.c.value).where(store_state.c.name == FILL)).scalar()
            if state is None or state == "done":
                return True
            reader = Reader(conn, dicts, backend)
            sid, day = _position(state)
            if day is None:
                todo = [s for s in meters(reader) if s > sid]
                if not todo:
                    conn.execute(update(store_state).where(store_state.c.name == FILL).values(value="done"))
                    return True
                sid, day = todo[0], -1
            following = _one(conn, _NEXT_DAY, sid, day)
            if following is None:
                state = str(sid)
            else:
                count = _fill_day(reader, sid, int(following))
                state = f"{sid}:{int(following)}"
                log.debug("filled in a day of a meter's rises", extra={"series": sid, "readings": count})
            conn.execute(update(store_state).where(store_state.c.name == FILL).values(value=state))
        if time.monotonic() >= deadline:
            return False


def start_fill(conn: Connection) -> None:
    """Schema step 8: the rise column, and a fill to do from the first series where there are rollups (the rows
    of a database of the layout before them are moved in later through `write`, which keeps their rises)."""
    if "rise" not in {c["name"] for c in inspect(conn).get_columns("rollups")}:  # new databases have it (step 4)
        kind = "DOUBLE PRECISION" if conn.dialect.name == "postgresql" else "REAL"
        conn.execute(text(f"ALTER TABLE rollups ADD COLUMN rise {kind}"))
    if conn.exec_driver_sql("SELECT 1 FROM rollups LIMIT 1").first() is not None:  # a new database has none
        conn.execute(insert(store_state).values(name=FILL, value="0", owner=None, beat=None))


def filled(conn: Connection) -> bool:
    state = conn.execute(select(store_state.c.value).where(store_state.c.name == FILL)).scalar()
    return state in (None, "done")


# --- reading them -----------------------------------------------------------------------------------------

def _meter_series(reader: Reader, entity_ids: list[str]) -> dict[str, int | None] | None:
    """Each entity's one meter series (None: nothing stored), or None where one has several series or a series
    that is no meter (its rises are not kept)."""
    found: dict[str, int | None] = dict.fromkeys(entity_ids)
    for sid in reader.of_entities(entity_ids):
        entity_id = reader.series_of(sid)[1]
        if found[entity_id] is not None or not rise.is_meter(reader.series_of(sid)):
            return None
        found[entity_id] = sid
    return found


def _hours(lo: int, hi: int) -> tuple[int, int, list[tuple[int, int]]]:
    """[first, last): the whole hours of [lo, hi) (µs), and its pieces of an hour at either end (at most two)."""
    first, last = -(-lo // HOUR) * HOUR, hi // HOUR * HOUR
    if first > last:  # within one hour
        return first, first, [(lo, hi)] if lo < hi else []
    return first, last, [p for p in ((lo, first), (last, hi)) if p[0] < p[1]]


def _pieces(reader: Reader, sids: list[int], lo: int, hi: int) -> dict[int, tuple[float, bool, bool]]:
    """Each meter's rise over [lo, hi) (within one hour) from its raw readings and the one before them, whether
    it has a reading there, and whether it has one in the hour before that hour (up to `lo`). The meters read
    in the hour before are read together, from the earliest 5 minutes holding one of their readings before."""
    hour_before = lo // HOUR * HOUR - HOUR
    start = {}
    for sid in sids:
        found = _one(reader.conn, _BEFORE, sid, lo // FINE)
        start[sid] = lo // FINE * FINE if found is None else int(found) * FINE
    near = [sid for sid in sids if start[sid] >= hour_before]
    found = stored(reader, near, min(start[sid] for sid in near), hi) if near else {}
    out = {}
    for sid in sids:
        before, inside = _split(found[sid] if sid in found else readings(reader, sid, start[sid], hi), lo)
        out[sid] = (sum(rise.rises(inside, None if before is None else before[1])), bool(inside),
                    before is not None and before[0] >= hour_before)
    return out


def totals(reader: Reader, weights: dict[str, float], lo: int, hi: int) -> Totals | None:
    """Per hour of [lo, hi) (µs) with a reading of any of the meters: the sum of their rises times their
    weights, how many of them have a reading there and how many one in the hour before. Whole hours are summed
    in the database (a year of ten meters is 87,600 rollup rows and 8,761 results), an hour cut by either end
    of the range from its raw readings. None where the rises do not answer (see _meter_series; a fill under
    way)."""
    sids = _meter_series(reader, list(weights))
    if sids is None or not filled(reader.conn):
        return None
    weight = {sid: weights[e] for e, sid in sids.items() if sid is not None}
    out = Totals([], [], [], [])
    if not weight:
        return out
    first, last, pieces = _hours(lo, hi)
    found: dict[int, list[float]] = {}  # hour -> [energy, meters, meters before]
    for a, b in pieces:
        for sid, (amount, read, before) in _pieces(reader, list(weight), a, b).items():
            w = weight[sid]
            if read:
                acc = found.setdefault(a // HOUR * HOUR, [0.0, 0, 0])
                acc[0], acc[1], acc[2] = acc[0] + amount * w, acc[1] + 1, acc[2] + before
    if first < last:
        marks = ", ".join("?" * len(weight))
        if set(weight.values()) == {1.0}:
            amount_sql, params = "rise", list(weight)
        else:
            amount_sql = f"rise * CASE series {' '.join('WHEN ? THEN ?' for _ in weight)} END"
            params = [x for sid, w in weight.items() for x in (sid, w)] + list(weight)
        statement = (f"SELECT bucket, SUM({amount_sql}), COUNT(*) FROM rollups WHERE series IN ({marks}) "
                     "AND period = 1 AND bucket >= ? AND bucket < ? AND vn > 0 GROUP BY bucket ORDER BY bucket")
        rows = _rows(reader.conn, statement, (*params, first // HOUR - 1, last // HOUR))
        counts = {bucket: count for bucket, _, count in rows}
        for bucket, amount_sum, count in rows:
            if bucket >= first // HOUR:
                found[bucket * HOUR] = [amount_sum or 0.0, count, counts.get(bucket - 1, 0)]
    for hour in sorted(found):
        out.start.append(hour)
        out.energy.append(found[hour][0])
        out.meters.append(int(found[hour][1]))
        out.before.append(int(found[hour][2]))
    return out


MEANS = ("SELECT bucket, (0.0 + (vsum / vn) * vn) / vn FROM rollups WHERE series = ? AND period = 1 AND bucket >= ? "
         "AND bucket < ? AND vn > 0 AND vsum IS NOT NULL ORDER BY bucket")  # sqlagg.TIER_COLUMNS' mean


def means(reader: Reader, entity_ids: list[str], first: int, last: int) -> dict[str, dict[int, float]] | None:
    """Per entity, its mean per hour of [first, last) (whole hours, µs) that has one, as `series_columns` gives
    it, and only that: a year of a price series is 8,760 rows of two numbers. None for an entity stored as
    several series (their buckets would need combining)."""
    sids: dict[str, int | None] = dict.fromkeys(entity_ids)
    for sid in reader.of_entities(entity_ids):
        entity_id = reader.series_of(sid)[1]
        if sids[entity_id] is not None:
            return None
        sids[entity_id] = sid
    return {entity_id: {} if sid is None else {bucket * HOUR: mean for bucket, mean in _rows(
        reader.conn, MEANS, (sid, first // HOUR, last // HOUR))} for entity_id, sid in sids.items()}


def per_entity(reader: Reader, entity_ids: list[str], lo: int, hi: int,
               hours_of_day: set[int] | None = None) -> dict[str, Rises] | None:
    """Each meter's rise per hour of [lo, hi) (µs) with a reading (only at those UTC hours of the day, when
    given), and whether it has one in the hour before: whole hours from the rollups, an hour cut by either end
    of the range from its raw readings. None where the rises do not answer."""
    sids = _meter_series(reader, entity_ids)
    if sids is None or not filled(reader.conn):
        return None
    first, last, pieces = _hours(lo, hi)
    wanted = None if hours_of_day is None else sorted({h % 24 for h in hours_of_day} |
                                                       {(h - 1) % 24 for h in hours_of_day})
    where = "" if wanted is None else f" AND bucket % 24 IN ({', '.join(str(h) for h in wanted)})"
    statement = ("SELECT bucket, rise FROM rollups WHERE series = ? AND period = 1 AND bucket >= ? AND bucket < ? "
                 f"AND vn > 0{where} ORDER BY bucket")
    out = {}
    for entity_id, sid in sids.items():
        found: dict[int, tuple[float, bool]] = {}
        if sid is not None:
            for a, b in pieces:
                if hours_of_day is None or a // HOUR % 24 in hours_of_day:
                    amount, read, before = _pieces(reader, [sid], a, b)[sid]
                    if read:
                        found[a // HOUR * HOUR] = (amount, before)
            rows = _rows(reader.conn, statement, (sid, first // HOUR - 1, last // HOUR)) if first < last else []
            have = {bucket for bucket, _ in rows}
            for bucket, amount in rows:
                if bucket >= first // HOUR and (hours_of_day is None or bucket % 24 in hours_of_day):
                    found[bucket * HOUR] = (amount or 0.0, bucket - 1 in have)
        hours = sorted(found)
        out[entity_id] = Rises(hours, [found[h][0] for h in hours], [found[h][1] for h in hours])
    return out
