"""The cold tier's stays kept apart, packed: one `cold_stays` row per (series, day) with blocks, beside them.

The duration anomalies sample the newest 50,000 stays (events leaving a state the state rollups keep, with a
duration_in_state >= 0). Read from blocks, each stay cost its block's fetch and the decoding of its time, state
and exception columns: ~1,100 blocks for a week's ~37,000 cold stays, most of the endpoint's time. A cold day
never changes but through compaction, a recut or a delete, which write its blocks again; each writes this row
in the same transaction (compaction.write_blocks), so row and blocks always say the same. The row holds the
day's stays alone, grouped by the state they left (a group is then a slice, not a filter per stay):

    u32 header length | header JSON | times int64[n] | durations float64[n] | states uint16[n]

times in µs, in (time, event_id) order within a group; header: {"st": distinct states (those left, then those
entered), "g": [[state left's index, count], ...], "x": {"k": event id hex}}. An event id is not stored where it
is derived from (entity, time, state) (ingestor.event_id.state_change_id_at) as a block's is: `states` are the
states entered, for that alone. Not compressed: zlib took a packed day from ~20 to ~16 bytes a stay (~0.2 bytes
an event of a busy home) and cost a third of its decoding. A day with blocks but no row (a database from before
schema step 11) is read from its blocks (sqlread.Reader.stay_groups) until `fill` writes its rows, one (series,
day) per transaction.
"""

from __future__ import annotations

import bisect
import struct
from array import array
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Connection, delete, select, text

from ingestor import jsoncodec
from ingestor.store.blocks import Block, _derived_id
from ingestor.store.lru import SizedLRU
from ingestor.store.rollups import categorical
from ingestor.store.rows import Row
from ingestor.store.sqlschema import blocks, cold_stays

_LENGTH = struct.Struct("<I")
INSERT = "INSERT INTO cold_stays (series, day, n, stays) VALUES (?, ?, ?, ?)"

Stay = tuple[int, bytes | None, str, str | None, float]
"""(time µs, event id where it is not derived, state left, state entered, duration s)."""


def is_stay(old_state: str | None, duration: float | None) -> bool:
    """What the stays read keeps (sqlread.Scan durations="nonneg", categorical)."""
    return duration is not None and duration >= 0 and categorical(old_state)


def from_rows(rows: list[Row], event_type: str | None, entity_id: str | None) -> list[Stay]:
    """The stays of a (series, day)'s rows (sorted by time, event id), as compaction holds them."""
    state_changes = event_type == "state_changed"
    out: list[Stay] = []
    for row in rows:
        if is_stay(row.old_state, row.duration):
            derived = state_changes and _derived_id(event_type, entity_id, row.ts, row.state, None, None) == row.eid
            out.append((row.ts, None if derived else row.eid, row.old_state, row.state, row.duration))  # type: ignore
    return out


def from_blocks(found: list[Block]) -> list[Stay]:
    """The stays of a (series, day)'s blocks (in time order), decoding their time, state and exception columns
    alone: the fill of a database written before these rows."""
    out: list[Stay] = []
    for block in found:
        olds, durations = block.old_states, block.durations
        kept = [i for i in range(block.n) if is_stay(olds[i], durations[i])]
        if not kept:
            continue
        ts, states = block.ts, block.states
        stored = block._exceptions("e")
        derived = block.event_type == "state_changed"
        out += [(ts[i], block.eid(i) if i in stored or not derived else None, olds[i], states[i],  # type: ignore
                 durations[i]) for i in kept]
    return out


def pack(stays: list[Stay]) -> bytes:
    """The row's blob of a (series, day)'s stays (in time, event id order); empty without any."""
    if not stays:
        return b""
    ordered = sorted(stays, key=lambda s: s[2])  # stable: (time, event id) kept within a state left
    names: dict[str | None, int] = {}
    for stay in ordered:
        names.setdefault(stay[2], len(names))
    for stay in ordered:
        names.setdefault(stay[3], len(names))
    groups: list[list[int]] = []
    for stay in ordered:
        if groups and groups[-1][0] == names[stay[2]]:
            groups[-1][1] += 1
        else:
            groups.append([names[stay[2]], 1])
    header = jsoncodec.dumps({"st": list(names), "g": groups,
                              "x": {str(k): s[1].hex() for k, s in enumerate(ordered) if s[1] is not None}})
    columns = [array("q", [s[0] for s in ordered]), array("d", [s[4] for s in ordered]),
               array("H", [names[s[3]] for s in ordered])]
    return b"".join([_LENGTH.pack(len(header)), header, *(column.tobytes() for column in columns)])


