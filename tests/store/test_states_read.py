"""The SQL stores' read of one entity's states over a range (what a device's energy impact reads, a year of a
switch at once): the same (time, state) pairs, oldest first, as its records, from both tiers and every series
the entity has had; where two of its events share a microsecond, no answer (their order is their event ids')."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestor import normalization
from ingestor.energy import reading
from ingestor.store.model import EventFilter
from ingestor.store.timerange import to_micros
from ingestor.timeutil import parse_timestamp
from tests.store.conftest import opened
from tests.support.ha_events import state_changed

OLD = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)  # older than yesterday: compacted into blocks
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def toggles(entity_id: str, start: dt.datetime, count: int, every_s: int, name: str | None = None) -> list[Any]:
    out = []
    for i in range(count):
        event = state_changed(entity_id, "off" if i % 2 else "on", "on" if i % 2 else "off",
                              start + dt.timedelta(seconds=every_s * i), unit=None)
        if name:
            event["data"]["new_state"]["attributes"]["friendly_name"] = name
        out.append(normalization.normalize_event(event))
    return out


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    yield from kettles(request, tmp_path)


def kettles(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A store of request.param holding a kettle's switching over two days of blocks in two series, a pump's, and
    an hour of hot ones."""
    event_store = opened(request.param, tmp_path, request)
    events = (toggles("switch.kettle", OLD, 500, 300)  # two days of blocks
              + toggles("switch.kettle", OLD + dt.timedelta(days=2), 100, 300, name="Kettle")  # a second series
              + toggles("switch.pump", OLD, 800, 200)  # another entity, interleaved
              + toggles("switch.kettle", NOW - dt.timedelta(hours=3), 30, 60))  # hot
    event_store.write(events)
    while hasattr(event_store, "compact") and event_store.compact(30.0):  # InfluxDB has one tier
        pass
    yield event_store
    event_store.close()


def from_records(store: Any, entity_id: str, start: dt.datetime, end: dt.datetime) -> list[tuple[int, str | None]]:
    page, out = store.query(EventFilter(entity_id=entity_id, start=start, end=end), limit=10_000), []
    assert page.next_cursor is None
    for item in reversed(page.items):
        out.append((to_micros(parse_timestamp(item["time_fired"])), item["state"]))
    return out


def test_an_entity_s_states_are_its_records_times_and_states_across_both_tiers_and_its_series(store: Any) -> None:
    start, end = OLD - dt.timedelta(days=1), NOW + dt.timedelta(hours=1)
    found = store.states("switch.kettle", start, end)
    assert len(found) == 630
    assert found == from_records(store, "switch.kettle", start, end)


def test_a_range_cut_inside_blocks_reads_only_the_events_within_it(store: Any) -> None:
    start, end = OLD + dt.timedelta(hours=7, seconds=17), OLD + dt.timedelta(days=2, hours=3, seconds=1)
    found = store.states("switch.kettle", start, end)
    assert found == from_records(store, "switch.kettle", start, end)
    assert found[0][0] >= to_micros(start) and found[-1][0] < to_micros(end)


def test_two_events_at_one_microsecond_leave_the_order_to_the_records(store: Any) -> None:
    at = OLD + dt.timedelta(hours=5, seconds=1)
    twin = normalization.normalize_event(state_changed("switch.kettle", "on", "off", at, unit=None))
    store.write([twin, normalization.normalize_event(state_changed("switch.kettle", "off", "on", at, unit=None))])
    start, end = OLD + dt.timedelta(hours=1), OLD + dt.timedelta(days=1)
    assert store.states("switch.kettle", start, end) is None
    timeline = reading.timeline(store, "switch.kettle", start, end)
    assert timeline[0] == (to_micros(start), "on")  # the state held at the start: the 00:55 event's
    assert timeline[1:] == from_records(store, "switch.kettle", start, end)
