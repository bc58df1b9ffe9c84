"""The cold tier's packed stays (store/coldstays.py): written with every (series, day)'s blocks, in their
transaction, so they say what the blocks say after a compaction, a late event, a recut or a delete; filled in,
one (series, day) at a time, for the days of a database compacted before they were kept."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestor import normalization
from ingestor.store import compaction, open_event_store
from ingestor.store.model import EventFilter
from ingestor.store.sqlread import DAY_US, Reader
from ingestor.timeutil import parse_timestamp
from tests.store.conftest import opened
from tests.store.stays import block_days, compacted, newest_first, packed_days, unpack
from tests.support.ha_events import state_changed
from tests.support.runtime import REPO

DAY = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)  # older than yesterday: compacted into blocks
DAYS = 3
RANGE = EventFilter(start=DAY, end=DAY + dt.timedelta(days=DAYS))


def toggling(entity_id: str, every_s: int, offset_s: int = 0) -> list[dict[str, Any]]:
    """A switch turned on and off every `every_s` seconds over DAYS days from DAY."""
    return [normalization.normalize_event(state_changed(entity_id, "off" if i % 2 else "on", "on" if i % 2 else "off",
                                                        DAY + dt.timedelta(seconds=offset_s + every_s * i), unit=None))
            for i in range(DAYS * 86_400 // every_s)]


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    event_store = opened(request.param, tmp_path, request)
    compacted(event_store, toggling("switch.pump", 60) + toggling("light.hall", 900, offset_s=7)
              + [normalization.normalize_event(state_changed("sensor.power", str(i), str(i - 1),
                                                             DAY + dt.timedelta(seconds=30 * i), unit="W"))
                 for i in range(1, 2000)])
    yield event_store
    event_store.close()


def stays(store: Any, f: EventFilter = RANGE) -> list[tuple[Any, ...]]:
    return [tuple(s) for s in newest_first(store.stay_groups(f, limit=1_000_000))]


def exported(store: Any) -> list[tuple[Any, ...]]:
    """The stays of the store's events, from their records."""
    records = [r for batch in store.export(RANGE.start, RANGE.end) for r in batch]
    found = [(r["entity_id"], r["old_state"], parse_timestamp(r["time_fired"]), r["duration_in_state"], r["event_id"])
             for r in records if r["duration_in_state"] is not None and r["entity_id"] != "sensor.power"]
    return sorted(found, key=lambda s: (s[2], s[4]), reverse=True)


def test_every_series_day_with_blocks_has_its_packed_stays_a_series_without_stays_too(store: Any) -> None:
    assert packed_days(store) == block_days(store)
    assert len({sid for sid, _ in block_days(store)}) == 3


def test_the_fill_packs_the_days_of_a_store_compacted_before_stays_were_packed_each_once(store: Any) -> None:
    before = stays(store)
    unpack(store)
    filled = list(store.fill_stays())
    assert {(sid, day) for sid, day, _ in filled} == block_days(store) == packed_days(store)
    assert sum(n for _, _, n in filled) == len(before)
    assert stays(store) == before == exported(store)
    assert list(store.fill_stays()) == []  # a rerun finds nothing left


def test_a_fill_stopped_midway_carries_on_where_it_stopped(store: Any) -> None:
    unpack(store)
    filling = store.fill_stays()
    first = [next(filling) for _ in range(4)]
    filling.close()  # each (series, day) committed on its own: the four stay
    assert {(sid, day) for sid, day, _ in first} == packed_days(store)
    rest = list(store.fill_stays())
    assert not {(sid, day) for sid, day, _ in rest} & {(sid, day) for sid, day, _ in first}
    assert packed_days(store) == block_days(store)


def test_a_day_packed_for_some_series_reads_the_others_from_their_blocks(store: Any) -> None:
    before = stays(store)
    pump = next(sid for sid, day in block_days(store))
    unpack(store, series=pump)
    assert stays(store) == before


def test_a_late_event_compacted_into_its_day_is_in_the_packed_stays(store: Any) -> None:
    late = normalization.normalize_event(state_changed("light.hall", "on", "off", DAY + dt.timedelta(hours=5,
                                                                                                      seconds=1),
                                                       unit=None))
    compacted(store, [late])
    assert late["event_id"] in {s[4] for s in stays(store)}
    assert stays(store) == exported(store)


def test_a_range_delete_cutting_a_day_leaves_its_packed_stays_as_its_blocks_hold_them(store: Any) -> None:
    store.delete(DAY + dt.timedelta(hours=30), DAY + dt.timedelta(hours=31, minutes=30))
    assert stays(store) == exported(store)
    after = stays(store)
    unpack(store)
    assert stays(store) == after  # the blocks say the same


def test_a_delete_of_whole_days_removes_their_packed_stays(store: Any) -> None:
    store.delete(DAY, DAY + dt.timedelta(days=1, hours=2))
    day = int(DAY.timestamp()) * 1_000_000 // DAY_US
    assert day not in {d for _, d in packed_days(store)}
    assert packed_days(store) == block_days(store)
    assert stays(store) == exported(store)


def test_a_recut_day_keeps_its_packed_stays(store: Any) -> None:
    before = stays(store)
    sid, day = min(block_days(store))
    unpack(store, series=sid)
    with store.writing() as conn:
        compaction.recut(conn, Reader(conn, store.dicts, store.backend), sid, day)
    assert (sid, day) in packed_days(store)
    assert stays(store) == before


def test_the_stays_command_packs_a_store_compacted_before_stays_were_packed(store: Any) -> None:
    unpack(store)
    done = subprocess.run([sys.executable, "-m", "ingestor.store", "stays", store.url], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(REPO / "functions" / "common")}, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith(f"done: {len(block_days(store)):,} series-days packed")
    assert packed_days(store) == block_days(store)


def test_compaction_packs_the_days_of_a_store_compacted_before_stays_were_packed_in_its_spare_time(
        store: Any) -> None:
    before = stays(store)
    unpack(store)
    upgraded = open_event_store(store.url)  # a new start on the database, as after an upgrade
    try:
        assert stays(upgraded) == before  # from the blocks meanwhile
        upgraded.compact(seconds=60)  # as `write` does after a batch
        assert packed_days(upgraded) == block_days(upgraded)
        assert stays(upgraded) == before
    finally:
        upgraded.close()
