"""The stores' read of an entity's newest state changes (what its history's timeline shows): the same (time,
state, old state, duration) as its records, newest `limit` of them, oldest first, from both tiers and every series
the entity has had, ties at one microsecond in the records' order (by event id)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestor import normalization
from ingestor.store.model import EventFilter
from ingestor.store.timerange import to_micros
from ingestor.timeutil import parse_timestamp
from tests.store.test_states_read import NOW, OLD, kettles
from tests.support.ha_events import state_changed

START, END = OLD - dt.timedelta(days=1), NOW + dt.timedelta(hours=1)


@pytest.fixture(params=["sqlite", "postgresql", "influxdb1"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    yield from kettles(request, tmp_path)


def from_records(store: Any, entity_id: str, start: dt.datetime, end: dt.datetime, limit: int) -> list[Any]:
    f = EventFilter(entity_id=entity_id, start=start, end=end, event_type="state_changed")
    return [(to_micros(parse_timestamp(item["time_fired"])), item["state"], item["old_state"],
             item["duration_in_state"]) for item in reversed(store.query(f, limit=limit).items)]


def test_an_entity_s_changes_are_its_records_across_both_tiers_and_its_series(store: Any) -> None:
    found = store.changes("switch.kettle", START, END, 10_000)
    assert len(found) == 630
    assert found == from_records(store, "switch.kettle", START, END, 10_000)


@pytest.mark.parametrize("limit", [1, 29, 31, 130, 400])
def test_the_limit_keeps_the_newest_changes_wherever_it_cuts(store: Any, limit: int) -> None:
    found = store.changes("switch.kettle", START, END, limit)
    assert len(found) == limit
    assert found == from_records(store, "switch.kettle", START, END, limit)


@pytest.mark.parametrize("limit", [100, 148, 149, 250])  # the range's last day holds 212 of them: 148 is 212 - 64
def test_the_newest_changes_are_those_of_the_whole_range_whether_its_last_day_holds_them_or_not(
        store: Any, limit: int) -> None:
    end = OLD + dt.timedelta(days=2)
    found = store.changes("switch.kettle", START, end, limit)
    assert len(found) == limit
    assert found == from_records(store, "switch.kettle", START, end, limit)


def test_a_range_cut_inside_blocks_reads_only_the_changes_within_it(store: Any) -> None:
    start, end = OLD + dt.timedelta(hours=7, seconds=17), OLD + dt.timedelta(days=2, hours=3, seconds=1)
    found = store.changes("switch.kettle", start, end, 1000)
    assert found == from_records(store, "switch.kettle", start, end, 1000)
    assert found[0][0] >= to_micros(start) and found[-1][0] < to_micros(end)


def test_changes_at_one_microsecond_are_in_the_records_order(store: Any) -> None:
    if not hasattr(store, "compact"):
        pytest.skip("InfluxDB keys a point by its series and time: of two changes at one instant it keeps one")
    at = OLD + dt.timedelta(hours=5, seconds=1)
    store.write([normalization.normalize_event(state_changed("switch.kettle", "on", "off", at, unit=None)),
                 normalization.normalize_event(state_changed("switch.kettle", "off", "on", at, unit=None))])
    store.compact(30.0)
    start, end = OLD, at + dt.timedelta(microseconds=1)  # the two are the newest
    found = store.changes("switch.kettle", start, end, 3)
    assert [ts for ts, *_ in found[1:]] == [to_micros(at)] * 2
    assert found == from_records(store, "switch.kettle", start, end, 3)


@pytest.mark.parametrize("limit", [5, 40, 700])
def test_late_changes_of_a_compressed_day_still_hot_are_merged_in_order(store: Any, limit: int) -> None:
    late = [normalization.normalize_event(state_changed("switch.kettle", "on", "off", OLD + dt.timedelta(hours=h,
                                                                                                       seconds=7),
                                                        unit=None)) for h in (5, 30)]  # both compressed days
    store.now_us = lambda: 0  # compaction after the write leaves them: hot rows of two days of blocks, and today's
    store.write(late)
    found = store.changes("switch.kettle", START, END, limit)
    assert found == from_records(store, "switch.kettle", START, END, limit)
    assert len(found) == min(limit, 632)
