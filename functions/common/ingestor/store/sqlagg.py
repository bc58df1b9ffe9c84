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
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from ingestor.normalization import coerce_state_value
from ingestor.store import rollups as ru
from ingestor.store import tiers
from ingestor.store.model import EventFilter
from ingestor.store.sqlread import Reader, Scan, bounds
from ingestor.store.sqlschema import dim_rollups, rollups, state_rollups

GROUP_POS = {"entity_id": 1, "domain": 2, "event_type": 0, "area_id": 3, "device_id": 4}
DIM_OF = {name: code for code, name in enumerate(ru.DIMS) if code}
Key = tuple[Any, int | None]  # (group value, bucket start µs)


@dataclasses.dataclass(frozen=True)
class Ask:
    f: EventFilter
    width: int | None = None  # bucket width in seconds; None: the whole range
    group: str | None = None  # a series field to group by
    last: bool = False  # the newest event's time is wanted (state rollups do not keep it)


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
        """Per (group value, bucket start): [n, vn, vsum, vmin, vmax, last_ts, last_value]; and the tiers read."""
        start, end = bounds(ask.f)
        source = self.source(ask)
        periods = tiers.allowed(ask.width, (1, 2) if source == "state" else (0, 1, 2)) if source != "raw" else ()
        pieces = tiers.segments(start, end, periods) if periods else [(None, start, end)] if start < end else []
        out: dict[Key, list[Any]] = {}
        for period, lo, hi in pieces:
            if period is None:
                self._raw(ask, lo, hi, out)
            elif source == "dims":
                self._dims(ask, period, lo, hi, out)
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

    def _raw(self, ask: Ask, lo: int, hi: int, out: dict[Key, list[Any]]) -> None:
        pos = GROUP_POS.get(ask.group) if ask.group else None
        for sid, row in self.reader.scan(Scan(ask.f, window=(lo, hi))):
            group = self.reader.series_of(sid)[pos] if pos is not None else None
            ru.add_event(self._acc(out, (group, _bucket(row.ts, ask.width))), row.ts, row.value)

    def _series(self, ask: Ask, period: int, lo: int, hi: int, out: dict[Key, list[Any]]) -> None:
        sids = self.reader.matching(ask.f)
        if sids is not None and not sids:
            return
        width = ru.PERIODS[period]
        r = rollups.c
        q = select(r.series, r.bucket, r.n, r.vn, r.vsum, r.vmin, r.vmax, r.last_ts, r.last_value).where(
            r.period == period, r.bucket >= lo // tiers.US // width, r.bucket < hi // tiers.US // width)
        if sids is not None:
            q = q.where(r.series.in_(sids))
        pos = GROUP_POS.get(ask.group) if ask.group else None
        for sid, bucket, *values in self.conn.execute(q):
            group = self.reader.series_of(sid)[pos] if pos is not None else None
            ru.merge_value(self._acc(out, (group, _bucket(bucket * width * tiers.US, ask.width))), values)

    def _dims(self, ask: Ask, period: int, lo: int, hi: int, out: dict[Key, list[Any]]) -> None:
        width = ru.PERIODS[period]
        d = dim_rollups.c
        single = self._single_dim(ask.f)
        if single is not None:
            dim = DIM_OF[single[0]]
            key = self.dicts.find_string(self.conn, single[1])
            if key is None:
                return
            q = select(d.key, d.bucket, d.n, d.vn, d.vsum, d.vmin, d.vmax, d.last_ts).where(d.dim == dim,
                                                                                            d.key == key)
        elif ask.group is not None:
            q = select(d.key, d.bucket, d.n, d.vn, d.vsum, d.vmin, d.vmax, d.last_ts).where(
                d.dim == DIM_OF[ask.group])
        else:
            q = select(d.key, d.bucket, d.n, d.vn, d.vsum, d.vmin, d.vmax, d.last_ts).where(d.dim == 0, d.key == 0)
        q = q.where(d.period == period, d.bucket >= lo // tiers.US // width, d.bucket < hi // tiers.US // width)
        rows = list(self.conn.execute(q))
        names = self.dicts.string_values(self.conn, [r[0] for r in rows]) if ask.group else {}
        for key, bucket, *values in rows:
            group = (names.get(key) if key else None) if ask.group else None
            ru.merge_value(self._acc(out, (group, _bucket(bucket * width * tiers.US, ask.width))), values)

    def _states(self, ask: Ask, period: int, lo: int, hi: int, out: dict[Key, list[Any]]) -> None:
        key = self.dicts.find_string(self.conn, ask.f.state)  # type: ignore[arg-type]
        if key is None:
            return
        sids = self.reader.matching(dataclasses.replace(ask.f, state=None))
        if sids is not None and not sids:
            return
        width = ru.PERIODS[period]
        s = state_rollups.c
        q = select(s.series, s.bucket, s.n).where(s.state == key, s.period == period, s.n > 0,
                                                  s.bucket >= lo // tiers.US // width,
                                                  s.bucket < hi // tiers.US // width)
        if sids is not None:
            q = q.where(s.series.in_(sids))
        value = coerce_state_value(ask.f.state)
        pos = GROUP_POS.get(ask.group) if ask.group else None
        for sid, bucket, n in self.conn.execute(q):
            group = self.reader.series_of(sid)[pos] if pos is not None else None
            acc = self._acc(out, (group, _bucket(bucket * width * tiers.US, ask.width)))
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
        pieces = tiers.segments(start, end, (2, 1)) if eligible else [(None, start, end)]
        out: dict[tuple[str | None, str], list[Any]] = {}
        sids = self.reader.matching(f)
        for period, lo, hi in pieces:
            if period is None:
                scan = Scan(f, durations="any", categorical=True, window=(lo, hi))
                for sid, row in self.reader.scan(scan):
                    acc = out.setdefault((self.reader.series_of(sid)[1], row.old_state), ru.new_state())  # type: ignore
                    ru.add_duration(acc, row.duration)  # type: ignore[arg-type]
                continue
            if sids is not None and not sids:
                continue
            width = ru.PERIODS[period]
            s = state_rollups.c
            q = select(s.series, s.state, s.n, s.left, s.dn, s.dsum, s.dmin, s.dmax, s.secs).where(
                s.period == period, s.dn > 0, s.bucket >= lo // tiers.US // width, s.bucket < hi // tiers.US // width)
            if sids is not None:
                q = q.where(s.series.in_(sids))
            rows = list(self.conn.execute(q))
            names = self.dicts.string_values(self.conn, [r[1] for r in rows])
            for sid, state, *values in rows:
                acc = out.setdefault((self.reader.series_of(sid)[1], names[state]), ru.new_state())
                ru.merge_state(acc, (0, 0, values[2], values[3], values[4], values[5], 0.0))
        return out, tiers.resolution(pieces)


def top(groups: Iterable[tuple[Any, int]], limit: int) -> list[tuple[Any, int]]:
    return sorted(groups, key=lambda kv: (-kv[1], kv[0] is None, kv[0] or ""))[:limit]
