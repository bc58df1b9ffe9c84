"""InfluxDB's packed counts (store/influxcounts.py): counts grouped by the events' tags (the stats summary's
tallies) read from an hour's or a day's point say what the raw points say, however the events arrived (out of
order, late, twice), after a delete, with a pack cut short, and on a database written before them until filled."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from typing import Any

import pytest

from ingestor.store import influxrollups as ir
from ingestor.store import influxstays as packs
from ingestor.store import open_event_store
from ingestor.store.influx import InfluxEventStore
from ingestor.store.influxcounts import answers
from ingestor.store.model import EventFilter
from ingestor.store.timerange import to_micros
from tests.store import rollup_model as model
from tests.store.conftest import HOURS, START
from tests.store.stays import random_filter, written

GROUPS = ("domain", "event_type", "entity_id", "area_id")
PACKED_TIERS = tuple(f'FROM "{ir.ROLLUPS[name]}"' for name in ir.COUNTS)


def random_queries(seed: int, n: int) -> list[EventFilter]:
    rng = random.Random(seed)
    return [random_filter(rng, START, HOURS) for _ in range(n)]


def tallied(store: Any, f: EventFilter) -> tuple[int, dict[str, dict[str | None, int]], int, dict[str | None, int]]:
    """The store's tallies of `f` (total, per tag), its count and its counts per entity, as dicts."""
    total, per = store.tallies(f, dict.fromkeys(GROUPS, 1000))
    return (total, {by: dict(rows) for by, rows in per.items()}, store.count(f),
            dict(store.counts(f, "entity_id", limit=1000)))


def events_own(records: list[dict[str, Any]], f: EventFilter) -> tuple[int, dict, int, dict]:
    matching = [r for r in records if model.matches(r, f)]
    per = {by: dict(Counter(r[by] for r in matching)) for by in GROUPS}
    return len(matching), per, len(matching), per["entity_id"]


def rollups_watched(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The statements reads send from now on."""
    sent: list[str] = []
    select, select_all = InfluxEventStore._select, InfluxEventStore._select_all

    def one(self: InfluxEventStore, q: str) -> Any:
        sent.append(q)
        return select(self, q)

    def many(self: InfluxEventStore, statements: list[str]) -> Any:
        sent.extend(statements)
        return select_all(self, statements)

    monkeypatch.setattr(InfluxEventStore, "_select", one)
    monkeypatch.setattr(InfluxEventStore, "_select_all", many)
    return sent


def agrees(store: Any, records: list[dict[str, Any]], queries: list[EventFilter],
           monkeypatch: pytest.MonkeyPatch, packed: bool = True) -> None:
    """Every query's tallies and counts are the events' own; read from the packs (`packed`: no statement over the
    hours' or days' rollups) for those the packs answer."""
    with monkeypatch.context() as patched:
        sent = rollups_watched(patched)
        for trial, f in enumerate(queries):
            sent.clear()
            assert tallied(store, f) == events_own(records, f), f"trial {trial}: {f}"
            if packed and answers(f):
                assert not [q for q in sent if any(tier in q for tier in PACKED_TIERS)], f"trial {trial}: {f}"


def test_counts_read_from_the_packs_are_the_events_own_however_they_arrived(
        url: str, history: model.History, monkeypatch: pytest.MonkeyPatch) -> None:
    store = written(url, history)  # out of order, late, some twice: every batch packs its hours and days
    agrees(store, history.records, random_queries(4701, 40), monkeypatch)


def test_counts_from_the_packs_equal_those_from_the_rollups(url: str, history: model.History,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    store = written(url, history)
    queries = random_queries(4702, 30)
    from_packs = [tallied(store, f) for f in queries]
    monkeypatch.setattr(store, "_has_marker", lambda marker: marker != ir.COUNTS_READY)  # as before packs
    assert [tallied(store, f) for f in queries] == from_packs
    assert any(t[0] for t in from_packs)


def test_a_late_batch_and_a_redelivered_one_pack_their_buckets_again(url: str, history: model.History,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    oldest = min(history.batches, key=lambda batch: min(model.micros(r) for r in batch))
    store = written(url, model.History([], [b for b in history.batches if b is not oldest and b != oldest]))
    held = {r["event_id"] for r in oldest}
    queries = random_queries(4703, 15)
    agrees(store, [r for r in history.records if r["event_id"] not in held], queries, monkeypatch)
    store.write(oldest)  # late: its hours and day were packed without it
    store.write(history.batches[-1])  # again
    agrees(store, history.records, queries, monkeypatch)


def test_a_delete_cutting_days_leaves_the_packs_of_what_is_left(url: str, history: model.History,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    store = written(url, history)
    cut_from, cut_to = START + dt.timedelta(hours=20, minutes=17), START + dt.timedelta(hours=53, minutes=41)
    store.delete(cut_from, cut_to)
    left = [r for r in history.records if not to_micros(cut_from) <= model.micros(r) < to_micros(cut_to)]
    agrees(store, left, random_queries(4704, 25), monkeypatch)


def test_a_pack_cut_short_is_read_from_the_rollups(url: str, history: model.History,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packs, "PART_CHARS", 200)  # a day's counts in several parts
    store = written(url, history)
    parts = store.transport.query(f'SELECT "part" FROM "{ir.COUNTS["1d"]}" WHERE "part" > 0')[0]["values"]
    assert len(parts) > 3
    store.transport.query(f'DELETE FROM "{ir.COUNTS["1d"]}" WHERE time = {parts[0][0] * 1000}')  # a write cut short
    agrees(store, history.records, random_queries(4705, 20), monkeypatch, packed=False)


def test_the_same_batches_again_give_the_same_points(url: str, history: model.History) -> None:
    store = written(url, history)
    packed = [(s["name"], row) for name in ir.COUNTS.values()
              for s in store.transport.query(f'SELECT * FROM "{name}"') for row in s.get("values", [])]
    for batch in history.batches[:2] + history.batches[-2:]:  # the first batches ever written, the last twice
        store.write(batch)
    assert [(s["name"], row) for name in ir.COUNTS.values()
            for s in store.transport.query(f'SELECT * FROM "{name}"') for row in s.get("values", [])] == packed
    assert packed


def test_a_database_written_before_the_packs_gets_them_from_its_rollups(
        url: str, history: model.History, monkeypatch: pytest.MonkeyPatch) -> None:
    store = written(url, history)
    for name in (*ir.COUNTS.values(), ir.COUNTS_READY):
        store.transport.query(f'DROP MEASUREMENT "{name}"')
    queries = random_queries(4706, 15)
    agrees(open_event_store(url), history.records, queries, monkeypatch, packed=False)  # from the rollups
    with monkeypatch.context() as patched:
        patched.setattr(InfluxEventStore, "_sum_buckets", lambda *_: pytest.fail("read raw points"))
        filled = list(open_event_store(url).fill_counts())
        assert list(open_event_store(url).fill_counts()) == []  # marked: nothing left to do
    assert {day for day, _ in filled} == {model.micros(r) // 86_400_000_000 * 86_400_000_000
                                         for r in history.records}
    agrees(open_event_store(url), history.records, queries, monkeypatch)  # another process: the packs are whole