class Group:
    """One state left's stays of a (series, day): [start, end) of its Day's columns, in (time, event id)
    order (times µs, durations s, the Day's own lists); an event id worked out when asked for (a hash of entity,
    time and state, or the one stored)."""

    __slots__ = ("left", "ts", "durations", "eid", "start", "end")

    def __init__(self, day: Day, left: str, start: int, end: int) -> None:
        self.left, self.ts, self.durations, self.eid = left, day.ts, day.durations, day.eid
        self.start, self.end = start, end

    def window(self, lo: int, hi: int) -> range:
        """The indexes of its stays in [lo, hi) µs."""
        ts, start, end = self.ts, self.start, self.end
        if ts[start] >= lo and ts[end - 1] < hi:  # the whole group (a day read whole)
            return range(start, end)
        return range(bisect.bisect_left(ts, lo, start, end), bisect.bisect_left(ts, hi, start, end))


class Day:
    """A decoded `cold_stays` row: its stays' times and durations, and their groups by state left."""

    __slots__ = ("entity_id", "groups", "ts", "durations", "_states", "_names", "_stored")

    def __init__(self, raw: bytes, event_type: str | None, entity_id: str | None) -> None:
        self.entity_id = entity_id
        self.groups: list[Group] = []
        if not raw:
            return
        size = _LENGTH.unpack_from(raw)[0]
        header = jsoncodec.loads(raw[4:4 + size])
        n = sum(count for _, count in header["g"])
        at = 4 + size
        times, durations = array("q"), array("d")
        times.frombytes(raw[at:at + 8 * n])
        durations.frombytes(raw[at + 8 * n:at + 16 * n])
        self.ts: list[int] = times.tolist()
        self.durations: list[float] = durations.tolist()
        self._states = raw[at + 16 * n:at + 18 * n]  # uint16s, decoded for the event ids asked for alone
        self._names: list[str | None] = header["st"]
        stored = header["x"]
        self._stored = {int(k): bytes.fromhex(v) for k, v in stored.items()} if stored else {}
        if event_type != "state_changed" and len(self._stored) < n:
            raise ValueError("a stay's event id is derived only for a state change")
        start = 0
        for left, count in header["g"]:
            self.groups.append(Group(self, self._names[left], start, start + count))  # type: ignore[arg-type]
            start += count

    def eid(self, k: int) -> bytes:
        """The event id of its k-th stay."""
        stored = self._stored.get(k)
        if stored is not None:
            return stored
        state = self._names[int.from_bytes(self._states[2 * k:2 * k + 2], "little")]
        return _derived_id("state_changed", self.entity_id, self.ts[k], state, None, None)


NONE = Day(b"", None, None)  # a (series, day) without stays


def write(conn: Connection, sid: int, day: int, stays: list[Stay] | None) -> None:
    """Replace the (series, day)'s row by one of `stays`; None: the day has no blocks left, nor a row."""
    conn.execute(delete(cold_stays).where(cold_stays.c.series == sid, cold_stays.c.day == day))
    if stays is not None:
        conn.exec_driver_sql(_driver(conn, INSERT), (sid, day, len(stays), pack(stays)))


def _driver(conn: Connection, statement: str) -> str:
    return statement.replace("?", "%s") if conn.dialect.name == "postgresql" else statement


CACHED_STAYS = 100_000
"""Stays the decoded days a store keeps (DayCache) hold at most: twice the duration anomalies' sample of 50,000 (a
busy home's: 43,400 stays in 994 rows of 5 cold days), so the sample's days and those of a read of other series
fit together; ~12 MB (tracemalloc: 119 bytes a stay, its time and duration as Python objects, the row's blob)."""


