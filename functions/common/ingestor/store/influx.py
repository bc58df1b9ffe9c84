"""The event store on InfluxDB 1.x or 2.x, with the seeds' schema and InfluxQL reads.

URLs: `influxdb://[user:password@]host:8086/<database>[?rp=<retention policy>&tls=1&ca=<file>]` (1.x,
v1 HTTP API; the password may instead be the secret `influxdb-password`), and
`influxdb2://host:8086/<bucket>?org=<org>[&tls=1&ca=<file>]` (2.x; token from the secret
`influxdb-token` or INFLUXDB_TOKEN). A point is keyed by measurement, tags and time, so writing an
event again overwrites it with itself: writes are idempotent on event_id.

`&layout=homeassistant` also writes every state change as Home Assistant's `influxdb:` integration does
(halayout.py, with the options of INFLUXDB_HA_CONFIG), beside the events' own points, so dashboards built on
HA's layout keep working. The events' points are then read from their own measurements only (named by the
measurements holding an event_type tag: HA's points never have one), and deletes leave HA's points alone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ingestor import config, metrics
from ingestor.store import cursor as cursors
from ingestor.store import haconfig, influxfind, tiers
from ingestor.store import influxcounts as counts
from ingestor.store import influxones as ones
from ingestor.store import influxpackcache as packcache
from ingestor.store import influxql as iql
from ingestor.store import influxreads as reads
from ingestor.store import influxrollups as ir
from ingestor.store import influxstays as packs
from ingestor.store import influxsums as sums
from ingestor.store import rollups as ru
from ingestor.store import series as series_
from ingestor.store.halayout import HaLayout
from ingestor.store.influxtransport import ClientTransport, HttpTransport, Transport
from ingestor.store.lineprotocol import AGGREGATE_MEASUREMENTS, TAGS, aggregate_point, point, record_from
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
from ingestor.store.rollups import categorical
from ingestor.store.rows import micros_of
from ingestor.store.timerange import from_micros, to_micros
from ingestor.timeutil import parse_timestamp

SCAN_LIMIT = 200_000  # rows a client-side aggregation (durations) reads at most
# What a context causes happens after it is created: automations with delays run for hours, rarely days.
TRACE_BEFORE = dt.timedelta(hours=1)
TRACE_AFTER = dt.timedelta(days=3)
NEWEST_WINDOW = dt.timedelta(hours=1)  # a page of the newest events is looked for here first (query)
STAYS_WINDOW = dt.timedelta(days=1)  # the newest stays are read a window at a time, each 4x the one before
CHANGES_WINDOW = dt.timedelta(days=1)  # an entity's newest changes are looked for here first (changes)
Stay = tuple[str, str, int, float, str]  # (entity_id, state left, time µs, duration s, event_id)
Staying = Callable[[], str | None]  # `_staying`, read when first asked
# Plain decimals and timestamps InfluxDB can pass over when it reads stays: old states that are never kept
# (rollups.categorical; "-0.5" and other negative fractions below 1 are left to it), so a sensor once unavailable
# is not read whole, and LIMIT counts stays.
NOT_A_NUMBER = ('"old_state" !~ /^(-?[1-9][0-9]{0,16}|0)(\\.[0-9]{1,15})?$/ AND '
                '"old_state" !~ /^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}/')
MIN_US, MAX_US = -(2**63) // 1000 + 1, (2**63 - 1) // 1000  # what InfluxDB's nanosecond times hold
MAX_TIME = from_micros(MAX_US)
# Every day holding a point, bounded at both ends: GROUP BY time() ends at now() unless told so, and events
# stamped by a clock ahead lie later (the benchmark's 10 million hold 3.4 days after the time they were built).
EVERY_DAY = f"time >= {MIN_US * 1000} AND time < {MAX_US * 1000} GROUP BY time(1d) fill(none)"
# What a read of counts (or values) selects from raw points (`one` once every point has it: influxones.py) and
# from the rollups.
RAW_VALUES = ('count("state_value") AS vn, sum("state_value") AS vsum, min("state_value") AS vmin, '
              'max("state_value") AS vmax')
ROLLUP_COUNT = 'sum("n") AS n'
ROLLUP_NEWEST = f'{ROLLUP_COUNT}, max("newest") AS newest'
ROLLUP_VALUES = (f'{ROLLUP_COUNT}, sum("vn") AS vn, sum("vsum") AS vsum, min("vmin") AS vmin, max("vmax") AS vmax, '
                 'max("newest") AS newest')


logger = logging.getLogger(__name__)
_ha_refused = metrics.counter("store_ha_layout_refused_total",
                              "Batches of HA-layout points InfluxDB refused (the events themselves were stored)")
LAYOUTS = ("native", "homeassistant")


def open_influx(url: str, timeout: float | None = None) -> InfluxEventStore:
    """`timeout`: seconds a request waits for InfluxDB's answer (None: the transport's 10 s)."""
    waits = {} if timeout is None else {"timeout": timeout}
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    tls = query.get("tls", "0").lower() in ("1", "true") or parts.scheme.endswith("s")
    base = f"{'https' if tls else 'http'}://{parts.hostname}:{parts.port or 8086}"
    verify: bool | str = query.get("ca") or True
    name = unquote(parts.path.strip("/")) or "ha_events"
    layout = query.get("layout", "native")
    if layout not in LAYOUTS:
        raise ValueError(f"EVENT_STORE_URL: layout={layout!r} is not one of {', '.join(LAYOUTS)}")
    v2 = parts.scheme.startswith("influxdb2")
    ha = HaLayout(haconfig.load(), api="2" if v2 else "1") if layout == "homeassistant" else None
    if v2:
        token = config.secret("influxdb-token", "INFLUXDB_TOKEN")
        if not token or "org" not in query:
            raise ValueError("influxdb2:// needs ?org= and the secret influxdb-token (or INFLUXDB_TOKEN)")
        return InfluxEventStore(ClientTransport(base, query["org"], name, token, verify=verify, **waits), ha_layout=ha)
    password = unquote(parts.password) if parts.password else config.secret("influxdb-password", "INFLUXDB_PASSWORD")
    auth = (unquote(parts.username), password or "") if parts.username else None
    transport = HttpTransport(base, name, query.get("rp"), auth=auth, verify=verify, **waits)
    return InfluxEventStore(transport, create_database=True, ha_layout=ha)


def _newest_first(f: EventFilter, first: dt.timedelta) -> Iterator[EventFilter]:
    """`f` cut into windows from its end back, newest first, each 4x as long as the one before: a statement's
    cost in InfluxDB grows with the shards its time range touches, and the newest of a long range (a busy home's
    50,000 newest stays lie within two days) are in its first windows. Whole `f` when it has no start or end."""
    if f.start is None or f.end is None:
        yield f
        return
    end, width = f.end, first
    while end - width > f.start:
        yield dataclasses.replace(f, start=end - width, end=end)
        end, width = end - width, width * 4
    yield dataclasses.replace(f, end=end)


def _last_first(f: EventFilter, last: dt.timedelta) -> list[EventFilter]:
    """`f` as its `last` stretch, then the rest (newest first); whole when it is no longer or has no start."""
    if f.start is None or f.end is None or f.end - f.start <= last:
        return [f]
    return [dataclasses.replace(f, start=f.end - last), dataclasses.replace(f, end=f.end - last)]


def _page_windows(f: EventFilter, upper: dt.datetime) -> list[EventFilter]:
    """`f` up to `upper` as the disjoint windows a page is looked for in, newest first: its last hour, then
    windows each 4x as long as the one before (`_newest_first`) for a text or no filter on the series, else the
    rest at once. A text is matched against every point's fields a statement's range holds (3.1 s for a week of
    a busy home), and every series' newest points over every shard of a year cost ~100 ms, where the few series
    of a filter on tags are read from their newest points in ~15 ms whatever the range."""
    f = dataclasses.replace(f, end=upper)
    if f.start is None:
        return [dataclasses.replace(f, start=upper - NEWEST_WINDOW), dataclasses.replace(f, end=upper - NEWEST_WINDOW)]
    return list(_newest_first(f, NEWEST_WINDOW)) if f.text or packs.unfiltered(f) else _last_first(f, NEWEST_WINDOW)


def _hours_around(lo: int, hi: int) -> tuple[int, int]:
    """[lo, hi) µs widened to whole hours (within what InfluxDB's times hold)."""
    hour = packs.HOUR_US
    return max(lo // hour * hour, MIN_US), min(-(-hi // hour) * hour, MAX_US)


def _rows(series: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, str], dict[str, Any]]]:
    """(measurement, group tags, columns) for every row of every series."""
    for s in series:
        columns = s["columns"]
        for values in s.get("values", []):
            yield s.get("name", ""), s.get("tags") or {}, dict(zip(columns, values, strict=True))


def _columns(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for _, _, c in _rows(series)]


def _merge_into(out: dict[tuple[tuple[str | None, ...], int | None], list[Any]], series: list[dict[str, Any]],
                tags_: tuple[str, ...], bucketed: bool) -> set[tuple[tuple[str | None, ...], int | None]]:
    """Rows of counts (n; vn, vsum, vmin, vmax and newest when selected) merged into `out` per (the `tags_`
    values, bucket start µs or None unless `bucketed`); returns the keys with events. Column positions and a
    series' group are found once per series, not per row: a 30-day heatmap reads ~9,000 rows, and the
    per-row dicts cost it ~70 ms of CPU."""
    here = set()
    for s in series:
        tags = s.get("tags") or {}
        group = tuple(tags.get(t) or None for t in tags_)
        columns = s["columns"]
        at = {name: columns.index(name) for name in ("time", "n", "vn", "vsum", "vmin", "vmax", "newest")
              if name in columns}
        t_, n_, newest_ = at["time"], at["n"], at.get("newest")
        vn_, vsum_, vmin_, vmax_ = (at.get(name) for name in ("vn", "vsum", "vmin", "vmax"))
        for row in s.get("values", []):
            n = row[n_]
            if not n:
                continue
            key = (group, int(row[t_]) if bucketed else None)
            here.add(key)
            newest = int(row[newest_]) if newest_ is not None and row[newest_] is not None else -1
            vn = row[vn_] if vn_ is not None else None
            ru.merge_value(out.setdefault(key, ru.new_value()),
                           (int(n), int(vn or 0), row[vsum_] if vn else None, row[vmin_] if vn else None,
                            row[vmax_] if vn else None, newest))
    return here


