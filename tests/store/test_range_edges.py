"""A range's raw edge (the minutes before its first whole 5-minute bucket) costs what its own events cost.

Its events are read from the cold tier, whose blocks hold a whole day of a series: the 5-minute rollups say
which series have events in those minutes, so the blocks of every other series are not decoded; the stats
summary's questions (a count and counts by four groupings) read the edge once for all of them. Answers are
the same as every question asked alone, on every backend."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestor.queries import analytics, stats
from ingestor.queries.params import Range
from ingestor.store import blocks
from ingestor.store.model import EventFilter
from ingestor.store.sqlread import Reader, Scan
from tests.store import rollup_model as model
from tests.store.conftest import opened
from tests.store.stays import newest_first
from tests.store.test_event_store import placed
from tests.store.test_rollup_exactness import HOURS, START, random_filter, random_range

DAY = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)  # compacted into blocks: older than yesterday
SUMMARY = {"domain": 20, "event_type": 20, "entity_id": 10, "area_id": 20}


@pytest.fixture()
def sqlite_store(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    store = opened("sqlite", tmp_path, request)
    yield store
    store.close()


@pytest.fixture()
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The first time of every block whose time column is decoded from now on."""
    seen: list[int] = []
    decode = blocks.decode_times

    def counting(times: bytes, first: int) -> list[int]:
        seen.append(first)
        return decode(times, first)

    monkeypatch.setattr(blocks, "decode_times", counting)
    return seen


def a_meter_and_a_quiet_light(store: Any) -> None:
    """A meter reporting every minute of the day; a light switched at 06:00 and 20:00 only."""
    meter = [placed("sensor.meter", DAY + dt.timedelta(minutes=m), str(m), str(m + 1), unit="W") for m in range(1440)]
    light = [placed("light.hall", DAY + dt.timedelta(hours=h), "off" if h == 6 else "on", "on" if h == 6 else "off",
                    unit=None) for h in (6, 20)]
    store.write(meter + light)
    store.compact(5.0)


def test_a_range_edge_decodes_only_the_blocks_of_series_with_events_in_it(sqlite_store: Any,
                                                                          decoded: list[int]) -> None:
    a_meter_and_a_quiet_light(sqlite_store)
    f = EventFilter(start=DAY + dt.timedelta(hours=12, minutes=2, seconds=30), end=DAY + dt.timedelta(hours=21))
    info: dict[str, Any] = {}
    assert sqlite_store.count(f, info=info) == 8 * 60 + 57 + 1  # the meter's 12:03 … 20:59, the light's 20:00
    assert "raw" in info["resolution"]
    # the meter's block of 12:00-14:00 only (2 hours of 60 events: compaction.parts); the light was quiet then
    assert decoded == [int((DAY + dt.timedelta(hours=12)).timestamp()) * 1_000_000]


def test_a_durations_edge_decodes_only_the_blocks_of_series_with_stays_ending_in_it(sqlite_store: Any,
                                                                                     decoded: list[int]) -> None:
    a_meter_and_a_quiet_light(sqlite_store)
    f = EventFilter(start=DAY + dt.timedelta(hours=12, minutes=2, seconds=30), end=DAY + dt.timedelta(hours=21))
    info: dict[str, Any] = {}
    (stay,) = sqlite_store.durations(f, info=info)
    assert (stay.entity_id, stay.state, stay.count) == ("light.hall", "on", 1)
    assert "raw" in info["resolution"]
    assert decoded == []  # the meter had events in the edge's minutes, but no stays: its numbers are no state


def test_the_summary_reads_a_range_edge_once(sqlite_store: Any, decoded: list[int]) -> None:
    a_meter_and_a_quiet_light(sqlite_store)
    f = EventFilter(start=DAY + dt.timedelta(hours=12, minutes=2, seconds=30), end=DAY + dt.timedelta(hours=21))
    total, counts = sqlite_store.tallies(f, SUMMARY)
    assert len(decoded) == 1
    assert (total, counts) == (sqlite_store.count(f), {by: sqlite_store.counts(f, by, n) for by, n in SUMMARY.items()})
    assert counts["entity_id"] == [("sensor.meter", 537), ("light.hall", 1)]


def test_activity_reads_a_range_edge_once(sqlite_store: Any, decoded: list[int]) -> None:
    a_meter_and_a_quiet_light(sqlite_store)
    f = EventFilter(start=DAY + dt.timedelta(hours=12, minutes=2, seconds=30), end=DAY + dt.timedelta(hours=21))
    active = sqlite_store.activity(f, "entity_id")
    assert len(decoded) == 1
    assert active == {"sensor.meter": (537, DAY + dt.timedelta(hours=20, minutes=59)),
                      "light.hall": (1, DAY + dt.timedelta(hours=20))}


def test_reliability_reads_a_range_edge_once(sqlite_store: Any, decoded: list[int]) -> None:
    a_meter_and_a_quiet_light(sqlite_store)
    r = Range(DAY + dt.timedelta(hours=12, minutes=2, seconds=30), DAY + dt.timedelta(hours=21))
    body = analytics.reliability(sqlite_store, EventFilter(start=r.start, end=r.end), r, r.end, {}, {}, 10)
    assert len(decoded) == 1  # its counts and its last-seen times, from one read
    assert "raw" in body["resolution"]


