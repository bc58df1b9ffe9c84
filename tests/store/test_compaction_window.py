"""Which days compaction moves into blocks (store/compaction.py): every day but today, and yesterday too once
midnight is an hour past; a day's late events arriving in that hour land in the hot tier, and every event reads
the same from either tier."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from ingestor.store import compaction
from ingestor.store.model import EventFilter
from ingestor.store.timerange import to_micros
from tests.store.conftest import opened
from tests.store.test_states_read import toggles as kettle_toggles

TODAY = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
DAY = 86_400_000_000


@pytest.mark.parametrize(("clock", "first_hot"), [
    (TODAY, TODAY - dt.timedelta(days=1)),
    (TODAY + dt.timedelta(minutes=59, seconds=59), TODAY - dt.timedelta(days=1)),
    (TODAY + dt.timedelta(hours=1), TODAY),
    (TODAY + dt.timedelta(hours=23, minutes=59), TODAY)])
def test_a_day_stays_hot_until_an_hour_after_it_ends(clock: dt.datetime, first_hot: dt.datetime) -> None:
    assert compaction.cutoff_day(to_micros(clock)) == to_micros(first_hot) // DAY


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    event_store = opened(request.param, tmp_path, request)
    yield event_store
    event_store.close()


def days_in_blocks(store: Any) -> list[int]:
    with store.engine.connect() as conn:
        return [day for (day,) in conn.execute(text("SELECT DISTINCT day FROM blocks ORDER BY day"))]


def hot_days(store: Any) -> list[int]:
    with store.engine.connect() as conn:
        return sorted({ts // DAY for (ts,) in conn.execute(text("SELECT ts FROM hot_events"))})


def toggles(start: dt.datetime, n: int) -> list[dict[str, Any]]:
    """A kettle switched every 7 minutes: 400 of them span both days before today."""
    return kettle_toggles("switch.kettle", start, n, 7 * 60)


def at(store: Any, clock: dt.datetime) -> None:
    store.now_us = lambda: to_micros(clock)
    while store.compact(30.0):
        pass


def test_yesterday_s_late_events_stay_hot_in_the_hour_after_midnight_and_move_after_it(store: Any) -> None:
    yesterday, before = (TODAY - dt.timedelta(days=n) for n in (1, 2))
    events = toggles(before, 400) + toggles(TODAY + dt.timedelta(minutes=1), 5)  # over both past days, and today
    at(store, TODAY + dt.timedelta(minutes=30))
    store.write(events[:300])
    at(store, TODAY + dt.timedelta(minutes=30))
    assert days_in_blocks(store) == [to_micros(before) // DAY]

    store.write(events[300:])  # yesterday's last minutes, late, with today's first
    at(store, TODAY + dt.timedelta(minutes=59))
    assert hot_days(store) == [to_micros(yesterday) // DAY, to_micros(TODAY) // DAY]

    at(store, TODAY + dt.timedelta(hours=1))
    assert days_in_blocks(store) == [to_micros(before) // DAY, to_micros(yesterday) // DAY]
    assert hot_days(store) == [to_micros(TODAY) // DAY]
    page = store.query(EventFilter(start=before, end=TODAY + dt.timedelta(days=1)), limit=1000)
    assert sorted(item["time_fired"] for item in page.items) == sorted(e["time_fired"] for e in events)
