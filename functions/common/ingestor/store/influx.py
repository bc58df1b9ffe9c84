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

import datetime as dt
import logging
import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ingestor import config, metrics
from ingestor.store import cursor as cursors
from ingestor.store import haconfig
from ingestor.store import influxql as iql
from ingestor.store import series as series_
from ingestor.store.halayout import HaLayout
from ingestor.store.influxtransport import ClientTransport, HttpTransport, Transport
from ingestor.store.lineprotocol import AGGREGATE_MEASUREMENTS, aggregate_point, point, record_from
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
from ingestor.store.rollups import categorical
from ingestor.store.timerange import from_micros, to_micros
from ingestor.timeutil import parse_timestamp

SCAN_LIMIT = 200_000  # rows a client-side aggregation (durations) reads at most
# What a context causes happens after it is created: automations with delays run for hours, rarely days.
TRACE_BEFORE = dt.timedelta(hours=1)
TRACE_AFTER = dt.timedelta(days=3)


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


def _rows(series: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, str], dict[str, Any]]]:
    """(measurement, group tags, columns) for every row of every series."""
    for s in series:
        columns = s["columns"]
        for values in s.get("values", []):
            yield s.get("name", ""), s.get("tags") or {}, dict(zip(columns, values, strict=True))


def _identifier(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class InfluxEventStore:
    def __init__(self, transport: Transport, create_database: bool = False, ha_layout: HaLayout | None = None) -> None:
        self.transport = transport
        self.backend = transport.name
        self.ha_layout = ha_layout
        self._create_database = create_database
        self._ha_reasons: set[str] = set()

    def _prepare(self) -> None:
        if self._create_database:
            self.transport.create_database()  # type: ignore[attr-defined]
            self._create_database = False

    def write(self, records: list[dict[str, Any]]) -> None:
        if not records:
            return
        self._prepare()
        self.transport.write("\n".join(point(r) for r in records))
        ha_lines = self.ha_layout.lines(records) if self.ha_layout is not None else []
        if ha_lines:
            self._write_ha(ha_lines)

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
        return removed

    def _measurements(self) -> list[str]:
        return [str(c.get("name")) for _, _, c in _rows(self._select("SHOW MEASUREMENTS"))]

    def _select(self, q: str) -> list[dict[str, Any]]:
        self._prepare()
        return self.transport.query(q)

    def _records(self, q: str) -> list[dict[str, Any]]:
        return [record_from(columns, columns["time"], name) for name, _, columns in _rows(self._select(q))]

    def query(self, f: EventFilter, limit: int = 100, cursor: str | None = None) -> Page:
        extra = []
        if cursor:
            ts, event_id = cursors.decode(cursor)
            extra.append(f"time <= {ts * 1000}")
        # LIMIT applies per measurement: the newest `limit` overall are among the union.
        records = self._records(f"SELECT * FROM {self._events()} WHERE {iql.where(f, extra)} "
                                f"ORDER BY time DESC LIMIT {limit + 1 + (64 if cursor else 0)}")
        keyed = sorted(((to_micros(parse_timestamp(r["time_fired"])), r["event_id"], r) for r in records),
                       key=lambda k: (k[0], k[1]), reverse=True)
        if cursor:
            keyed = [k for k in keyed if (k[0], k[1]) < (ts, event_id)]
        page = keyed[:limit]
        more = len(keyed) > limit
        return Page([k[2] for k in page], cursors.encode(page[-1][0], page[-1][1]) if more else None)

    def count(self, f: EventFilter, info: dict[str, Any] | None = None) -> int:
        return sum(int(c.get("count") or 0) for _, _, c in _rows(self._select(
            f'SELECT count("event_id") FROM {self._events()} WHERE {iql.where(f)}')))

    def counts(self, f: EventFilter, by: GroupBy, limit: int = 20,
               info: dict[str, Any] | None = None) -> list[tuple[str | None, int]]:
        totals: dict[str | None, int] = defaultdict(int)
        for _, tags, columns in _rows(self._select(
                f'SELECT count("event_id") FROM {self._events()} WHERE {iql.where(f)} GROUP BY "{by}"')):
            totals[tags.get(by) or None] += int(columns.get("count") or 0)
        return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0] or ""))[:limit]

    def buckets(self, f: EventFilter, seconds: int, info: dict[str, Any] | None = None) -> list[Bucket]:
        return [Bucket(a.start, a.count, a.mean, a.min, a.max) for a in self.stats(f, seconds, info)]

    def _trace(self, field: str, context_id: str) -> list[dict[str, Any]]:
        """Context ids are fields (as tags they would explode series cardinality), so a lookup scans;
        the time a ULID context id carries bounds the scan to when its events can have happened."""
        created = iql.ulid_time(context_id)
        window = EventFilter(start=created - TRACE_BEFORE, end=created + TRACE_AFTER) if created else EventFilter()
        q = f'SELECT * FROM {self._events()} WHERE {iql.where(window, [f"{field} = {iql.string(context_id)}"])}'
        return sorted(self._records(q), key=lambda r: r["time_fired"])

    def by_context(self, context_id: str) -> list[dict[str, Any]]:
        return self._trace('"context_id"', context_id)

    def by_parent(self, parent_id: str) -> list[dict[str, Any]]:
        return self._trace('"context_parent_id"', parent_id)

    def durations(self, f: EventFilter, limit: int = 50, info: dict[str, Any] | None = None) -> list[DurationStat]:
        """Aggregated here: InfluxQL cannot group by a field (the state left)."""
        q = (f'SELECT "entity_id", "old_state", "duration_in_state" FROM {self._events()} '
             f'WHERE {iql.where(f, ["duration_in_state >= 0"])} LIMIT {SCAN_LIMIT}')
        groups: dict[tuple[str, str | None], list[float]] = defaultdict(list)
        for _, _, c in _rows(self._select(q)):
            if categorical(c.get("old_state")):
                groups[(c.get("entity_id") or "", c.get("old_state"))].append(float(c["duration_in_state"]))
        stats = [DurationStat(e, s, len(v), sum(v) / len(v), min(v), max(v), sum(v)) for (e, s), v in groups.items()]
        return sorted(stats, key=lambda d: (-d.total, d.entity_id, d.state or ""))[:limit]

    def duration_samples(self, f: EventFilter, limit: int = 50_000) -> list[DurationSample]:
        """Single durations, newest first; LIMIT applies per measurement, so the union is cut here."""
        q = (f'SELECT "event_id", "entity_id", "old_state", "duration_in_state" FROM {self._events()} '
             f'WHERE {iql.where(f, ["duration_in_state >= 0"])} ORDER BY time DESC LIMIT {int(limit)}')
        found = [DurationSample(c.get("event_id") or "", c.get("entity_id") or "", c.get("old_state"),
                                from_micros(int(c["time"])), float(c["duration_in_state"]))
                 for _, _, c in _rows(self._select(q)) if categorical(c.get("old_state"))]
        found.sort(key=lambda d: (d.time, d.event_id), reverse=True)
        return found[:limit]

    def grid(self, f: EventFilter, by: GroupBy, seconds: int,
             info: dict[str, Any] | None = None) -> list[tuple[str | None, Any, int]]:
        cells: dict[tuple[str | None, int], int] = defaultdict(int)
        for _, tags, c in _rows(self._select(
                f'SELECT count("event_id") FROM {self._events()} WHERE {iql.where(f)} '
                f'GROUP BY time({int(seconds)}s), "{by}" fill(none)')):
            if c.get("count"):
                cells[(tags.get(by) or None, int(c["time"]))] += int(c["count"])
        ordered = sorted(cells.items(), key=lambda kv: (kv[0][1], kv[0][0] is not None, kv[0][0] or ""))
        return [(key, from_micros(t), n) for (key, t), n in ordered]

    def last_seen(self, f: EventFilter, by: GroupBy, limit: int = 1000,
                  info: dict[str, Any] | None = None) -> list[tuple[str | None, Any]]:
        newest: dict[str | None, int] = {}
        for _, tags, c in _rows(self._select(
                f'SELECT last("event_id") FROM {self._events()} WHERE {iql.where(f)} GROUP BY "{by}"')):
            key = tags.get(by) or None
            newest[key] = max(newest.get(key, c["time"]), c["time"])
        ordered = sorted(newest.items(), key=lambda kv: (-kv[1], kv[0] or ""))[:limit]
        return [(key, from_micros(int(t))) for key, t in ordered]

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
        acc: dict[int, list[float]] = {}
        q = (f'SELECT count("event_id") AS n, count("state_value") AS nv, sum("state_value") AS sv, '
             f'min("state_value") AS lo, max("state_value") AS hi FROM {self._events()} WHERE {iql.where(f)} '
             f"GROUP BY time({int(seconds)}s) fill(none)")
        for _, _, c in _rows(self._select(q)):
            if not c.get("n"):
                continue
            a = acc.setdefault(c["time"], [0, 0, 0.0, float("inf"), float("-inf")])
            a[0] += c["n"]
            a[1] += c.get("nv") or 0
            a[2] += c.get("sv") or 0.0
            if c.get("lo") is not None:
                a[3], a[4] = min(a[3], c["lo"]), max(a[4], c["hi"])
        return [Aggregate(f.entity_id or "", f"{seconds}s", from_micros(t), int(a[0]), int(a[1]),
                          a[2] / a[1] if a[1] else None, a[3] if a[1] else None, a[4] if a[1] else None)
                for t, a in sorted(acc.items())]

    def series(self, entity_id: str, start: dt.datetime, end: dt.datetime, bucket_s: int,
               info: dict[str, Any] | None = None) -> list[Bucket]:
        """Chart buckets of one entity over any range: raw rows, or the summaries of pruned days."""
        return series_.series(self, entity_id, start, end, bucket_s, info)

    def health(self) -> Health:
        started = time.perf_counter()
        try:
            self.transport.ping()
        except StoreError as exc:
            return Health("unavailable", self.backend, reason=str(exc))
        return Health("ok", self.backend, round((time.perf_counter() - started) * 1000, 2))

    def close(self) -> None:
        self.transport.close()