def test_a_trend_of_several_entities_reads_no_value_at_its_range_edge(sqlite_store: Any,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    a_meter_and_a_quiet_light(sqlite_store)
    fetched: list[int] = []
    payloads = Reader.payloads

    def counted(self: Reader, found: list[tuple[int, blocks.Block]]) -> None:
        fetched.extend(bid for bid, _ in found)
        payloads(self, found)

    monkeypatch.setattr(Reader, "payloads", counted)
    r = Range(DAY + dt.timedelta(hours=12, minutes=2, seconds=30), DAY + dt.timedelta(hours=21))
    body = stats.trend(sqlite_store, EventFilter(start=r.start, end=r.end), r, 300)
    assert fetched == []  # its edge's times say its counts: no payload (values) is read
    assert (body["total"], body["values"]) == (538, False)
    assert "raw" in body["resolution"]


def test_counts_at_a_range_edge_are_counted_per_series_not_read_event_by_event(sqlite_store: Any,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A raw edge lies within one bucket of any chart (part of one 5-minute bucket): counts per series answer it."""
    a_meter_and_a_quiet_light(sqlite_store)
    now = dt.datetime.now(dt.UTC)
    sqlite_store.write([placed("sensor.meter", now - dt.timedelta(microseconds=1), "1", "-5", unit="W")])  # hot edge
    read: list[Scan] = []
    cells = Reader.cells

    def counted(self: Reader, s: Scan, columns: tuple[str, ...]) -> Any:
        read.append(s)
        return cells(self, s, columns)

    monkeypatch.setattr(Reader, "cells", counted)
    f = EventFilter(start=DAY + dt.timedelta(hours=12, minutes=2, seconds=30), end=now)
    assert sqlite_store.count(f) == 11 * 60 + 57 + 1 + 1  # the meter's 12:03 … 23:59, the light's 20:00, the new one
    r = Range(f.start, f.end)  # type: ignore[arg-type]
    body = stats.trend(sqlite_store, f, r, 21_600)
    assert body["total"] == sqlite_store.count(f)
    grid = sqlite_store.grid(f, "area_id", 3600)
    assert sum(n for _, _, n in grid) == body["total"]
    assert read == []
    assert sqlite_store.count(dataclasses.replace(f, state="-5")) == 1 and read  # a filter on states reads events


def test_stays_are_read_from_blocks_without_building_their_rows(sqlite_store: Any,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    a_meter_and_a_quiet_light(sqlite_store)
    (stored,) = sqlite_store.query(EventFilter(entity_id="light.hall", start=DAY + dt.timedelta(hours=12))).items

    def refused(self: blocks.Block, i: int) -> None:
        raise AssertionError("a stay needs its time, id, state left and duration, not a whole Row")

    monkeypatch.setattr(blocks.Block, "row", refused)
    (stay,) = newest_first(sqlite_store.stay_groups(EventFilter(domain="light", start=DAY + dt.timedelta(hours=12))))
    assert (stay.event_id, stay.entity_id, stay.state, stay.time, stay.duration) == (
        stored["event_id"], "light.hall", "on", DAY + dt.timedelta(hours=20), stored["duration_in_state"])


@pytest.fixture(params=["sqlite", "postgresql", "influxdb1"])
def loaded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    store = opened(request.param, tmp_path, request)
    for batch in model.home(seed=21, start=START, hours=HOURS, events=1500).batches:
        store.write(batch)
    yield store
    store.close()


def test_the_summary_questions_read_together_equal_the_events_own(loaded: Any) -> None:
    history = model.home(seed=21, start=START, hours=HOURS, events=1500)
    rng = random.Random(1521)
    for trial in range(30):
        start, end = random_range(rng)
        f = dataclasses.replace(random_filter(rng), start=start, end=end)
        info: dict[str, Any] = {}
        total, counts = loaded.tallies(f, dict.fromkeys(SUMMARY, 1000), info=info)
        where = f"trial {trial}: {f}"
        assert total == sum(a[0] for a in model.values(history.records, f, None, None).values()), where
        for by in SUMMARY:
            want = {key: acc[0] for (key, _), acc in model.values(history.records, f, None, by).items() if acc[0]}
            assert dict(counts[by]) == want, where
        assert info["resolution"], where
        assert loaded.tallies(f, SUMMARY) == (total, {by: loaded.counts(f, by, n) for by, n in SUMMARY.items()}), where


def test_activity_equals_the_counts_and_last_seen_times(loaded: Any) -> None:
    rng = random.Random(1522)
    for trial in range(20):
        start, end = random_range(rng)
        f = dataclasses.replace(random_filter(rng), start=start, end=end)
        by = rng.choice(list(SUMMARY) + ["device_id"])
        counts, seen = dict(loaded.counts(f, by, 10_000)), dict(loaded.last_seen(f, by, 10_000))
        assert loaded.activity(f, by) == {key: (n, seen[key]) for key, n in counts.items()}, f"trial {trial}: {f}"


def test_buckets_without_values_count_as_buckets_with_them(loaded: Any) -> None:
    rng = random.Random(1523)
    for trial in range(20):
        start, end = random_range(rng)
        f = dataclasses.replace(random_filter(rng), start=start, end=end)
        width = rng.choice([300, 900, 3600, 86_400])
        counted = [dataclasses.replace(b, mean=None, min=None, max=None) for b in loaded.buckets(f, width)]
        assert loaded.buckets(f, width, values=False) == counted, f"trial {trial}: {f}"
