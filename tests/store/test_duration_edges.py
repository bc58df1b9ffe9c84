"""The durations' raw edge on a compacted day (the first minutes of a range, before its first whole hour): read from
the day's packed stays (store/coldstays.py), no block decoded, with the answer its blocks give; from the blocks
where the packed stays do not hold every stay of the edge (a stay of negative duration, a series not packed)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestor import normalization
from ingestor.store.model import EventFilter
from tests.store.conftest import opened
from tests.store.stays import block_days, blocks_read, compacted, unpack
from tests.support.ha_events import state_changed

DAY = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)  # older than yesterday: compacted into blocks
EDGE = EventFilter(start=DAY + dt.timedelta(hours=5, minutes=17, seconds=3), end=DAY + dt.timedelta(days=2))


def toggling(entity_id: str, every_s: float, changes: int) -> list[dict[str, Any]]:
    """A switch turned on and off every `every_s` seconds from the start of DAY."""
    return [normalization.normalize_event(state_changed(entity_id, "off" if i % 2 else "on", "on" if i % 2 else "off",
                                                        DAY + dt.timedelta(seconds=every_s * i), unit=None))
            for i in range(changes)]


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    event_store = opened(request.param, tmp_path, request)
    compacted(event_store, toggling("switch.pump", 61.3, 2 * 1409) + toggling("light.hall", 907.1, 2 * 95))
    yield event_store
    event_store.close()


def test_the_raw_edge_of_a_packed_day_is_read_from_its_packed_stays_as_its_blocks_give_it(
        store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    read = blocks_read(monkeypatch)
    info: dict[str, Any] = {}
    packed = store.durations(EDGE, limit=100, info=info)
    assert "raw" in info["resolution"] and not read
    unpack(store)
    assert store.durations(EDGE, limit=100) == packed and read  # the same floats, summed in the same order


def test_a_stay_of_negative_duration_in_the_edge_is_read_from_the_blocks(store: Any) -> None:
    skewed = normalization.normalize_event(state_changed("light.hall", "on", "off",  # leaving "on"
                                                         EDGE.start + dt.timedelta(minutes=20), unit=None))
    skewed["duration_in_state"] = -30.0  # a clock that went back: counted by the items, kept by no packed row
    compacted(store, [skewed])
    hall = {d.state: d for d in store.durations(EDGE, limit=100) if d.entity_id == "light.hall"}
    assert hall["on"].min == -30.0
    unpack(store)
    assert {d.state: d for d in store.durations(EDGE, limit=100) if d.entity_id == "light.hall"} == hall


def test_a_day_packed_for_some_series_reads_the_others_from_their_blocks(store: Any) -> None:
    whole = store.durations(EDGE, limit=100)
    pump = min(sid for sid, _ in block_days(store))
    unpack(store, series=pump)
    assert store.durations(EDGE, limit=100) == whole