_identifier = iql.identifier


class InfluxEventStore:
    def __init__(self, transport: Transport, create_database: bool = False, ha_layout: HaLayout | None = None) -> None:
        self.transport = transport
        self.backend = transport.name
        self.ha_layout = ha_layout
        self._create_database = create_database
        self._ha_reasons: set[str] = set()
        # One batch's rollups at a time: the last to sum a bucket then read it after every earlier batch's
        # points were written (threads of one write function; several write replicas could still race).
        self._rolling = threading.Lock()
        # Per marker point (influxrollups.MARKERS): whether it was found (its rollups hold every event: reads may
        # use them), and when it was last looked up.
        self._marked: dict[str, bool] = dict.fromkeys(ir.MARKERS, False)
        self._looked_up: dict[str, float] = dict.fromkeys(ir.MARKERS, -float("inf"))
        self._marked_day = -1.0
        self._decoded = packcache.PackCache()  # the packs queries read, decoded (influxpackcache.py)

    def _prepare(self) -> None:
        if self._create_database:
            self.transport.create_database()  # type: ignore[attr-defined]
            self._create_database = False

    def write(self, records: list[dict[str, Any]]) -> None:
        if not records:
            return
        self._prepare()
        if not self._rollups_ready():
            self._start_rollups()
        elif self._marked_day != time.time() // 86_400:
            self._mark_ready()
            with self._rolling:  # the day that ended (until now read from its hours): its stays in one point
                self._pack_day(int(time.time() // 86_400 - 1) * series_.DAY_US)
        self.transport.write("\n".join(point(r) for r in records))
        ha_lines = self.ha_layout.lines(records) if self.ha_layout is not None else []
        if ha_lines:
            self._write_ha(ha_lines)
        self._roll_up([micros_of(r["time_fired"]) for r in records])

    def _has_marker(self, marker: str) -> bool:
        """Whether the rollups `marker` stands for hold every event: true once its point exists (looked up again
        at most once a minute until it does; it never goes away)."""
        if not self._marked[marker] and time.monotonic() - self._looked_up[marker] >= ir.READY_RECHECK_S:
            self._looked_up[marker] = time.monotonic()
            self._marked[marker] = any(True for _ in _rows(self._select(
                f"SELECT * FROM {_identifier(marker)} LIMIT 1")))
        return self._marked[marker]

    def _rollups_ready(self) -> bool:
        return self._has_marker(ir.READY)

    def _dims_ready(self) -> bool:
        """Whether dims_* hold every event (DIMS_READY)."""
        return self._has_marker(ir.DIMS_READY)

    def _counted(self) -> str:
        """The field a count of raw event points reads: `one` once every point has it (ONES_READY)."""
        return ones.counted(self._has_marker(ir.ONES_READY))

    def _states_ready(self) -> bool:
        """Whether the stays_* count every event entering and leaving a state (STATES_READY)."""
        return self._has_marker(ir.STATES_READY)

    def _start_rollups(self) -> None:
        """A database without events gets rollups from its first write on; one that holds events written
        before rollups existed answers from raw points until `python -m ingestor.store rollups` built them."""
        if not any(True for _ in _rows(self._select(f'SELECT "event_id" FROM {self._events()} '
                                                    f"WHERE {iql.IS_EVENT} LIMIT 1"))):
            self._mark_ready(whole=True, points=True)

    def _mark_ready(self, whole: bool = False, points: bool = False) -> None:
        """READY (again, daily); DIMS_READY, STATES_READY, DEVICES_READY, PACKED_READY, SUMS_READY and COUNTS_READY
        when `whole` says every rollup (and pack) was made by this version, and ONES_READY when `points` says every
        event point was; else each as it was found."""
        now_us = time.time_ns() // 1000
        found = {m: whole or self._has_marker(m) for m in (ir.DIMS_READY, ir.STATES_READY, ir.DEVICES_READY,
                                                           ir.PACKED_READY, ir.SUMS_READY, ir.COUNTS_READY)}
        found[ir.ONES_READY] = points or self._has_marker(ir.ONES_READY)
        marks = [ir.ready_point(now_us)] + [ir.ready_point(now_us, m) for m, ok in found.items() if ok]
        self.transport.write("\n".join(marks))
        self._marked[ir.READY], self._marked_day = True, time.time() // 86_400
        self._marked.update(found)

    def build_rollups(self, progress: Callable[[str], None] = lambda _: None) -> int:
        """Sum the rollups of every day holding events from its raw points, oldest first, then mark them
        complete (reads then use them). Idempotent: safe to stop and run again. Returns the days built."""
        self._prepare()
        days = sorted({int(c["time"]) for _, _, c in _rows(self._select(
            f'SELECT count("event_id") FROM {self._events()} WHERE {iql.IS_EVENT} AND {EVERY_DAY}')) if c.get("count")})
        for n, day in enumerate(days, 1):
            self._roll_up(list(range(day, day + series_.DAY_US, ir.PERIODS["5m"] * ir.US)))
            progress(f"{n} of {len(days)} days: {from_micros(day).date()}")
        self._mark_ready(whole=True)
        return len(days)

    def _roll_up(self, times_us: list[int], whole_hours: bool = False) -> None:
        """Sum again the 5-minute buckets these times fall in, from their raw points, then their hours and
        days from the rollups below them (influxrollups.py); then their stays' packs (`whole_hours`: every
        stay of their hours read again from raw points, as after a delete, which dropped their packs)."""
        with self._rolling:
            windows, stays = self._sum_buckets(times_us)
            self._pack(times_us, None if whole_hours else (windows, stays))

    def _pack(self, times_us: list[int], fresh: tuple[list[tuple[int, int]], list[packs.Group]] | None) -> None:
        """Pack again the stays of every hour these times fall in, then of their days that are over from their
        hours (influxstays.py). `fresh`: the 5-minute buckets read again for the rollups and their stays, which
        replace theirs in their hours' packs (an hour without a whole pack is read again from raw points);
        None: the hours read whole from raw points. After the rollups: the stays' series name the entities that
        ever had a stay, this batch's too."""
        hours = sorted({t // packs.HOUR_US * packs.HOUR_US for t in times_us})
        if fresh is None:
            self._pack_hours(hours, self._staying())
        else:
            self._repack_hours(hours, *fresh)
        today = int(time.time() // 86_400) * series_.DAY_US
        for day in sorted({t // series_.DAY_US * series_.DAY_US for t in times_us}):
            if day < today:  # a past day's events (late, redelivered, or a copy): its day point again
                self._pack_day(day)

    def _repack_hours(self, hours: list[int], windows: list[tuple[int, int]], stays: list[packs.Group]) -> None:
        """The hours' packs with the stays of `windows` replaced by `stays` (read again with the batch's
        buckets, so no read of raw points but theirs): the rest of an hour was exact when last packed, as the
        rollups of the buckets a batch did not touch."""
        found, present = self._packs(packs.HOUR, hours[0], hours[-1] + packs.HOUR_US)
        broken = present - found.keys()
        self._write_packs([line for hour in hours if hour not in broken for line in packs.lines(
            packs.HOUR, hour, packs.replaced(found.get(hour, []), stays, windows, hour, hour + packs.HOUR_US))])
        if broken & set(hours):
            self._pack_hours(sorted(broken & set(hours)), self._staying())

    def _pack_hours(self, hours: list[int], staying: str | None) -> None:
        self._write_packs([line for hour in hours for line in packs.lines(
            packs.HOUR, hour, self._raw_stays(hour, hour + packs.HOUR_US, staying))])

    def _write_packs(self, lines: list[str]) -> None:
        for i in range(0, len(lines), 500):
            self.transport.write("\n".join(lines[i:i + 500]))

    def _packs(self, measurement: str, lo: int, hi: int) -> tuple[dict[int, list[packs.Group]], set[int]]:
        """The packs of `measurement` (hours or days) in [lo, hi) µs: those whole, by bucket start, and every
        bucket holding a point (one with a part missing is among these but not those). The write path's: decoded
        afresh, not from nor into the queries' cache (`_read_packs`), whose values are shared."""
        width, day = packs.HOUR_US if measurement == packs.HOUR else series_.DAY_US, series_.DAY_US
        # A day at a time, the days sent at once: a day's packs are ~0.6 MB of text InfluxDB decodes and encodes
        # on one core per statement (six days in one statement: ~200 ms).
        spans = [(a, min(a + day, hi)) for a in range(lo, hi, day)] if hi - lo <= 400 * day else [(lo, hi)]
        rows = [c for series in self._select_all([
            f"SELECT {packs.FIELDS} FROM {_identifier(measurement)} WHERE time >= {a * 1000} AND time < {b * 1000}"
            for a, b in spans]) for _, _, c in _rows(series)]
        return packs.decoded(rows, width), {int(c["time"]) // width * width for c in rows}

    def _pack_day(self, day: int) -> int:
        """A day's point from its hours' (an hour whose pack is not whole packed again from raw points)."""
        hours, present = self._packs(packs.HOUR, day, day + series_.DAY_US)
        broken = sorted(present - hours.keys())
        if broken:
            staying = self._staying()
            for hour in broken:
                hours[hour] = self._raw_stays(hour, hour + packs.HOUR_US, staying)
            self._pack_hours(broken, staying)
        day_pack = packs.merged([hours[hour] for hour in sorted(hours)])
        lines = packs.lines(packs.DAY, day, day_pack)
        # Parts of a longer pack written before (plain JSON, before packs were compressed) blanked: a read passes
        # over them, but InfluxDB would still send them.
        before = max((int(c.get("max") or 0) for _, _, c in _rows(self._select(
            f'SELECT max("part") FROM {_identifier(packs.DAY)} WHERE time >= {day * 1000} '
            f"AND time < {(day + series_.DAY_US) * 1000}"))), default=0)
        self.transport.write("\n".join(lines + packs.blanks(packs.DAY, day, len(lines), before + 1)))
        return packs.count(day_pack)

    def _raw_stays(self, lo: int, hi: int, staying: str | None,
                   f: EventFilter | None = None) -> list[packs.Group]:
        """The stays of [lo, hi) µs (of `f`'s series) read from raw points, as groups of a pack."""
        if staying == "":
            return []
        extra = [f"time >= {lo * 1000}", f"time < {hi * 1000}", "duration_in_state >= 0", NOT_A_NUMBER]
        tags = ", ".join(f'"{t}"' for t in TAGS)
        q = (f'SELECT "old_state", "duration_in_state" FROM {self._events()} '
             f"WHERE {iql.where(f or EventFilter(), extra + ([staying] if staying else []))} GROUP BY {tags}")
        return packs.from_raw((tags_, c) for _, tags_, c in _rows(self._select(q))
                              if c.get("old_state") and categorical(c["old_state"]))

    def fill_stays(self) -> Iterator[tuple[int, int, int]]:
        """Pack the stays of every day holding any (a database written before packs, or rollups summed by
        `build_rollups` meanwhile), hour by hour from raw points, then mark them whole (PACKED_READY): reads
        use them from then on. Yields (0, day, stays) per day. Safe to stop and rerun."""
        self._prepare()
        staying = self._staying()
        if self._rollups_ready():
            q = f'SELECT count("dn") AS n FROM {_identifier(ir.STAYS["1d"])} WHERE {EVERY_DAY}'
        else:
            q = f'SELECT count("event_id") AS n FROM {self._events()} WHERE {iql.IS_EVENT} AND {EVERY_DAY}'
        days = sorted({int(c["time"]) for _, _, c in _rows(self._select(q)) if c.get("n")})
        today = int(time.time() // 86_400) * series_.DAY_US
        for day in days:
            with self._rolling:
                self._pack_hours(list(range(day, day + series_.DAY_US, packs.HOUR_US)), staying)
                n = self._pack_day(day) if day < today else 0  # today's hours alone: it is not over
            yield 0, day // series_.DAY_US, n
        self.transport.write(ir.ready_point(time.time_ns() // 1000, ir.PACKED_READY))
        self._marked[ir.PACKED_READY] = True

    def fill_ones(self) -> Iterator[tuple[int, int]]:
        """Give every stored event point `one=1i` in place (influxones.py), hour by hour, then mark them all
        (ONES_READY): counts read it from then on. Yields (hour µs, points) per hour holding events. Safe to stop
        and rerun; nothing to do once marked."""
        self._prepare()
        if self._has_marker(ir.ONES_READY):
            return
        if self._rollups_ready():
            q = f'SELECT sum("n") AS n FROM {_identifier(ir.ROLLUPS["1d"])} WHERE {EVERY_DAY}'
        else:
            q = f'SELECT count("event_id") AS n FROM {self._events()} WHERE {iql.IS_EVENT} AND {EVERY_DAY}'
        days = sorted({int(c["time"]) for _, _, c in _rows(self._select(q)) if c.get("n")})
        for hour in (h for day in days for h in range(day, day + series_.DAY_US, packs.HOUR_US)):
            lines = ones.lines(self._select(
                f'SELECT "event_id" FROM {self._events()} WHERE {iql.IS_EVENT} AND time >= {hour * 1000} '
                f"AND time < {(hour + packs.HOUR_US) * 1000} GROUP BY *"))
            for i in range(0, len(lines), 5000):
                self.transport.write("\n".join(lines[i:i + 5000]))
            if lines:
                yield hour, len(lines)
        self.transport.write(ir.ready_point(time.time_ns() // 1000, ir.ONES_READY))
        self._marked[ir.ONES_READY] = True

    def _sum_buckets(self, times_us: list[int]) -> tuple[list[tuple[int, int]], list[packs.Group]]:
        """Returns the windows read again (whole 5-minute buckets) and their stays, as groups of a pack."""
        tags = ", ".join(f'"{t}"' for t in TAGS)
        windows = [(at, min(at + ir.SUM_WINDOW_US, hi)) for lo, hi in ir.runs(times_us, 300)
                   for at in range(lo, hi, ir.SUM_WINDOW_US)]
        stayed: list[tuple[dict[str, str], dict[str, Any]]] = []
        for lo, hi in windows:
            rows = [(t, c) for _, t, c in _rows(self._select(
                f'SELECT "event_id", "state_value", "duration_in_state", "old_state", "state" FROM {self._events()} '
                f"WHERE {iql.IS_EVENT} AND time >= {lo * 1000} AND time < {hi * 1000} GROUP BY {tags}"))]
            stayed += [(t, c) for t, c in rows if packs.is_stay(c.get("old_state"), c.get("duration_in_state"))]
            values, stays = ir.sums(rows)
            lines = [ir.value_point(ir.ROLLUPS["5m"], key, start, acc) for (key, start), acc in values.items()]
            lines += [ir.stay_point(ir.STAYS["5m"], key, state, start, acc)
                      for (key, start, state), acc in stays.items()]
            lines += [ir.dim_point(ir.DIMS["5m"], by, key, start, n, newest)
                      for (by, key, start), (n, newest) in ir.dim_sums(values).items()]
            if lines:
                self.transport.write("\n".join(lines))
        for below, period, seconds in (("5m", "1h", 3600), ("1h", "1d", 86_400)):
            for lo, hi in ir.runs(times_us, seconds):
                self._merge_up(below, period, seconds, lo, hi)
        return windows, packs.from_raw(stayed)

    def _merge_up(self, below: str, period: str, seconds: int, lo: int, hi: int) -> None:
        """Tier `period`'s rollups over [lo, hi) µs summed from tier `below`'s, and the packs of their counts
        (influxcounts.py) from the same rows."""
        window = f"time >= {lo * 1000} AND time < {hi * 1000} GROUP BY time({seconds}s), * fill(none)"
        lines, counted = [], []
        for _, tags, c in _rows(self._select(
                f'SELECT sum("n") AS n, sum("vn") AS vn, sum("vsum") AS vsum, min("vmin") AS vmin, '
                f'max("vmax") AS vmax, max("newest") AS newest, last("last") AS last '
                f"FROM {_identifier(ir.ROLLUPS[below])} WHERE {window}")):
            if c.get("n"):
                acc = [c["n"], c.get("vn") or 0, c.get("vsum"), c.get("vmin"), c.get("vmax"),
                       int(c.get("newest") or 0), c.get("last")]
                key = ir.rollup_key(tags)
                lines.append(ir.value_point(ir.ROLLUPS[period], key, int(c["time"]), acc))
                counted.append((int(c["time"]), key, int(c["n"])))
        lines += counts.lines(ir.COUNTS[period], lo, hi, seconds * ir.US, counted)
        lines += self._merged_stays(below, period, seconds, lo, hi)
        for _, tags, c in _rows(self._select(
                f'SELECT sum("n") AS n, max("newest") AS newest FROM {_identifier(ir.DIMS[below])} WHERE {window}')):
            if c.get("n") and tags.get("by"):
                lines.append(ir.dim_point(ir.DIMS[period], tags["by"], tags.get("key") or "", int(c["time"]),
                                          int(c["n"]), int(c.get("newest") or 0)))
        if lines:
            self.transport.write("\n".join(lines))

    def _merged_stays(self, below: str, period: str, seconds: int, lo: int, hi: int,
                      rollups: bool = True) -> list[str]:
        """The points of tier `period`'s stays over [lo, hi) µs, summed from tier `below`: its stays_* points
        (unless not `rollups`) and the packs of their durations (influxsums.py), one for every bucket, empty too."""
        window = f"time >= {lo * 1000} AND time < {hi * 1000} GROUP BY time({seconds}s), * fill(none)"
        lines = []
        packed: dict[int, list[sums.Entry]] = {at: [] for at in range(lo, hi, seconds * ir.US)}
        for _, tags, c in _rows(self._select(
                f'SELECT sum("entered") AS entered, sum("left") AS left, sum("dn") AS dn, sum("dsum") AS dsum, '
                f'min("dmin") AS dmin, max("dmax") AS dmax FROM {_identifier(ir.STAYS[below])} WHERE {window}')):
            if (c.get("dn") or c.get("entered") or c.get("left")) and tags.get("state"):
                acc = [c.get("entered") or 0, c.get("left") or 0, c.get("dn") or 0, c.get("dsum"), c.get("dmin"),
                       c.get("dmax"), 0.0]
                if rollups:
                    lines.append(ir.stay_point(ir.STAYS[period], ir.rollup_key(tags), tags["state"], int(c["time"]),
                                               acc))
                if c.get("dn"):
                    packed[int(c["time"])].append(sums.entry(ir.rollup_key(tags), tags["state"], c))
        return lines + [line for at, entries in packed.items() for line in sums.lines(ir.SUMS[period], at, entries)]

    def fill_sums(self) -> Iterator[tuple[int, int]]:
        """Pack the stay rollups of every hour and day holding any (influxsums.py) from the rollups below them (no
        raw point read), then mark them whole (SUMS_READY): the durations' items read them from then on. Yields
        (day µs, its hours' and day's entries) per day. Safe to stop and rerun; nothing to do once marked, or
        before the rollups are whole (`build_rollups` then packs them as it sums)."""
        self._prepare()
        if self._has_marker(ir.SUMS_READY) or not self._rollups_ready():
            return
        q = f'SELECT count("dn") AS n FROM {_identifier(ir.STAYS["1d"])} WHERE {EVERY_DAY}'
        days = sorted({int(c["time"]) for _, _, c in _rows(self._select(q)) if c.get("n")})
        for day in days:
            with self._rolling:
                lines = self._merged_stays("5m", "1h", 3600, day, day + series_.DAY_US, rollups=False)
                lines += self._merged_stays("1h", "1d", 86_400, day, day + series_.DAY_US, rollups=False)
                self._write_packs(lines)
            yield day, len(lines)
        self.transport.write(ir.ready_point(time.time_ns() // 1000, ir.SUMS_READY))
        self._marked[ir.SUMS_READY] = True

    def fill_counts(self) -> Iterator[tuple[int, int]]:
        """Pack the counts of every hour and day holding events (influxcounts.py) from their rollups (no raw point
        read), then mark them whole (COUNTS_READY): counts over many series read them from then on. Yields (day µs,
        its points) per day. Safe to stop and rerun; nothing to do once marked, or before the rollups are whole
        (`build_rollups` then packs them as it sums)."""
        self._prepare()
        if self._has_marker(ir.COUNTS_READY) or not self._rollups_ready():
            return
        q = f'SELECT sum("n") AS n FROM {_identifier(ir.ROLLUPS["1d"])} WHERE {EVERY_DAY}'
        for day in sorted({int(c["time"]) for _, _, c in _rows(self._select(q)) if c.get("n")}):
            with self._rolling:
                lines = self._packed_counts("1h", day, day + series_.DAY_US)
                lines += self._packed_counts("1d", day, day + series_.DAY_US)
                self._write_packs(lines)
            yield day, len(lines)
        self.transport.write(ir.ready_point(time.time_ns() // 1000, ir.COUNTS_READY))
        self._marked[ir.COUNTS_READY] = True

    def _packed_counts(self, period: str, lo: int, hi: int) -> list[str]:
        """The packs of tier `period`'s counts over [lo, hi) µs from its own rollups (the n `_merge_up` wrote)."""
        seconds = ir.PERIODS[period]
        rows = self._select(f'SELECT sum("n") AS n FROM {_identifier(ir.ROLLUPS[period])} WHERE time >= {lo * 1000} '
                            f"AND time < {hi * 1000} GROUP BY time({seconds}s), * fill(none)")
        return counts.lines(ir.COUNTS[period], lo, hi, seconds * ir.US,
                            ((int(c["time"]), ir.rollup_key(tags), int(c["n"])) for _, tags, c in _rows(rows)
                             if c.get("n")))

    def _write_ha(self, lines: list[str]) -> None:
        """HA's points, after the events': an outage raises (the batch is retried, rewriting is harmless);
        a refusal (a field type conflict HA's own writes left in the database) loses what HA would lose too,
        and is counted and logged once per reason, as the events themselves are stored."""
        try:
            self.transport.write("\n".join(lines))
        except StoreUnavailable:
            raise
        except StoreError as exc:
            _ha_refused.inc()
            reason = str(exc)
            if reason not in self._ha_reasons and len(self._ha_reasons) < 100:
                self._ha_reasons.add(reason)
                logger.error("InfluxDB refused points of HA's layout (the events are stored): %s", reason)

    def _event_measurements(self) -> list[str]:
        """The measurements of the events' own points (HA's points never carry an event_type tag)."""
        return sorted({s.get("name", "") for s in self._select('SHOW TAG VALUES WITH KEY = "event_type"')})

    def _events(self) -> str:
        """The FROM clause of the events' own points: every measurement, unless HA's points share the database
        (their fields' types would then blur the events' columns), then the event measurements by name."""
        if self.ha_layout is None:
            return iql.EVENTS
        return ", ".join(_identifier(n) for n in self._event_measurements()) or iql.NOTHING

    def delete(self, start: dt.datetime, end: dt.datetime) -> int:
        """Events of [start, end) go; the summaries of the same range (aggregates_*) and HA's points stay."""
        self._prepare()
        removed = self.count(EventFilter(start=start, end=end))
        start_ns, end_ns = to_micros(start) * 1000, to_micros(end) * 1000
        if self.backend == "influxdb1":
            self.transport.query(f"DELETE FROM {iql.EVENTS} WHERE {iql.IS_EVENT} AND time >= {start_ns} "
                                 f"AND time < {end_ns}")
        elif self.ha_layout is not None:  # 2.x deletes by predicate, without `!=` or OR: one per measurement
            for name in self._event_measurements() if removed else []:
                self.transport.delete(start_ns, end_ns, f"_measurement={_identifier(name)}")  # type: ignore
        elif set(self._measurements()) & set(AGGREGATE_MEASUREMENTS.values()):  # write the summaries back
            kept = [a for period in AGGREGATE_MEASUREMENTS for a in self.aggregates(None, period, start, end)]
            self.transport.delete(start_ns, end_ns)  # type: ignore[attr-defined]
            self.write_aggregates(kept)
        else:
            self.transport.delete(start_ns, end_ns)  # type: ignore[attr-defined]
        self._drop_rollups(start_ns, end_ns)
        return removed

    def _drop_rollups(self, start_ns: int, end_ns: int) -> None:
        """The rollups of a deleted range: every bucket it touches goes, then those it only cuts are summed
        again from what is left (5-minute ones from raw points, hours and days from the rollups below)."""
        for name, seconds in ir.PERIODS.items():
            width = seconds * 1_000_000_000
            lo, hi = start_ns // width * width, -(-end_ns // width) * width
            packed = [ir.PACKED[name], ir.SUMS[name], ir.COUNTS[name]] if name in ir.PACKED else []
            for measurement in (ir.ROLLUPS[name], ir.STAYS[name], ir.DIMS[name], *packed):
                if self.backend == "influxdb1":
                    self.transport.query(f"DELETE FROM {_identifier(measurement)} WHERE time >= {lo} AND time < {hi}")
                else:
                    self.transport.delete(lo, hi, f"_measurement={_identifier(measurement)}")  # type: ignore
        self._roll_up([start_ns // 1000, (end_ns - 1) // 1000], whole_hours=True)

    def _measurements(self) -> list[str]:
        return [str(c.get("name")) for _, _, c in _rows(self._select("SHOW MEASUREMENTS"))]

    def _select(self, q: str) -> list[dict[str, Any]]:
        self._prepare()
        return self.transport.query(q)

    def _select_all(self, statements: list[str]) -> list[list[dict[str, Any]]]:
        """Every statement's series, in order, the statements sent at once (influxreads.py): a range's tiers and
        raw edges, five to nine statements of 10-60 ms each reading every series of its measurement, then take
        about as long as the longest of them on InfluxDB's cores, not their sum."""
        self._prepare()
        return reads.all_of(self.transport.query, statements)

    def _records(self, q: str) -> list[dict[str, Any]]:
        return [record_from(columns, columns["time"], name) for name, _, columns in _rows(self._select(q))]

    def query(self, f: EventFilter, limit: int = 100, cursor: str | None = None) -> Page:
        """The newest `limit` events of `f` (before `cursor`). Without an entity or device filter the range is
        read a window at a time from its end back, its last hour first (`_page_windows`), until a page is found:
        InfluxDB reads every series and field a query touches over every shard of its range, and a page of a busy
        home lies within minutes, a text's rarer matches within hours or days; what the windows read so far holds
        the newest, what they leave out is older."""
        upper = f.end
        after: tuple[int, str] | None = None
        if cursor:
            after = cursors.decode(cursor)
            upper = min(upper or MAX_TIME, from_micros(after[0] + 1))
        keyed = None
        held = self._holding(f)
        if held is not None:  # a state's events: only the entities and days holding it are read
            keyed = self._newest(held[0], limit, after, held[1]) if held[1] else []
        elif upper is not None and f.entity_id is None and f.device_id is None:
            keyed = []
            for window in _page_windows(f, upper):
                keyed += self._newest(window, limit, after)
                if len(keyed) > limit:
                    break
        if keyed is None:
            keyed = self._newest(f, limit, after)
        page = keyed[:limit]
        more = len(keyed) > limit
        return Page([k[2] for k in page], cursors.encode(page[-1][0], page[-1][1]) if more else None)

    def _newest(self, f: EventFilter, limit: int, after: tuple[int, str] | None,
                narrowing: list[str] | None = None) -> list[tuple[int, str, dict]]:
        """(µs, event id, record) of the newest events of `f` (older than `after`), newest first: more than
        `limit` when there are more."""
        extra = ([f"time <= {after[0] * 1000}"] if after else []) + (narrowing or [])
        # LIMIT applies per measurement: the newest `limit` overall are among the union.
        tail = f"ORDER BY time DESC LIMIT {limit + 1 + (64 if after else 0)}"
        wanted, measurements = None, self._events()
        if narrowing is None and f.entity_id is None and f.device_id is None:
            wanted = self._newest_keys(f, extra, tail, limit, after)
            if not wanted:
                return []
            times = [t for t, _ in wanted]
            measurements = ", ".join(_identifier(m) for m in sorted({m for m, _ in wanted.values()}))
            entities = sorted({e for _, e in wanted.values()})
            extra = [*extra, f"time >= {min(times) * 1000}", f"time <= {max(times) * 1000}",
                     iql.entity_in(entities)]
        records = self._records(f"SELECT * FROM {measurements} WHERE {iql.where(f, extra)} {tail}")
        keyed = sorted(((to_micros(parse_timestamp(r["time_fired"])), r["event_id"], r) for r in records),
                       key=lambda k: (k[0], k[1]), reverse=True)
        if wanted is not None:
            return [k for k in keyed if (k[0], k[1]) in wanted]
        return [k for k in keyed if (k[0], k[1]) < after] if after else keyed

    def _newest_keys(self, f: EventFilter, extra: list[str], tail: str, limit: int,
                     after: tuple[int, str] | None) -> dict[tuple[int, str], tuple[str, str]]:
        """(µs, event id) -> (measurement, entity id) of the newest `limit` + 1 events of `f` older than `after`,
        from their event ids alone. InfluxDB opens a cursor per series and field a statement touches, and
        `SELECT *` over every measurement selects every measurement's fields (the rollups' too): a page read so
        (~45 fields of ~400 series) cost 0.6-0.9 s over even the last hour of a busy home, whereas the page then
        read whole lies in seconds, a few dozen series and one or two measurements."""
        keyed = sorted(((int(c["time"]), c["event_id"], name, c.get("entity_id") or "") for name, _, c in _rows(
            self._select(f'SELECT "event_id", "entity_id" FROM {self._events()} WHERE {iql.where(f, extra)} {tail}'))),
            key=lambda k: (k[0], k[1]), reverse=True)
        if after:
            keyed = [k for k in keyed if (k[0], k[1]) < after]
        return {(t, event_id): (name, entity) for t, event_id, name, entity in keyed[:limit + 1]}

    def _holding(self, f: EventFilter) -> tuple[EventFilter, list[str]] | None:
        """For a filter on a state or old state the stays keep: `f` cut to the days holding an event entering
        (or leaving) it and the clause naming the entities that hold one, by the daily stays (no clause: none
        does); None for any other filter, or stays that do not count entries yet (STATES_READY). Only those
        entities' raw points are then read: InfluxDB reads every series a statement touches, and a rare state
        such as "unavailable" lies in a few of the ~400 of a busy home (a day of every series read for it:
        3.4 s at 10 million events)."""
        wanted = [(name, getattr(f, name)) for name in ("state", "old_state") if getattr(f, name) is not None]
        if not wanted or any(not categorical(v) or "\n" in v or v.endswith("\\") for _, v in wanted) \
                or not self._rollups_ready() or not self._states_ready():
            return None  # a tag keeps neither a line break nor a trailing backslash as the field holds them
        start = max(to_micros(f.start), MIN_US) if f.start is not None else MIN_US
        end = min(to_micros(f.end), MAX_US) if f.end is not None else MAX_US
        day = series_.DAY_US
        found: dict[int, set[str]] | None = None
        for name, value in wanted:
            field = "entered" if name == "state" else "left"
            days: dict[int, set[str]] = defaultdict(set)
            for _, tags, c in _rows(self._select(
                    f'SELECT sum("{field}") AS n FROM {_identifier(ir.STAYS["1d"])} '
                    f'WHERE "state" = {iql.string(value)} '
                    f"AND time >= {max(start // day * day, MIN_US) * 1000} AND time < {end * 1000} "
                    'GROUP BY time(1d), "entity_id" fill(none)')):
                if c.get("n"):
                    days[int(c["time"])].add(tags.get("entity_id") or "")
            found = days if found is None else {d: found[d] & days[d] for d in found.keys() & days.keys()}
        held = {d: entities for d, entities in (found or {}).items() if entities}
        if not held:
            return f, []
        lo, hi = max(start, min(held)), min(end, max(held) + day)
        entities = sorted(set().union(*held.values()))
        return dataclasses.replace(f, start=from_micros(lo), end=from_micros(hi)), [iql.entity_in(entities)]

    def count(self, f: EventFilter, info: dict[str, Any] | None = None) -> int:
        return sum(acc[0] for acc in self._values(f, None, None, info, values=False).values())

    def counts(self, f: EventFilter, by: GroupBy, limit: int = 20,
               info: dict[str, Any] | None = None) -> list[tuple[str | None, int]]:
        found = self._values(f, None, by, info, values=False)
        return sorted(((key, acc[0]) for (key, _), acc in found.items() if acc[0]),
                      key=lambda kv: (-kv[1], kv[0] or ""))[:limit]

    def tallies(self, f: EventFilter, limits: dict[GroupBy, int],
                info: dict[str, Any] | None = None) -> tuple[int, dict[GroupBy, list[tuple[str | None, int]]]]:
        """One read grouped by every tag asked for (a few hundred series' rows), counted here per tag: each
        statement costs InfluxDB about as much however few rows it returns, so one per tier, not one per tag."""
        groups = tuple(limits)
        found = self._grouped(f, None, groups, info, values=False)
        counts: dict[GroupBy, list[tuple[str | None, int]]] = {}
        for i, by in enumerate(groups):
            per: dict[str | None, int] = defaultdict(int)
            for (keys, _), acc in found.items():
                per[keys[i]] += acc[0]
            counts[by] = sorted(((key, n) for key, n in per.items() if n),
                                key=lambda kv: (-kv[1], kv[0] or ""))[:limits[by]]
        return sum(acc[0] for acc in found.values()), counts

    def _values(self, f: EventFilter, width: int | None, group: str | None, info: dict[str, Any] | None,
                newest: bool = False, values: bool = True) -> dict[tuple[str | None, int | None], list[Any]]:
        """Per (group value, bucket start µs): [n, vn, vsum, vmin, vmax, newest µs] (_grouped by one tag)."""
        found = self._grouped(f, width, (group,) if group else (), info, newest, values)
        return {(keys[0] if keys else None, t): acc for (keys, t), acc in found.items()}

    def _grouped(self, f: EventFilter, width: int | None, groups: tuple[str, ...], info: dict[str, Any] | None,
                 newest: bool = False, values: bool = True
                 ) -> dict[tuple[tuple[str | None, ...], int | None], list[Any]]:
        """Per (the `groups` tags' values, bucket start µs): [n, vn, vsum, vmin, vmax, newest µs]: the rollups
        for whole buckets, raw points for the rest (store/tiers.py); text and state filters read raw points only.
        `values=False`: counts only (and the newest time if `newest`); vn is then 0. InfluxDB reads a cursor per
        series and field, so a count over every series costs a sixth of the six fields' read (7 days of 5-minute
        rollups: 0.2-0.4 s against 4-7 s at load 9)."""
        start = max(to_micros(f.start), MIN_US) if f.start is not None else MIN_US
        end = min(to_micros(f.end), MAX_US) if f.end is not None else MAX_US
        raw_only = bool(f.text) or f.state is not None or f.old_state is not None or not self._rollups_ready()
        pieces = [(None, start, end)] if raw_only else tiers.segments(start, end, tiers.allowed(width))
        dim = None if values or raw_only else self._dim(f, groups)
        held = self._holding(f) if raw_only else None
        # Counts over many series without buckets: whole hours and days from their packs (influxcounts.py).
        packed = (not values and not newest and not width and dim is None and not raw_only and counts.answers(f)
                  and self._has_marker(ir.COUNTS_READY))
        out: dict[tuple[tuple[str | None, ...], int | None], list[Any]] = {}
        # (q, tags, an edge's rows, its last(), for a pack's q: its rollups' q and bucket width µs)
        planned: list[tuple[str, tuple[str, ...], bool, str | None, tuple[str, int] | None]] = []
        for period, lo, hi in reversed(pieces):  # newest first: a group's newest time may then be known already
            if held is not None and period is None:  # only the entities and days holding the state asked for
                if not held[1]:
                    continue
                lo, hi = max(lo, to_micros(held[0].start)), min(hi, to_micros(held[0].end))  # type: ignore[arg-type]
            if lo >= hi:
                continue
            measurement = _identifier(ir.ROLLUPS[tiers.NAMES[period]]) if period is not None else self._events()
            clauses = [f"time >= {lo * 1000}", f"time < {hi * 1000}"] + (held[1] if held and period is None else [])
            if period is None:
                select = f'count("{self._counted()}") AS n' + (f", {RAW_VALUES}" if values else "")
                where = iql.where(f, clauses)
                tags_ = groups
            elif dim is not None:  # counts of every series (or one domain or area): dims_*, a few dozen series
                measurement = _identifier(ir.DIMS[tiers.NAMES[period]])
                select = ROLLUP_NEWEST if newest else ROLLUP_COUNT
                value = getattr(f, dim) if dim != ir.ALL else None
                where = " AND ".join([f'"by" = {iql.string(dim)}', *clauses]
                                     + ([f'"key" = {iql.string(value)}'] if value is not None else []))
                tags_ = tuple("key" for _ in groups)
            else:
                select = ROLLUP_VALUES if values else ROLLUP_NEWEST if newest else ROLLUP_COUNT
                where = iql.where(dataclasses.replace(f, start=None, end=None, event_type=None),
                                  clauses + ([f'"type" = {iql.string(f.event_type)}'] if f.event_type else []),
                                  events_only=False)
                tags_ = tuple("type" if g == "event_type" else g for g in groups)
            names = ", ".join(f'"{t}"' for t in tags_)
            by = f" GROUP BY {names}" if names else ""
            if period is None and newest and not width and not values and not raw_only:
                # A raw edge's counts and newest times from its points' times, one statement: a count and then
                # `last()` were two, each reading a block of every series (20-280 ms each on 5.7 million events).
                planned.append((f'SELECT "{self._counted()}" FROM {measurement} WHERE {where}{by}', tags_, True, None,
                                None))
                continue
            q = f"SELECT {select} FROM {measurement} WHERE {where}"
            q += f" GROUP BY {', '.join([f'time({width}s)'] + ([names] if names else []))} fill(none)" if width else by
            # Raw points: their newest time per group, selected, unless every group here has newer events (a
            # range's raw start edge, whose groups are found again in the rollups after it).
            last = (f'SELECT last("{self._counted()}") FROM {measurement} WHERE {where}{by}'
                    if period is None and newest and not width else None)
            tier = tiers.NAMES[period]
            if packed and tier in ir.COUNTS:
                planned.append((f"SELECT {counts.FIELDS} FROM {_identifier(ir.COUNTS[tier])} WHERE "
                                f"time >= {lo * 1000} AND time < {hi * 1000}", tags_, False, None,
                                (q, ir.PERIODS[tier] * ir.US)))
                continue
            planned.append((q, tags_, False, last, None))
        for (_, tags_, edge, last, rolled), series in zip(planned, self._select_all([p[0] for p in planned]),
                                                          strict=True):
            if rolled is not None:
                if self._packed_counts_into(out, f, groups, series, rolled[1]):
                    continue
                series = self._select(rolled[0])  # a pack not whole (a write cut short): its rollups answer
            if edge:
                for _, tags, c in _rows(series):
                    ru.add_event(out.setdefault((tuple(tags.get(t) or None for t in tags_), None), ru.new_value()),
                                 int(c["time"]), None)
                continue
            known = {key for key, acc in out.items() if acc[0]} if last else set()  # groups in a newer piece
            here = _merge_into(out, series, tags_, bool(width))
            if last and here - known:
                for _, tags, c in _rows(self._select(last)):
                    acc = out.setdefault((tuple(tags.get(t) or None for t in tags_), None), ru.new_value())
                    acc[5] = max(acc[5], int(c["time"]))
        if info is not None:
            info["resolution"] = tiers.resolution([p for p in pieces if p[1] < p[2]])
        return out

    @staticmethod
    def _packed_counts_into(out: counts.Groups, f: EventFilter, groups: tuple[str, ...], series: list[dict[str, Any]],
                            width_us: int) -> bool:
        """The packed counts read (`series`) into `out`; False (nothing added) when a pack is not whole."""
        totals = counts.per_series(_columns(series), width_us)
        if totals is not None:
            counts.add(out, totals, f, groups)
        return totals is not None

    def _dim(self, f: EventFilter, groups: tuple[str, ...]) -> str | None:
        """The dimension of dims_* that answers counts of `f` grouped by `groups`, if one does: a filter of
        time alone and no group (every event), or one domain, area or device, or grouped by one of them; a
        dimension written later than the others (DIM_MARKERS) only once its own marker is there."""
        if dataclasses.replace(f, start=None, end=None, domain=None, area_id=None, device_id=None) != EventFilter():
            return None
        named = {by for by in ir.DIM_TAGS if getattr(f, by) is not None} | set(groups)
        if len(named) > 1 or not named <= set(ir.DIM_TAGS) or not self._dims_ready():
            return None
        dim = next(iter(named), ir.ALL)
        marker = ir.DIM_MARKERS.get(dim)
        return dim if marker is None or self._has_marker(marker) else None

    def buckets(self, f: EventFilter, seconds: int, info: dict[str, Any] | None = None,
                values: bool = True) -> list[Bucket]:
        if values:
            return [Bucket(a.start, a.count, a.mean, a.min, a.max) for a in self.stats(f, seconds, info)]
        found = self._values(f, int(seconds), None, info, values=False)
        return [Bucket(from_micros(t), int(a[0]), None, None, None)  # type: ignore[arg-type]
                for (_, t), a in sorted(found.items(), key=lambda kv: kv[0][1]) if a[0]]  # type: ignore[arg-type]

    def _trace(self, field: str, context_id: str) -> list[dict[str, Any]]:
        """Context ids are fields (as tags they would explode series cardinality), so a lookup scans;
        the time a ULID context id carries bounds the scan to when its events can have happened. The scan
        reads the compared field alone, then the few points found whole (influxfind.py): `SELECT *` over every
        series read ~19 fields of each (0.1-0.2 s over an hour of a busy home, 4 s over three days)."""
        created = iql.ulid_time(context_id)
        window = EventFilter(start=created - TRACE_BEFORE, end=created + TRACE_AFTER) if created else EventFilter()
        where = iql.where(window, [f"{field} = {iql.string(context_id)}"])
        found = influxfind.whole(self._select, self._events(), where, field)
        return sorted((record_from(c, c["time"], name) for name, _, c in _rows(found)), key=lambda r: r["time_fired"])

    def by_context(self, context_id: str) -> list[dict[str, Any]]:
        return self._trace('"context_id"', context_id)

    def by_parent(self, parent_id: str) -> list[dict[str, Any]]:
        return self._trace('"context_parent_id"', parent_id)

    def durations(self, f: EventFilter, limit: int = 50, info: dict[str, Any] | None = None) -> list[DurationStat]:
        """Whole hours and days from the stay rollups; the rest summed here from raw points (InfluxQL cannot
        group by a field: the state left)."""
        start = max(to_micros(f.start), MIN_US) if f.start is not None else MIN_US
        end = min(to_micros(f.end), MAX_US) if f.end is not None else MAX_US
        plain = f == dataclasses.replace(f, state=None, old_state=None, text=None) and self._rollups_ready()
        pieces = tiers.segments(start, end, (2, 1)) if plain else [(None, start, end)]
        groups: dict[tuple[str, str], list[Any]] = {}
        staying = functools.cache(self._staying)  # read once, and only for a raw piece: packs need it rarely
        rolled = [(period, lo, hi) for period, lo, hi in pieces if period is not None and lo < hi]
        # The tiers' statements (each over every (entity, state) series: 50-110 ms at a week; a point per hour or
        # day once packed, influxsums.py) sent at once; their answers are merged below in the pieces' order, so the
        # sums add up as before.
        packed = plain and self._has_marker(ir.SUMS_READY)
        answers: dict[tuple[int, int, int], Any] = dict(zip(rolled, self._read_packs(
            [packcache.Want(ir.SUMS[tiers.NAMES[period]], lo, hi) for period, lo, hi in rolled]) if packed else
            self._select_all([self._stays_sums(f, *piece) for piece in rolled]), strict=True))
        for period, lo, hi in pieces:
            if lo >= hi:
                continue
            clauses = [f"time >= {lo * 1000}", f"time < {hi * 1000}"]
            if period is None and plain and self._has_marker(ir.PACKED_READY):
                self._packed_durations_into(groups, f, staying, lo, hi)
                continue
            if period is None:
                entities = staying()
                if entities == "":  # no entity ever had a stay
                    continue
                clauses += [NOT_A_NUMBER] + ([entities] if entities else [])
                q = (f'SELECT "entity_id", "old_state", "duration_in_state" FROM {self._events()} '
                     f'WHERE {iql.where(f, [*clauses, "duration_in_state >= 0"])} LIMIT {SCAN_LIMIT}')
                for _, _, c in _rows(self._select(q)):
                    if categorical(c.get("old_state")) and c.get("old_state"):
                        acc = groups.setdefault((c.get("entity_id") or "", c["old_state"]), ru.new_state())
                        ru.add_duration(acc, float(c["duration_in_state"]))
                continue
            if packed and self._packed_sums_into(groups, f, answers[(period, lo, hi)]):
                continue
            for _, tags, c in _rows(answers[(period, lo, hi)] if not packed else self._select(
                    self._stays_sums(f, period, lo, hi))):
                if c.get("dn"):
                    acc = groups.setdefault((tags.get("entity_id") or "", tags.get("state") or ""), ru.new_state())
                    ru.merge_state(acc, (0, 0, int(c["dn"]), c.get("dsum"), c.get("dmin"), c.get("dmax"), 0.0))
        if info is not None:
            info["resolution"] = tiers.resolution([p for p in pieces if p[1] < p[2]])
        stats = [DurationStat(e, s, a[2], a[3] / a[2], float(a[4]), float(a[5]), float(a[3]))
                 for (e, s), a in groups.items() if a[2]]
        return sorted(stats, key=lambda d: (-d.total, d.entity_id, d.state or ""))[:limit]

    def _stays_sums(self, f: EventFilter, period: int, lo: int, hi: int) -> str:
        """The statement summing the stay rollups of tier `period` over [lo, hi) µs per (entity, state left)."""
        # The rollups name the event type `type` (not `event_type`, so event reads never see them).
        where = iql.where(dataclasses.replace(f, start=None, end=None, event_type=None),
                          [f"time >= {lo * 1000}", f"time < {hi * 1000}"]
                          + ([f'"type" = {iql.string(f.event_type)}'] if f.event_type else []), events_only=False)
        return (f'SELECT sum("dn") AS dn, sum("dsum") AS dsum, min("dmin") AS dmin, max("dmax") AS dmax '
                f'FROM {_identifier(ir.STAYS[tiers.NAMES[period]])} WHERE {where} GROUP BY "entity_id", "state"')

    @staticmethod
    def _packed_sums_into(groups: dict[tuple[str, str], list[Any]], f: EventFilter, read: packcache.Found) -> bool:
        """The packed stay rollups of a piece (`read`) into `groups`, bucket after bucket; False (nothing added)
        when a bucket's pack is not whole (a write cut short: its rollups' statement answers)."""
        found, present = read
        if present - found.keys():
            return False
        for bucket in sorted(found):
            sums.add(groups, found[bucket], f)
        return True

    def _read_packs(self, wants: list[packcache.Want]) -> list[packcache.Found]:
        """The packs a query reads, decoded: those held from the cache, the rest read (influxpackcache.py)."""
        self._prepare()
        return packcache.read(self._decoded, self._select_all, wants, _columns)

    def _packed_durations_into(self, groups: dict[tuple[str, str], list[Any]], f: EventFilter, staying: Staying,
                               lo: int, hi: int) -> None:
        """A range's end under an hour from the packed stays of its hour (or two) into `groups`, each (entity,
        state left)'s durations added in time order, as a read of raw points adds them (the same sums to the
        last bit): a raw end in an older, compacted shard cost 150-400 ms, its hour's point a few ms."""
        found: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
        for _, hour_groups in self._packed_hours(f, staying, _hours_around(lo, hi), set(), (lo, hi)):
            for tags, left, times, durations in hour_groups:
                found[(tags[0], left)] += zip(times, durations, strict=True)
        for key, stays in found.items():
            acc = groups.setdefault(key, ru.new_state())
            for _, lasted in sorted(stays):
                ru.add_duration(acc, lasted)

    def stay_groups(self, f: EventFilter, limit: int = 50_000) -> list[StayGroup]:
        """Single stays (duration_in_state >= 0) in states the stays keep (not empty), the newest `limit` by
        entity and state left, as the SQL store answers: from the packed stays (influxstays.py) where they
        answer, else from raw points (`_raw_stay_groups`)."""
        if not packs.packable(f) or not self._has_marker(ir.PACKED_READY):
            staying = self._staying()
            if staying == "":
                return []
            return self._raw_stay_groups(f, ["duration_in_state >= 0", NOT_A_NUMBER] + ([staying] if staying else []),
                                         limit)
        # The packs hold the stays alone: which entities have any is read only for an hour read from raw points.
        staying = functools.cache(self._staying)
        out: dict[tuple[str, str], StayGroup] = {}
        taken = 0
        ids = packs.Ids(self._select_all)  # the packs hold no event ids: those asked for are read from raw points
        for groups in self._packed_spans(f, staying, lambda: limit - taken):  # noqa: B023 - what is left to take
            n = packs.count(groups)
            if taken + n > limit:
                groups, n = packs.newest(groups, limit - taken, ids.fetch), limit - taken
            for tags, left, times, durations in groups:
                group = out.get((tags[0], left))
                if group is None:
                    group = out[(tags[0], left)] = StayGroup(tags[0], left)
                group.add(durations, times, ids.chunk(tags, times))
            taken += n
            if taken >= limit:
                break
        return list(out.values())

    def _packed_spans(self, f: EventFilter, staying: Staying,
                      need: Callable[[], int]) -> Iterator[list[packs.Group]]:
        """The stays of `f` as groups of disjoint spans of time, newest first: whole days from their day points
        (`_day_windows`: a busy home's 50,000 newest lie within five or six days, and a day's point is ~0.6 MB
        to read), a day without one (not over when last written) and the rest of the range from
        the hours' points, an hour cut by the range's ends: every hour a batch touched was packed again after
        its points were written, the current one too, so no raw point is read."""
        start = max(to_micros(f.start), MIN_US) if f.start is not None else MIN_US
        end = min(to_micros(f.end), MAX_US) if f.end is not None else MAX_US
        for period, lo, hi in reversed(tiers.segments(start, end, (2, 1))):
            if period == 2:
                for bottom, top, meta in self._day_windows(f, lo, hi, need()):
                    yield from self._packed_days(f, staying, bottom, top, meta)
            else:
                yield from (groups for _, groups in self._packed_hours(f, staying, _hours_around(lo, hi), set(),
                                                                       (lo, hi)))

    def _day_windows(self, f: EventFilter, lo: int, hi: int,
                     need: int) -> Iterator[tuple[int, int, list[dict[str, Any]] | None]]:
        """Windows of the whole days [lo, hi), newest first, with their points' parts (no text) when read:
        without a filter on the series, the first holds the newest days whose points count `need` stays (their
        `n` read, with what says which are held decoded), else a day; each next one 4x as long as the one before
        (as `_newest_first`), for what the counts did not foresee (days without a point, read from their hours)."""
        day = series_.DAY_US
        top, width = hi, day
        meta: list[dict[str, Any]] | None = None
        if packs.unfiltered(f):
            counts: dict[int, int] = defaultdict(int)
            meta = _columns(self._select(packcache.statement(packs.DAY, packcache.META, lo, hi)))
            for c in meta:
                counts[int(c["time"]) // day * day] += int(c.get("n") or 0)
            counted, bottom = 0, hi
            for start in sorted(counts, reverse=True):
                counted, bottom = counted + counts[start], start
                if counted >= need:
                    break
            width = max(day, hi - bottom)
        while top > lo:
            bottom = max(lo, top - width)
            yield bottom, top, None if meta is None else [c for c in meta if bottom <= int(c["time"]) < top]
            top, width = bottom, width * 4

    def _packed_days(self, f: EventFilter, staying: Staying, lo: int, hi: int,
                     meta: list[dict[str, Any]] | None = None) -> Iterator[list[packs.Group]]:
        """The whole days of [lo, hi), newest first: a day's point, else its hours' (`meta`: the days' parts
        without text, when read)."""
        days, _ = self._read_packs([packcache.Want(packs.DAY, lo, hi, meta)])[0]
        top = hi  # the days without their point lie between the oldest and the newest of them
        while top > lo and top - series_.DAY_US in days:
            top -= series_.DAY_US
        bottom = lo
        while bottom < top and bottom in days:
            bottom += series_.DAY_US
        hours = self._packed_hours(f, staying, (bottom, top), set(days), (lo, hi)) if bottom < top else iter(())
        pending = next(hours, None)
        for day in sorted(days, reverse=True):
            while pending is not None and pending[0] > day:
                yield pending[1]
                pending = next(hours, None)
            yield packs.matching(days[day], f, lo, hi)
        while pending is not None:
            yield pending[1]
            pending = next(hours, None)

    def _packed_hours(self, f: EventFilter, staying: Staying, window: tuple[int, int], skipped: set[int],
                      cut: tuple[int, int]) -> Iterator[tuple[int, list[packs.Group]]]:
        """(hour µs, its stays within `cut`) of the hours of `window` newest first, but those of `skipped` days,
        from their points (one whose parts are not all there read from raw points); an hour without a point
        has none."""
        hours, present = self._read_packs([packcache.Want(packs.HOUR, *window)])[0]
        for hour in sorted(present, reverse=True):
            if hour // series_.DAY_US * series_.DAY_US in skipped:
                continue
            groups = hours.get(hour)
            if groups is None:
                groups = self._raw_stays(hour, hour + packs.HOUR_US, staying(), f)
            yield hour, packs.matching(groups, f, *cut)

    def _raw_stay_groups(self, f: EventFilter, extra: list[str], limit: int) -> list[StayGroup]:
        """`stay_groups` from raw points: read from the entities the daily stays say held one in the range
        only (`extra`: a busy home's meters carry a duration on every reading, and the 50,000 newest durations
        of every series held 1,600 stays of a day's ~12,000). LIMIT applies per measurement: pages are read
        older and older until `limit` stays are known to be the newest."""
        found: dict[tuple[int, str], Stay] = {}  # by time and id: a page's oldest instant is read again
        for window in _newest_first(f, STAYS_WINDOW):
            self._stays_into(found, window, extra, limit)
            if len(found) >= limit:
                break
        by_key: dict[tuple[str, str], list[Stay]] = defaultdict(list)
        for stay in sorted(found.values(), key=lambda d: (d[2], d[4]), reverse=True)[:limit]:
            by_key[(stay[0], stay[1])].append(stay)
        groups = []
        for (entity_id, left), stays in by_key.items():
            group = StayGroup(entity_id, left)
            ids = [stay[4] for stay in stays]
            group.add([stay[3] for stay in stays], [stay[2] for stay in stays], ids.__getitem__)
            groups.append(group)
        return groups

    def _stays_into(self, found: dict[tuple[int, str], Stay], f: EventFilter, extra: list[str],
                    limit: int) -> None:
        """The stays of `f` into `found` (which holds only newer ones), page after page, until `found` holds
        `limit` known to be the newest or `f` is read whole."""
        upper: int | None = None
        while True:
            oldest: dict[str, list[int]] = defaultdict(lambda: [0, MAX_US])  # per measurement: rows, oldest µs
            q = (f'SELECT "event_id", "entity_id", "old_state", "duration_in_state" FROM {self._events()} WHERE '
                 f'{iql.where(f, extra + ([f"time <= {upper * 1000}"] if upper is not None else []))} '
                 f"ORDER BY time DESC LIMIT {int(limit)}")
            for name, _, c in _rows(self._select(q)):
                ts, event_id, left = int(c["time"]), c.get("event_id") or "", c.get("old_state")
                seen = oldest[name]
                seen[0], seen[1] = seen[0] + 1, min(seen[1], ts)
                if left and categorical(left) and (ts, event_id) not in found:
                    found[(ts, event_id)] = (c.get("entity_id") or "", left, ts, float(c["duration_in_state"]),
                                             event_id)
            full = [at for n, at in oldest.values() if n >= limit]  # measurements with older rows left unread
            if not full:
                return
            frontier = max(full)  # every row newer than it was read
            if sum(1 for d in found.values() if d[2] > frontier) >= limit or frontier == upper:
                return
            upper = frontier

    def _staying(self) -> str | None:
        """The clause naming every entity that ever had a stay, by the daily stays' series (an index lookup, no
        points read; "" when none has); None when the stays are not whole yet (READY). A read of stays from
        raw points then passes over the meters, whose every reading carries a duration but is no stay."""
        if not self._rollups_ready():
            return None
        stays = _identifier(ir.STAYS["1d"])
        entities = sorted({str(c.get("value")) for _, _, c in _rows(self._select(
            f'SHOW TAG VALUES FROM {stays} WITH KEY = "entity_id"')) if c.get("value")})
        # Stays of events without an entity: their series have no entity_id tag (2.x's InfluxQL has no SHOW SERIES).
        if any(c.get("count") for _, _, c in _rows(self._select(
                f"SELECT count(\"dn\") FROM {stays} WHERE \"entity_id\" = ''"))):
            entities.append("")
        return iql.entity_in(entities) if entities else ""

    def grid(self, f: EventFilter, by: GroupBy, seconds: int,
             info: dict[str, Any] | None = None) -> list[tuple[str | None, Any, int]]:
        cells = {(key, bucket): acc[0] for (key, bucket), acc
                 in self._values(f, int(seconds), by, info, values=False).items() if acc[0]}
        ordered = sorted(cells.items(), key=lambda kv: (kv[0][1], kv[0][0] is not None, kv[0][0] or ""))
        return [(key, from_micros(t), n) for (key, t), n in ordered]  # type: ignore[arg-type]

    def last_seen(self, f: EventFilter, by: GroupBy, limit: int = 1000,
                  info: dict[str, Any] | None = None) -> list[tuple[str | None, Any]]:
        found = self._values(f, None, by, info, newest=True, values=False)
        newest = {key: acc[5] for (key, _), acc in found.items() if acc[0]}
        ordered = sorted(newest.items(), key=lambda kv: (-kv[1], kv[0] or ""))[:limit]
        return [(key, from_micros(int(t))) for key, t in ordered]

    def activity(self, f: EventFilter, by: GroupBy,
                 info: dict[str, Any] | None = None) -> dict[str | None, tuple[int, dt.datetime]]:
        found = self._values(f, None, by, info, newest=True, values=False)
        return {key: (acc[0], from_micros(int(acc[5]))) for (key, _), acc in found.items() if acc[0]}

    def export(self, start: dt.datetime, end: dt.datetime, batch: int = 5000,
               window: dt.timedelta = dt.timedelta(hours=1)) -> Iterator[list[dict[str, Any]]]:
        """Oldest first, in lists of at most about `batch`: each hour is cut, by its per-minute counts, into
        reads of about `batch` events (a read is sorted whole; only a single minute holding more is larger),
        so memory stays bounded however busy the day."""
        at = start
        while at < end:
            upto = min(at + window, end)
            for lo, hi in self._export_windows(at, upto, batch):
                records = self._records(f"SELECT * FROM {self._events()} WHERE "
                                        f"{iql.where(EventFilter(start=lo, end=hi))} ORDER BY time ASC")
                records.sort(key=lambda r: (r["time_fired"], r["event_id"]))
                for i in range(0, len(records), batch):
                    yield records[i:i + batch]
            at = upto

    def _export_windows(self, start: dt.datetime, end: dt.datetime,
                        batch: int) -> list[tuple[dt.datetime, dt.datetime]]:
        per_minute: dict[int, int] = defaultdict(int)
        for _, _, c in _rows(self._select(f'SELECT count("event_id") FROM {self._events()} WHERE '
                                          f"{iql.where(EventFilter(start=start, end=end))} "
                                          "GROUP BY time(1m) fill(none)")):
            per_minute[int(c["time"])] += int(c.get("count") or 0)
        windows: list[tuple[dt.datetime, dt.datetime]] = []
        lo, taken = start, 0
        for minute in sorted(per_minute):
            edge = max(from_micros(minute), start)
            if taken and taken + per_minute[minute] > batch:
                windows.append((lo, edge))
                lo, taken = edge, 0
            taken += per_minute[minute]
        if taken:
            windows.append((lo, end))
        return windows

    # --- aggregates (retention-archive's summaries of pruned days) ----------------------------------

    def write_aggregates(self, rows: list[Aggregate]) -> None:
        """A summary is keyed by measurement, entity tag and time: writing it again overwrites it with itself."""
        if rows:
            self._prepare()
            self.transport.write("\n".join(
                aggregate_point(a.entity_id, a.period, to_micros(a.start), a.count, a.value_count, a.mean, a.min,
                                a.max) for a in rows))

    def aggregates(self, entity_id: str | None, period: str, start: dt.datetime, end: dt.datetime) -> list[Aggregate]:
        clauses = [f"time >= {iql.time_ns(start)}", f"time < {iql.time_ns(end)}"]
        if entity_id is not None:
            clauses.append(f'"entity_id" = {iql.string(entity_id)}')
        q = (f'SELECT "count", "value_count", "mean", "min", "max", "entity_id" '
             f"FROM {_identifier(AGGREGATE_MEASUREMENTS[period])} WHERE {' AND '.join(clauses)}")
        found = [Aggregate(c.get("entity_id") or "", period, from_micros(c["time"]), int(c.get("count") or 0),
                           int(c.get("value_count") or 0), c.get("mean"), c.get("min"), c.get("max"))
                 for _, _, c in _rows(self._select(q))]
        return sorted(found, key=lambda a: (a.start, a.entity_id))

    def delete_aggregates(self, period: str, before: dt.datetime) -> int:
        old = len(self.aggregates(None, period, dt.datetime(1970, 1, 1, tzinfo=dt.UTC), before))
        if old and self.backend == "influxdb1":
            self.transport.query(f"DELETE FROM {_identifier(AGGREGATE_MEASUREMENTS[period])} "
                                 f"WHERE time < {iql.time_ns(before)}")
        elif old:
            client = getattr(self.transport, "client", None)
            if client is None:
                return 0
            client.delete_api().delete(dt.datetime(1970, 1, 1, tzinfo=dt.UTC), before,
                                       f'_measurement="{AGGREGATE_MEASUREMENTS[period]}"',
                                       bucket=self.transport.bucket, org=self.transport.org)  # type: ignore
        return old

    def summarized_days(self, start: dt.datetime, end: dt.datetime) -> list[int]:
        day_start = to_micros(start) // series_.DAY_US * series_.DAY_US
        q = (f'SELECT count("count") FROM {_identifier(AGGREGATE_MEASUREMENTS["day"])} '
             f"WHERE time >= {day_start * 1000} AND time < {iql.time_ns(end)} GROUP BY time(1d) fill(none)")
        return sorted({int(c["time"]) for _, _, c in _rows(self._select(q)) if c.get("count")})

    def stats(self, f: EventFilter, seconds: int, info: dict[str, Any] | None = None) -> list[Aggregate]:
        found = self._values(f, int(seconds), None, info)
        return [Aggregate(f.entity_id or "", f"{seconds}s", from_micros(t), int(a[0]), int(a[1]),
                          a[2] / a[1] if a[1] else None, a[3] if a[1] else None, a[4] if a[1] else None)
                for (_, t), a in sorted(found.items(), key=lambda kv: kv[0][1]) if a[0]]  # type: ignore[arg-type]

    def series(self, entity_id: str, start: dt.datetime, end: dt.datetime, bucket_s: int,
               info: dict[str, Any] | None = None) -> list[Bucket]:
        """Chart buckets of one entity over any range: raw rows, or the summaries of pruned days."""
        return series_.buckets(self.series_columns([entity_id], start, end, bucket_s, info)[entity_id])

    def series_columns(self, entity_ids: list[str], start: dt.datetime, end: dt.datetime, bucket_s: int,
                       info: dict[str, Any] | None = None) -> dict[str, Columns]:
        return series_.columns(self, entity_ids, start, end, bucket_s, self._parts, info)

    def meter_totals(self, weights: dict[str, float], start: dt.datetime, end: dt.datetime,
                     info: dict[str, Any] | None = None) -> Totals | None:
        return None  # rises are not kept in InfluxDB's rollups (docs/design.md "Meters' rises")

    def hourly_means(self, entity_ids: list[str], start: dt.datetime, end: dt.datetime,
                     info: dict[str, Any] | None = None) -> dict[str, dict[int, float]] | None:
        return None  # series_columns answers

    def meter_rises(self, entity_ids: list[str], start: dt.datetime, end: dt.datetime,
                    hours_of_day: set[int] | None = None,
                    info: dict[str, Any] | None = None) -> dict[str, Rises] | None:
        return None

    def states(self, entity_id: str, start: dt.datetime, end: dt.datetime) -> list[tuple[int, str | None]] | None:
        return None  # the records answer: a query of the state column alone would cost InfluxDB as much

    def changes(self, entity_id: str, start: dt.datetime, end: dt.datetime,
                limit: int) -> list[Change] | None:
        """(time µs, state, old state, duration_in_state) of the entity's newest `limit` state changes, oldest
        first, as `query` orders them (time, then event id), from those four fields alone: InfluxDB opens a
        cursor per field, and a day of a power meter's 2,000 changes read whole (~25 fields, attributes
        decoded) cost 130 ms in InfluxDB and 100 ms of CPU here. A few more than `limit` are read (LIMIT is
        per measurement), so changes at the same instant are ordered here by event id, as a page is. The range's
        last day is read first and the rest only if that day holds too few: a statement costs InfluxDB a block of
        every shard its range touches, and a meter's 2,000 newest changes lie within hours (30 days of it: 15-140
        ms, its last day 6-7)."""
        f = EventFilter(start=start, end=end, entity_id=entity_id, event_type="state_changed")
        wanted, rows = int(limit) + 64, []
        for window in _last_first(f, CHANGES_WINDOW):
            rows += [(int(c["time"]), c.get("event_id") or "", c.get("state"), c.get("old_state"),
                      c.get("duration_in_state")) for _, _, c in _rows(self._select(
                        f'SELECT "event_id", "state", "old_state", "duration_in_state" FROM {self._events()} '
                        f"WHERE {iql.where(window)} ORDER BY time DESC LIMIT {wanted - len(rows)}"))]
            if len(rows) >= wanted:
                break
        rows.sort(key=lambda row: (row[0], row[1]), reverse=True)
        return [(ts, state or None, old or None, None if lasted is None else float(lasted))
                for ts, _, state, old, lasted in reversed(rows[:limit])]

    def _parts(self, entity_ids: list[str], start: dt.datetime, end: dt.datetime, seconds: int,
               info: dict[str, Any] | None) -> dict[str, list[series_.Part]]:
        """Per entity (one query per entity and tier): its summary per bucket of `seconds`."""
        out: dict[str, list[series_.Part]] = {}
        for entity_id in entity_ids:
            found = self._values(EventFilter(entity_id=entity_id, start=start, end=end), int(seconds), None, info)
            out[entity_id] = [(t, int(a[0]), int(a[1]), a[2] / a[1] if a[1] else None, a[3] if a[1] else None,
                               a[4] if a[1] else None) for (_, t), a in found.items() if a[0]]  # type: ignore
        return out

    def health(self) -> Health:
        started = time.perf_counter()
        try:
            self.transport.ping()
        except StoreError as exc:
            return Health("unavailable", self.backend, reason=str(exc))
        return Health("ok", self.backend, round((time.perf_counter() - started) * 1000, 2))

    def close(self) -> None:
        self.transport.close()