class DayCache(SizedLRU[tuple[int, int], Day]):
    """Decoded `cold_stays` rows kept across reads: key (series, day), version the row's blob, size its stays, at
    most `cap` (CACHED_STAYS). A read fetches the rows as ever and reuses a Day whose blob is byte for byte the one
    it was decoded from, so it always answers from its own snapshot's rows (a row changes only when compaction, a
    recut or a delete writes it again, whatever the process). Decoding a busy home's ~5 cold days of the sample
    cost ~25 ms a request, fetching them ~10. A Day is shared between reads and threads, so it and its lists are
    never changed after it is made."""

    def __init__(self, cap: int = CACHED_STAYS) -> None:
        super().__init__(cap)


def read(conn: Connection, day: int, sids: Any, series_of: Callable[[int], Any],
         cache: DayCache | None = None) -> dict[int, Day]:
    """The rows of `day` of the series `sids` (a clause on cold_stays.series; None: every series), decoded (or
    their Days kept in `cache`, decoded from the same bytes), by series; a series with blocks that day but no row
    is not among them (its blocks are read instead)."""
    c = cold_stays.c
    out = {}
    q = select(c.series, c.n, c.stays).where(c.day == day, *(() if sids is None else (sids(c.series),)))
    for sid, n, blob in conn.execute(q).all():
        if not n:  # most of a home's series-days (numbers, events that are no state change): no stay
            out[int(sid)] = NONE
            continue
        raw, key = bytes(blob), (int(sid), day)
        found = cache.get(key, raw) if cache is not None else None
        if found is None:
            values = series_of(sid)
            found = Day(raw, values[0], values[1])
            if cache is not None:
                cache.put(key, raw, found, n)
        out[int(sid)] = found
    return out


def shifted(raw: bytes, us: int) -> bytes:
    """A row's blob with its stays' times moved by `us` (a copy of a day: bench/daycopy.py)."""
    if not raw:
        return raw
    size = _LENGTH.unpack_from(raw)[0]
    n = sum(count for _, count in jsoncodec.loads(raw[4:4 + size])["g"])
    at = 4 + size
    times = array("q")
    times.frombytes(raw[at:at + 8 * n])
    return raw[:at] + array("q", [t + us for t in times]).tobytes() + raw[at + 8 * n:]


# --- filling in the rows of a database from before them ------------------------------------------------------

def unfilled(conn: Connection, after: tuple[int, int], limit: int) -> list[tuple[int, int]]:
    """(series, day) with blocks and no row, after `after` in (series, day) order: the fill's next ones."""
    q = text("SELECT DISTINCT b.series, b.day FROM blocks b WHERE (b.series > :s OR (b.series = :s AND b.day > :d)) "
             "AND NOT EXISTS (SELECT 1 FROM cold_stays c WHERE c.series = b.series AND c.day = b.day) "
             "ORDER BY b.series, b.day LIMIT :n")
    return [(int(s), int(d)) for s, d in conn.execute(q, {"s": after[0], "d": after[1], "n": limit})]


def fill_one(conn: Connection, block_of: Callable[..., Block], sid: int, day: int) -> int | None:
    """Write the row of one (series, day) from its blocks, in the caller's transaction; its stays, or None if it
    needs none any more (written meanwhile by compaction or another fill, or its blocks gone)."""
    if conn.execute(select(cold_stays.c.n).where(cold_stays.c.series == sid, cold_stays.c.day == day)).first():
        return None
    b = blocks.c
    found = [block_of(sid, times, first, payload) for times, first, payload in conn.execute(
        select(b.times, b.first_ts, b.payload).where(b.series == sid, b.day == day).order_by(b.first_ts))]
    if not found:
        return None
    stays = from_blocks(found)
    write(conn, sid, day, stays)
    return len(stays)


def fill(connect: Callable[[], Any], writing: Callable[[], Any], block_of: Callable[[Connection], Callable[..., Block]],
         batch: int = 256) -> Iterator[tuple[int, int, int]]:
    """Fill in every missing row, one (series, day) per transaction (a kill leaves each day whole or absent,
    and a rerun carries on), yielding (series, day, stays) as it goes. `connect()` gives a connection to plan
    with, `writing()` a write transaction's, `block_of(conn)` how to make a Block there."""
    after = (-1, -1)
    while True:
        with connect() as conn:
            todo = unfilled(conn, after, batch)
        if not todo:
            return
        for sid, day in todo:
            with writing() as conn:
                n = fill_one(conn, block_of(conn), sid, day)
            if n is not None:
                yield sid, day, n
        after = todo[-1]
