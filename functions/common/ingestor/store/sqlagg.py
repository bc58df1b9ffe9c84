"""Aggregates over the SQL store: counts, value statistics, last times and state durations, per group and
time bucket, from the rollups for whole buckets and from raw events for the rest (store/tiers.py).

Which rollups can answer a filter: a state filter (a state the state rollups keep) reads the state rollups;
no filter, or a filter on one of domain, event type, area and device alone, read the dimension rollups (one
row per bucket); other series filters read the series rollups of the series they match. Text, old_state and
plain-decimal state filters are answered from raw events only. Raw pieces are summed by the same functions
that built the rollups (store/rollups.py), so both give the same answer.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import BigInteger, cast, func, select

from ingestor.normalization import coerce_state_value
from ingestor.store import rollups as ru
from ingestor.store import tiers
from ingestor.store.model import Columns, EventFilter
from ingestor.store.series import Part
from ingestor.store.sqlread import EDGE_US, Reader, Scan, bounds, driver_sql, filters_events
from ingestor.store.sqlschema import dim_rollups, rollups, state_rollups

GROUP_POS = {"entity_id": 1, "domain": 2, "event_type": 0, "area_id": 3, "device_id": 4}
DIM_OF = {name: code for code, name in enumerate(ru.DIMS) if code}
Key = tuple[Any, int | None]  # (group value, bucket start µs)


# A tier's rows as chart buckets (Aggregator.tier_columns), with the figures series.combine gives a bucket of one
# summary, by the same arithmetic: its mean back from the sum, min and max (or the mean) where it has a value.
_MEAN = "(0.0 + (vsum / vn) * vn) / vn"
TIER_COLUMNS = (
    f"SELECT bucket, n, CASE WHEN vn > 0 AND vsum IS NOT NULL THEN {_MEAN} END, "
    f"CASE WHEN vn > 0 AND vsum IS NOT NULL THEN COALESCE(vmin, {_MEAN}) END, "
    f"CASE WHEN vn > 0 AND vsum IS NOT NULL THEN COALESCE(vmax, {_MEAN}) END "
    "FROM rollups WHERE series = ? AND period = ? AND bucket >= ? AND bucket < ? AND n > 0 ORDER BY bucket")
# A chart bucket of several rows of a tier (30 minutes of 5-minute rows, 6 hours of hourly ones), summed as
# Aggregator._grouped sums them; its figures are then made in Python as _rollup_parts and series.combine make them.
TIER_GROUPED = ("SELECT bucket / {per}, sum(n), sum(vn), sum(vsum), min(vmin), max(vmax) FROM rollups "
                "WHERE series = ? AND period = ? AND bucket >= ? AND bucket < ? GROUP BY bucket / {per} "
                "HAVING sum(n) > 0 ORDER BY 1")

# The stays by state left over a run of a tier's buckets, per series (Aggregator._state_sums_by_series): each
# series' rows grouped alone (a correlated subquery), every group one text "series,state,dn,dsum,dmin,dmax" (floats
# with the 17 digits that give them back exactly), all of them one text of one row.
_STATE_GROUPS = ("SELECT state, sum(dn) AS dn, sum(dsum) AS dsum, min(dmin) AS dmin, max(dmax) AS dmax "
                 "FROM state_rollups WHERE series = x.id AND period = ?1 AND dn > 0 AND bucket >= ?2 AND bucket < ?3 "
                 "GROUP BY state")
_FLOAT = "CASE WHEN {0} IS NULL THEN '' ELSE printf('%!.17g', {0}) END"
STATE_SUMS = (f"SELECT group_concat(sums, ';') FROM (SELECT (SELECT group_concat(x.id || ',' || state || ',' "
              f"|| dn || ',' || {_FLOAT.format('dsum')} || ',' || {_FLOAT.format('dmin')} || ',' "
              f"|| {_FLOAT.format('dmax')}, ';') "
              f"FROM ({_STATE_GROUPS})) AS sums FROM series x "
              "WHERE ?4 IS NULL OR x.id IN (SELECT value FROM json_each(?4)))")


@dataclasses.dataclass(frozen=True)
class Ask:
    f: EventFilter
    width: int | None = None  # bucket width in seconds; None: the whole range
    group: str | None = None  # a series field to group by
    last: bool = False  # the newest event's time is wanted (state rollups do not keep it)
    values: bool = True  # value statistics are wanted, not only counts and times


def _counts_only(ask: Ask) -> bool:
    """Whether the question is answered by counts alone (then n is the only figure of an answer that is sure)."""
    return not ask.values and not ask.last


def _bucket(ts: int, width: int | None) -> int | None:
    if width is None:
        return None
    w = width * tiers.US
    return ts // w * w


class Aggregator:
    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.conn = reader.conn
        self.dicts = reader.dicts
        self._edges: dict[tuple[EventFilter, int, int], list[tuple[int, int]]] = {}
        self._counted: dict[tuple[EventFilter, int, int], dict[int, int]] = {}
        self._keys: dict[str, list[int]] = {}

    # --- choosing the source ---------------------------------------------------------------------------

    def _single_dim(self, f: EventFilter) -> tuple[str, str] | None:
        """(dimension, value) when the filter is on one of domain/event type/area/device only."""
        used = [(name, getattr(f, name)) for name in ("domain", "event_type", "area_id", "device_id")
                if getattr(f, name) is not None]
        if f.entity_id is None and len(used) == 1:
            return used[0]
        return None

    def source(self, ask: Ask) -> str:
        """"raw", "state", "dims" or "series": where the whole buckets of this question are read from."""
        f = ask.f
        if f.text or f.old_state is not None:
            return "raw"
        if f.state is not None:
            if ask.last or not ru.categorical(f.state) or ask.group not in (None, "entity_id", "domain",
                                                                            "event_type", "area_id", "device_id"):
                return "raw"
            self.dicts.refresh_flags(self.conn)
            sids = self.reader.matching(dataclasses.replace(f, state=None))
            return "raw" if self.dicts.value_exceptions(sids if sids is not None else self.dicts.series) else "state"
        single = self._single_dim(f)
        if f.entity_id is None and single is None and not any(
                getattr(f, n) is not None for n in ("domain", "event_type", "area_id", "device_id")):
            return "dims" if ask.group in (None, *DIM_OF) else "series"
        if single is not None and ask.group in (None, single[0]):
            return "dims"
        return "series"

    # --- the answer ----------------------------------------------------------------------------------

    def values(self, ask: Ask) -> tuple[dict[Key, list[Any]], str]:
        """Per (group value, bucket start): [n, vn, vsum, vmin, vmax, last_ts, last_value]; and the tiers read.
        Asked for neither values nor the last time, only n is sure to be filled in."""
        start, end = bounds(ask.f)
        source = self.source(ask)
        kept = ru.STATE_PERIODS if source == "state" else ru.SERIES_PERIODS  # dims: theirs, else their series'
        periods = tiers.allowed(ask.width, kept) if source != "raw" else ()
        pieces = tiers.pieces(start, end, periods) if periods else [(None, start, end)] if start < end else []
        out: dict[Key, list[Any]] = {}
        device = "device_id" in (ask.group, *(["device_id"] if ask.f.device_id is not None else []))
        for period, lo, hi in pieces:
            if period is None:
                self._raw(ask, lo, hi, out)
            elif source == "dims" and period in (ru.DEVICE_PERIODS if device else ru.DIM_PERIODS):
                self._dims(ask, period, lo, hi, out)
            elif source == "dims":
                self._series(ask, period, lo, hi, out)
            elif source == "state":
                self._states(ask, period, lo, hi, out)
            else:
                self._series(ask, period, lo, hi, out)
        return out, tiers.resolution(pieces)

    def _acc(self, out: dict[Key, list[Any]], key: Key) -> list[Any]:
        acc = out.get(key)
        if acc is None:
            acc = out[key] = ru.new_value()
        return acc

    def _cells(self, ask: Ask, lo: int, hi: int) -> Iterable[tuple[Any, ...]]:
        """(series, time[, value]) of the filter's events in [lo, hi). A range's edge is kept for the next
        question on the same filter (counts by another grouping: the same events), the rest is streamed."""
        columns = ("value",) if ask.values else ()
        if ask.values or hi - lo > EDGE_US:
            return self.reader.cells(Scan(ask.f, window=(lo, hi)), columns)
        key = (ask.f, lo, hi)
        if key not in self._edges:
            self._edges[key] = list(self.reader.cells(Scan(ask.f, window=(lo, hi)), columns))  # type: ignore
        return self._edges[key]

    def _edge_counts(self, f: EventFilter, lo: int, hi: int) -> dict[int, int]:
        """Events per series in [lo, hi) (counted in SQL in the hot tier, by the time columns in the cold one), kept
        for the next question on the same filter: a raw edge lies in one bucket of every chart (a piece of one
        5-minute bucket, and a chart's width is whole 5 minutes), so counts alone answer it, with no Python per
        event (the all-events edge of a busy home is ~1,000 events)."""
        key = (f, lo, hi)
        if key not in self._counted:
            self._counted[key] = self.reader.counts(Scan(f, window=(lo, hi)))
        return self._counted[key]

    def _raw(self, ask: Ask, lo: int, hi: int, out: dict[Key, list[Any]]) -> None:
        pos = GROUP_POS.get(ask.group) if ask.group else None
        bucket = _bucket(lo, ask.width)
        if _counts_only(ask) and bucket == _bucket(hi - 1, ask.width) and not filters_events(Scan(ask.f)):
            counted = self._edge_counts(ask.f, lo, hi)  # one bucket: the series' counts are the answer
            self._add_counts(out, ((sid, bucket, n) for sid, n in counted.items()), pos)
            return
        for sid, ts, *value in self._cells(ask, lo, hi):
            group = self.reader.series_of(sid)[pos] if pos is not None else None
            ru.add_event(self._acc(out, (group, _bucket(ts, ask.width))), ts, value[0] if value else None)

    def _add_counts(self, out: dict[Key, list[Any]], counted: Iterable[tuple[int, int | None, int]],
                    pos: int | None) -> None:
        """(series, bucket, n) added to the counts of the series' group (its field at `pos`; None: one group)."""
        for sid, bucket, n in counted:
            group = self.reader.series_of(sid)[pos] if pos is not None else None
            self._acc(out, (group, bucket))[0] += n

    def _grouped(self, table: Any, keys: list[Any], period: int, lo: int, hi: int, width: int | None,
                 clauses: list[Any], counts: bool = False) -> tuple[list[Any], int]:
        """Rollup rows of `period` in [lo, hi) summed in the database per `keys` and output bucket.
        Returns the rows (keys..., bucket or None, n, vn, vsum, vmin, vmax, last_ts) and the period width;
        with `counts`, the rows (keys..., bucket or None, n): the database sums nothing else (a year's heatmap
        is ~114,000 hourly rows, each summed six ways for the one figure it shows)."""
        t = table.c
        span = ru.WIDTHS[period]
        first, last = lo // tiers.US // span, hi // tiers.US // span
        per = width // span if width else None
        bucket = (t.bucket // per if per != 1 else t.bucket).label("b") if per else None
        columns = [*keys, *([bucket] if bucket is not None else []), func.sum(t.n)]
        if not counts:
            newest = func.max(cast(t.bucket, BigInteger) * (span * tiers.US) + t.last_ts)  # from its bucket's start
            columns += [func.sum(t.vn), func.sum(t.vsum), func.min(t.vmin), func.max(t.vmax), newest]
        q = select(*columns).where(t.period == period, t.bucket >= first, t.bucket < last, *clauses)
        q = q.group_by(*keys, *([bucket] if bucket is not None else []))
        found = self.conn.execute(q).all()  # fetched at once: row by row costs SQLAlchemy's per-row calls
        k = len(keys)
        if not per:
            return [(*row[:k], None, *row[k:]) for row in found], span
        scale = per * span * tiers.US
        return [(*row[:k], row[k] * scale, *row[k + 1:]) for row in found], span

    def per_entity(self, entity_ids: list[str], width: int, start: int, end: int) -> tuple[dict[str, list[Part]], str]:
        """Per entity, the value summaries of its buckets of `width` seconds in [start, end), in no order (a bucket
        may have several: one per tier piece and series in it), and the tiers read. Each rollup tier is one query
        over the series of every entity, its rows made summaries as they come (a year of hours for ten meters
        is 87,600 rows): series.combine adds up what shares a bucket."""
        pieces = tiers.pieces(start, end, tiers.allowed(width, ru.SERIES_PERIODS))
        entity_of = {sid: self.reader.series_of(sid)[GROUP_POS["entity_id"]]
                     for sid in self.reader.of_entities(entity_ids)}
        out: dict[str, list[Part]] = {entity_id: [] for entity_id in entity_ids}
        for period, lo, hi in pieces:
            if period is None:
                for entity_id in entity_ids:
                    found: dict[Key, list[Any]] = {}
                    self._raw(Ask(EventFilter(entity_id=entity_id), width), lo, hi, found)
                    out[entity_id] += [(bucket, acc[0], acc[1], acc[2] / acc[1] if acc[1] else None, acc[3], acc[4])
                                       for (_, bucket), acc in found.items() if acc[0]]  # type: ignore
            elif entity_of:
                for sid, part in self._rollup_parts(list(entity_of), period, lo, hi, width):
                    out[entity_of[sid]].append(part)
        return out, tiers.resolution(pieces)

    def tier_columns(self, entity_ids: list[str], width: int, start: int, end: int) -> dict[str, Columns] | None:
        """`per_entity` combined, where [start, end) is whole buckets of `width` seconds, a whole number of the rows
        of a rollup tier, and each entity is one series: the coarsest such tier's rows are the buckets (or summed
        into them in the database), read in key order straight into columns, with no summary per row to make and
        combine (a year of hours is 8,760 rows a meter; a month in 30 minutes 8,640 5-minute rows). None
        otherwise."""
        periods = tiers.allowed(width, ru.SERIES_PERIODS)
        if not periods or start % (width * tiers.US) or end % (width * tiers.US) or start >= end:
            return None
        sids: dict[str, list[int]] = {entity_id: [] for entity_id in entity_ids}
        for sid in self.reader.of_entities(entity_ids):
            sids[self.reader.series_of(sid)[GROUP_POS["entity_id"]]].append(sid)
        if any(len(found) > 1 for found in sids.values()):
            return None
        period = tiers.pieces(start, end, periods)[0][0]  # one piece: the range is whole buckets of them all
        per, scale = width // ru.WIDTHS[period], width * tiers.US
        sql = driver_sql(TIER_COLUMNS if per == 1 else TIER_GROUPED.format(per=per), self.conn.dialect.name)
        cursor = self.conn.connection.cursor()  # the driver's rows as they come: no Row object for each
        out = {}
        try:
            for entity_id, found in sids.items():
                rows: list[Any] = []
                if found:
                    cursor.execute(sql, (found[0], period, start // tiers.US // ru.WIDTHS[period],
                                         end // tiers.US // ru.WIDTHS[period]))
                    rows = cursor.fetchall() if per == 1 else [_figures(*row) for row in cursor.fetchall()]
                buckets, counts, means, los, his = zip(*rows, strict=True) if rows else ((),) * 5
                out[entity_id] = Columns([b * scale for b in buckets], [int(n) for n in counts], list(means),
                                         list(los), list(his))
        finally:
            cursor.close()
        return out

    def _rollup_parts(self, sids: list[int], period: int, lo: int, hi: int, width: int) -> list[tuple[int, Part]]:
        """(series, summary) per bucket of `width` from the series rollups of `period` in [lo, hi): the rows
        themselves where the period is that wide (one per series and bucket), else summed in the database."""
        t = rollups.c
        span = ru.WIDTHS[period]
        if width == span:
            q = select(t.series, t.bucket, t.n, t.vn, t.vsum, t.vmin, t.vmax).where(
                t.period == period, t.bucket >= lo // tiers.US // span, t.bucket < hi // tiers.US // span,
                t.series.in_(sids))
            scale = span * tiers.US
            return [(sid, (bucket * scale, n, vn, vsum / vn if vn else None, vmin, vmax))
                    for sid, bucket, n, vn, vsum, vmin, vmax in self.conn.execute(q).all() if n]
        rows, _ = self._grouped(rollups, [t.series], period, lo, hi, width, [t.series.in_(sids)])
        return [(sid, (bucket, int(n), int(vn), vsum / vn if vn else None, None if vmin is None else float(vmin),
                       None if vmax is None else float(vmax)))
                for sid, bucket, n, vn, vsum, vmin, vmax, _ in rows if n]

    def _series(self, ask: Ask, period: int, lo: int, hi: int, out: dict[Key, list[Any]]) -> None:
        sids = self.reader.matching(ask.f)
        if sids is not None and not sids:
            return
        clauses = [self.reader.seeking(rollups.c.series, sids)]
        counts = _counts_only(ask)
        rows, _ = self._grouped(rollups, [rollups.c.series], period, lo, hi, ask.width, clauses, counts)
        pos = GROUP_POS.get(ask.group) if ask.group else None
        if counts:  # the summary's counts by entity: nothing else to merge
            self._add_counts(out, rows, pos)
            return
        for sid, bucket, *values in rows:
            group = self.reader.series_of(sid)[pos] if pos is not None else None
            ru.merge_value(self._acc(out, (group, bucket)), values)

    def _dims(self, ask: Ask, period: int, lo: int, hi: int, out: dict[Key, list[Any]]) -> None:
        d = dim_rollups.c
        single = self._single_dim(ask.f)
        if single is not None:
            key = self.dicts.find_string(self.conn, single[1])
            if key is None:
                return
            clauses = [d.dim == DIM_OF[single[0]], d.key == key]
        elif ask.group is not None:
            clauses = [d.dim == DIM_OF[ask.group], d.key.in_(self._dim_keys(ask.group))]
        else:
            clauses = [d.dim == 0, d.key == 0]
        counts = _counts_only(ask)
        rows, _ = self._grouped(dim_rollups, [d.key], period, lo, hi, ask.width, clauses, counts)
        names = self.dicts.string_values(self.conn, [r[0] for r in rows]) if ask.group else {}
        if counts:  # counts alone (a year's heatmap: ~114,000 rows): nothing else to merge
            for key, bucket, n in rows:
                group = (names.get(key) if key else None) if ask.group else None
                acc = out.get((group, bucket)) or self._acc(out, (group, bucket))
                acc[0] += n
            return
        for key, bucket, *values in rows:
            group = (names.get(key) if key else None) if ask.group else None
            ru.merge_value(self._acc(out, (group, bucket)), values)

    def _dim_keys(self, group: str) -> list[int]:
        """Every key of a dimension, from the series. The table is clustered on (dim, key, period, bucket): named
        keys are each sought to their buckets, where a dimension alone reads every row it ever had. Worked out
        once per dimension and question (a summary asks three dimensions at three tiers: a pass over every
        series each)."""
        if group not in self._keys:
            self.reader.refresh_series()
            pos = GROUP_POS[group]
            values = {v[pos] for v in self.dicts.series.values() if v[pos]}
            self._keys[group] = sorted(
                {0, *(k for v in values if (k := self.dicts.find_string(self.conn, v)) is not None)})
        return self._keys[group]

    def _states(self, ask: Ask, period: int, lo: int, hi: int, out: dict[Key, list[Any]]) -> None:
        key = self.dicts.find_string(self.conn, ask.f.state)  # type: ignore[arg-type]
        if key is None:
            return
        sids = self.reader.matching(dataclasses.replace(ask.f, state=None))
        if sids is not None and not sids:
            return
        s = state_rollups.c
        span = ru.WIDTHS[period]
        per = ask.width // span if ask.width else None
        bucket = (s.bucket // per if per != 1 else s.bucket).label("b") if per else None
        q = select(s.series, *([bucket] if bucket is not None else []), func.sum(s.n)).where(
            s.state == key, s.period == period, s.n > 0, s.bucket >= lo // tiers.US // span,
            s.bucket < hi // tiers.US // span).group_by(s.series, *([bucket] if bucket is not None else []))
        q = q.where(self.reader.seeking(s.series, sids))
        value = coerce_state_value(ask.f.state)
        pos = GROUP_POS.get(ask.group) if ask.group else None
        for row in self.conn.execute(q):
            sid, n = row[0], int(row[-1])
            group = self.reader.series_of(sid)[pos] if pos is not None else None
            acc = self._acc(out, (group, row[1] * per * span * tiers.US if per else None))
            ru.merge_value(acc, (n, n if value is not None else 0, None if value is None else value * n,
                                 value, value, -1, None))

    # --- durations -----------------------------------------------------------------------------------

    def durations(self, f: EventFilter) -> tuple[dict[tuple[str | None, str], list[Any]], str]:
        """Per (entity, state left): [n, left, dn, dsum, dmin, dmax, secs] of the stays ended in the range,
        for states the state rollups keep (plain-decimal states are not grouped: each number would be
        its own group)."""
        start, end = bounds(f)
        plain = dataclasses.replace(f, state=None, old_state=None, text=None)
        eligible = f == plain
        pieces = tiers.pieces(start, end, tiers.allowed(None, ru.STATE_PERIODS)) if eligible else [(None, start, end)]
        out: dict[tuple[str | None, str], list[Any]] = {}
        sids = self.reader.matching(f)
        for period, lo, hi in pieces:
            if period is None:
                scan = Scan(f, durations="any", categorical=True, window=(lo, hi))
                for sid, _, old_state, duration in self.reader.left_cells(scan):
                    acc = out.setdefault((self.reader.series_of(sid)[1], old_state), ru.new_state())
                    ru.add_duration(acc, duration)
                continue
            if sids is not None and not sids:
                continue
            width = ru.WIDTHS[period]
            first, last = lo // tiers.US // width, hi // tiers.US // width
            if self.reader.backend == "sqlite":
                rows = self._state_sums_by_series(period, first, last, sids)
            else:
                s = state_rollups.c
                # The stays' figures alone (n, left and secs are not answered): a year's ~200,000 daily rows
                # each carried three sums more through the grouping.
                q = select(s.series, s.state, func.sum(s.dn), func.sum(s.dsum), func.min(s.dmin),
                           func.max(s.dmax)).where(s.period == period, s.dn > 0, s.bucket >= first, s.bucket < last)
                q = q.where(self.reader.seeking(s.series, sids))
                rows = self.conn.execute(q.group_by(s.series, s.state)).all()  # at once: no fetch per row
            names = self.dicts.string_values(self.conn, [r[1] for r in rows])
            for sid, state, dn, dsum, dmin, dmax in rows:
                acc = out.setdefault((self.reader.series_of(sid)[1], names[state]), ru.new_state())
                ru.merge_state(acc, (0, 0, dn, dsum, dmin, dmax, 0.0))
        return out, tiers.resolution(pieces)

    def _state_sums_by_series(self, period: int, first: int, last: int, sids: list[int] | None) -> list[Any]:
        """The state rollups of buckets [first, last) summed per (series, state left), in that order, as the grouped
        statement PostgreSQL runs sums them (the same sums, to the bit: tests/store/test_state_sums.py), each series'
        rows grouped alone: SQLite groups by sorting, and a year's ~155,000 daily rows sorted at once cost 89 ms CPU,
        each series' few hundred alone 62 ms. One statement, whose one row is the text of every sum (STATE_SUMS), not
        a statement per series (541) nor a row per sum: SQLite works through it in one step without Python's lock,
        and the thread that reads the anomalies' sample beside it (queries/analytics.py) runs meanwhile; between 541
        statements and their rows the two threads took turns with the lock and lasted as long as one after the
        other. A week's few dozen daily or hourly buckets cost about what the grouped statement cost."""
        cursor = self.conn.connection.cursor()
        try:
            text = cursor.execute(STATE_SUMS, (period, first, last, None if sids is None else json.dumps(sids)))
            found = text.fetchone()[0]
        finally:
            cursor.close()
        groups = (group.split(",") for group in (found or "").split(";") if group)
        rows = [(int(sid), int(state), int(dn), _float_or_none(dsum), _float_or_none(dmin), _float_or_none(dmax))
                for sid, state, dn, dsum, dmin, dmax in groups]
        rows.sort(key=lambda row: (row[0], row[1]))
        return rows


def _float_or_none(text: str) -> float | None:
    return float(text) if text else None


def _figures(bucket: int, n: Any, vn: Any, vsum: Any, vmin: Any, vmax: Any) -> tuple[Any, ...]:
    """A chart bucket summed from a tier's rows (TIER_GROUPED) as series.combine makes it of the summary
    _rollup_parts makes: the mean back from the sum, min and max (or the mean) where it has a value."""
    vn = int(vn)
    mean = vsum / vn if vn else None
    if mean is None:
        return bucket, n, None, None, None
    return (bucket, n, (0.0 + mean * vn) / vn, float(vmin) if vmin is not None else mean,
            float(vmax) if vmax is not None else mean)


def top(groups: Iterable[tuple[Any, int]], limit: int) -> list[tuple[Any, int]]:
    return sorted(groups, key=lambda kv: (-kv[1], kv[0] is None, kv[0] or ""))[:limit]
