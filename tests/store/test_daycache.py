"""The SQL stores' decoded packed stays kept across reads (coldstays.DayCache): a day is decoded again as soon as
its row is written again (a late event compacted into it, a delete), reused while its row is the same, and the
days kept never hold more stays than the cache's cap."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from ingestor import normalization
from ingestor.store import coldstays
from ingestor.store.model import EventFilter
from ingestor.store.sqlread import DAY_US
from tests.store.conftest import opened
from tests.store.stays import compacted
from tests.store.test_coldstays import DAY, DAYS, exported, stays, toggling
from tests.support.ha_events import state_changed

FIRST_DAY = int(DAY.timestamp()) * 1_000_000 // DAY_US
LATE_AT = DAY + dt.timedelta(hours=5, seconds=1)
EDGE = EventFilter(start=DAY + dt.timedelta(hours=5, microseconds=500), end=DAY + dt.timedelta(days=2))


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    event_store = opened(request.param, tmp_path, request)
    compacted(event_store, toggling("switch.pump", 60) + toggling("light.hall", 900, offset_s=7))
    yield event_store
    event_store.close()


def late_hall() -> dict[str, Any]:
    """A state change of light.hall, written after its day was compacted."""
    return normalization.normalize_event(state_changed("light.hall", "on", "off", LATE_AT, unit=None))


def read_day(store: Any, day: int) -> dict[int, coldstays.Day]:
    """The packed rows of `day`, as a read of the store decodes them (its kept days reused)."""
    with store.reading() as reader:
        return coldstays.read(reader.conn, day, None, reader.series_of, reader.day_cache)


def hall_on(store: Any, f: EventFilter) -> int:
    """The durations' count of light.hall's stays in "on" (the range's raw edge read from the packed rows)."""
    return next(d.count for d in store.durations(f, limit=100) if (d.entity_id, d.state) == ("light.hall", "on"))


def test_a_late_event_compacted_into_a_kept_day_is_in_the_next_sample(store: Any) -> None:
    before = stays(store)
    assert store.day_cache.held == len(before)  # every day of the range decoded and kept
    late = late_hall()
    compacted(store, [late])
    assert late["event_id"] in {s[4] for s in stays(store)}
    assert stays(store) == exported(store)


def test_a_late_event_compacted_into_a_kept_day_is_in_the_next_durations(store: Any) -> None:
    before = hall_on(store, EDGE)
    assert store.day_cache.held
    compacted(store, [late_hall()])
    assert hall_on(store, EDGE) == before + 1


def test_a_delete_within_a_kept_day_shows_in_the_next_sample(store: Any) -> None:
    stays(store)
    store.delete(DAY + dt.timedelta(hours=30), DAY + dt.timedelta(hours=31, minutes=30))
    assert stays(store) == exported(store)


def test_a_delete_of_whole_kept_days_shows_in_the_next_sample(store: Any) -> None:
    stays(store)
    store.delete(DAY, DAY + dt.timedelta(days=1, hours=2))
    assert stays(store) == exported(store)


def test_an_unchanged_day_is_decoded_once_its_day_reused(store: Any) -> None:
    first = read_day(store, FIRST_DAY)
    assert [day for day in first.values() if day is not coldstays.NONE]
    again = read_day(store, FIRST_DAY)
    assert all(again[sid] is day for sid, day in first.items())


def test_only_the_series_whose_row_was_written_again_is_decoded_again(store: Any) -> None:
    first = read_day(store, FIRST_DAY)
    compacted(store, [late_hall()])
    hall = next(sid for sid, day in first.items() if day.groups and day.entity_id == "light.hall")
    again = read_day(store, FIRST_DAY)
    assert again[hall] is not first[hall]
    assert all(again[sid] is day for sid, day in first.items() if sid != hall)


def test_the_days_kept_never_hold_more_stays_than_the_cap(store: Any) -> None:
    store.day_cache = coldstays.DayCache(cap=1_500)  # a day of the pump (1,440 stays) and a little more
    for day in range(FIRST_DAY, FIRST_DAY + DAYS):
        found = read_day(store, day)
        cache = store.day_cache
        assert cache.held <= cache.cap
        assert all(cache.get((sid, day), b"") is None for sid in found)  # kept by their bytes alone
    assert stays(store) == exported(store)


def test_a_day_of_more_stays_than_the_cap_is_not_kept(store: Any) -> None:
    store.day_cache = coldstays.DayCache(cap=100)
    found = read_day(store, FIRST_DAY)
    assert {found[sid].entity_id for sid, _ in store.day_cache.kept()} == {"light.hall"}


def test_reads_in_threads_at_once_give_one_read_s_answer(store: Any) -> None:
    want = stays(store)
    store.day_cache = coldstays.DayCache()
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: stays(store), range(8)))
    assert all(answer == want for answer in answers)
