"""InfluxDB's packed stay rollups (store/influxsums.py): the durations' items summed from an hour's or a day's
point say what the raw points say, however the events arrived (out of order, late, twice), after a delete, with a
pack cut into parts or missing one, and on a database written before them until its rollups are summed again."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest

from ingestor.store import influxrollups as ir
from ingestor.store import influxstays as packs
from ingestor.store import open_event_store
from ingestor.store.influx import InfluxEventStore
from ingestor.store.model import EventFilter
from ingestor.store.timerange import to_micros
from tests.store import rollup_model as model
from tests.store.conftest import HOURS, START
from tests.store.stays import assert_durations_agree, random_filter, written


@pytest.fixture(scope="module")
def history() -> model.History:
    return model.home(seed=43, start=START, hours=HOURS, events=2500)


def random_query(rng: random.Random) -> EventFilter:
    return random_filter(rng, START, HOURS)


def agrees(store: Any, records: list[dict[str, Any]], seed: int, trials: int = 25) -> None:
    """Counts, minima and maxima exactly, totals to float tolerance."""
    rng = random.Random(seed)
    for trial in range(trials):
        assert_durations_agree(store, records, random_query(rng), trial)


def rollups_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """No statement over the stay rollups' series: the items come from the packs."""
    def refused(*_: Any) -> None:
        raise AssertionError("read from the stay rollups")

    monkeypatch.setattr(InfluxEventStore, "_stays_sums", refused)


def test_items_read_from_the_packs_are_the_events_own_however_they_arrived(
        url: str, history: model.History, monkeypatch: pytest.MonkeyPatch) -> None:
    store = written(url, history)  # out of order, late, some twice: every batch packs its hours and days
    rollups_refused(monkeypatch)
    agrees(store, history.records, seed=4301)


def test_items_from_the_packs_equal_those_from_the_rollups(url: str, history: model.History,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    store = written(url, history)
    rng = random.Random(4302)
    queries = [random_query(rng) for _ in range(25)]
    from_packs = [store.durations(f, limit=1000) for f in queries]
    monkeypatch.setattr(store, "_has_marker", lambda marker: marker != ir.SUMS_READY)  # as before packs
    from_rollups = [store.durations(f, limit=1000) for f in queries]
    assert [[(d.entity_id, d.state, d.count, d.min, d.max) for d in ds] for ds in from_packs] == \
        [[(d.entity_id, d.state, d.count, d.min, d.max) for d in ds] for ds in from_rollups]
    assert [d.total for ds in from_packs for d in ds] == pytest.approx([d.total for ds in from_rollups for d in ds])
    assert any(from_packs)


def test_a_delete_leaves_the_packs_of_what_is_left(url: str, history: model.History,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    store = written(url, history)
    cut_from, cut_to = START + dt.timedelta(hours=20, minutes=17), START + dt.timedelta(hours=53, minutes=41)
    store.delete(cut_from, cut_to)
    left = [r for r in history.records if not to_micros(cut_from) <= model.micros(r) < to_micros(cut_to)]
    rollups_refused(monkeypatch)
    agrees(store, left, seed=4303, trials=15)


def test_a_pack_cut_into_parts_or_missing_one_reads_as_a_whole_one(url: str, history: model.History,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packs, "PART_CHARS", 200)  # a day's sums in several parts
    store = written(url, history)
    parts = store.transport.query(f'SELECT "part" FROM "{ir.SUMS["1d"]}" WHERE "part" > 0')[0]["values"]
    assert len(parts) > 3
    agrees(store, history.records, seed=4304, trials=10)
    store.transport.query(f'DELETE FROM "{ir.SUMS["1d"]}" WHERE time = {parts[0][0] * 1000}')  # a write cut short
    agrees(store, history.records, seed=4305, trials=10)


def test_a_database_written_before_the_packs_reads_the_rollups_until_they_are_summed_again(
        url: str, history: model.History, monkeypatch: pytest.MonkeyPatch) -> None:
    store = written(url, history)
    for name in (*ir.SUMS.values(), ir.SUMS_READY):
        store.transport.query(f'DROP MEASUREMENT "{name}"')
    before = open_event_store(url)
    agrees(before, history.records, seed=4306, trials=10)
    before.build_rollups()
    fresh = open_event_store(url)  # another process: it finds the packs whole
    rollups_refused(monkeypatch)
    agrees(fresh, history.records, seed=4307, trials=10)


def test_the_same_batches_again_give_the_same_points(url: str, history: model.History) -> None:
    store = written(url, history)

    def points() -> list[Any]:
        return [(s["name"], v) for name in ir.SUMS.values()
                for s in store.transport.query(f'SELECT * FROM "{name}"') for v in s.get("values", [])]

    before = points()
    for batch in history.batches[-3:]:
        store.write(batch)
    assert points() == before and before


def test_a_database_written_before_the_packs_gets_them_from_its_rollups(
        url: str, history: model.History, monkeypatch: pytest.MonkeyPatch) -> None:
    store = written(url, history)
    for name in (*ir.SUMS.values(), ir.SUMS_READY):
        store.transport.query(f'DROP MEASUREMENT "{name}"')
    before = open_event_store(url)
    monkeypatch.setattr(InfluxEventStore, "_sum_buckets", lambda *_: pytest.fail("read raw points"))
    filled = list(before.fill_sums())
    assert {day for day, _ in filled} == {model.micros(r) // 86_400_000_000 * 86_400_000_000
                                         for r in history.records}
    assert list(open_event_store(url).fill_sums()) == []  # marked: nothing left to do
    fresh = open_event_store(url)
    rollups_refused(monkeypatch)
    agrees(fresh, history.records, seed=4308, trials=10)
