"""The stays a store's `stay_groups` took, one by one and newest first (time, then event id): what the tests
compare with the events' own, whatever order the groups hold them in; and the SQL stores' packed stays."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any, NamedTuple

import pytest
from sqlalchemy import text

from ingestor.store import blocks, open_event_store
from ingestor.store.model import EventFilter, StayGroup, prefetch_ids
from ingestor.store.sqlread import Reader
from tests.store import rollup_model as model


class Stay(NamedTuple):
    entity_id: str
    state: str
    time: dt.datetime
    duration: float
    event_id: str


def random_filter(rng: random.Random, start: dt.datetime, hours: int) -> EventFilter:
    """A filter of InfluxDB's packs' tests: a range within `hours` from `start` (its ends at any instant, a whole
    hour or a day's start, or open), on no series or one entity, domain, area, device or event type."""
    def moment() -> dt.datetime:
        at = start + dt.timedelta(microseconds=rng.randrange(hours * 3600 * 1_000_000))
        return rng.choice([at, at.replace(minute=0, second=0, microsecond=0),
                           at.replace(hour=0, minute=0, second=0, microsecond=0)])

    a, b = sorted([moment(), moment()])
    entity, area, device, _ = rng.choice(model.ENTITIES)
    fields = rng.choice([{}, {}, {"entity_id": entity}, {"domain": entity.split(".")[0]}, {"area_id": area},
                         {"device_id": device}, {"event_type": "state_changed"}])
    return EventFilter(start=rng.choice([a, a, None]), end=rng.choice([b if b > a else None, None]), **fields)


def written(url: str, history: model.History) -> Any:
    """A store at `url` with `history`'s batches written through `write`, in their order (late, some twice)."""
    store = open_event_store(url)
    for batch in history.batches:
        store.write(batch)
    return store


def assert_durations_agree(store: Any, records: list[dict[str, Any]], f: EventFilter, trial: int) -> None:
    """The store's durations of `f` are the events' own: counts, minima and maxima exactly, totals to float
    tolerance (rollups and packs sum in their own order)."""
    want = model.durations(records, f)
    got = {(d.entity_id, d.state): d for d in store.durations(f, limit=1000)}
    assert set(got) == set(want), f"trial {trial}: {f}"
    for key, values in want.items():
        d = got[key]
        assert (d.count, d.min, d.max) == (len(values), min(values), max(values)), f"trial {trial}: {key}"
        assert d.total == pytest.approx(sum(values)), f"trial {trial}: {key}"


def newest_first(groups: list[StayGroup]) -> list[Stay]:
    prefetch_ids((g, k) for g in groups for k in range(len(g.durations)))  # InfluxDB's: a request, not one each
    stays = [Stay(g.entity_id, g.state, g.time(k), g.durations[k], g.event_id(k))
             for g in groups for k in range(len(g.durations))]
    return sorted(stays, key=lambda s: (s.time, s.event_id), reverse=True)


def unpack(store: Any, series: int | None = None) -> None:
    """Drop the store's packed stays (of one series, or all): a database compacted before schema step 11 kept
    none (store/coldstays.py)."""
    with store.engine.begin() as conn:
        if series is None:
            conn.execute(text("DELETE FROM cold_stays"))
        else:
            conn.execute(text("DELETE FROM cold_stays WHERE series = :s"), {"s": series})


def packed_days(store: Any) -> set[tuple[int, int]]:
    """(series, day) of the store's packed rows."""
    with store.engine.connect() as conn:
        return {(int(s), int(d)) for s, d in conn.execute(text("SELECT series, day FROM cold_stays"))}


def block_days(store: Any) -> set[tuple[int, int]]:
    """(series, day) of the store's blocks."""
    with store.engine.connect() as conn:
        return {(int(s), int(d)) for s, d in conn.execute(text("SELECT DISTINCT series, day FROM blocks"))}


def compacted(store: Any, events: list[dict[str, Any]]) -> None:
    """Write `events` (past days) and compact them into blocks and packed stays."""
    for i in range(0, len(events), 1000):
        store.write(events[i:i + 1000])
    while store.compact(30.0):
        pass


def blocks_read(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ids of the blocks reads decode from now on."""
    read: list[int] = []
    kept_block = Reader.kept_block

    def counted(self: Reader, bid: int, *args: Any) -> blocks.Block:
        read.append(bid)
        return kept_block(self, bid, *args)

    monkeypatch.setattr(Reader, "kept_block", counted)
    return read
