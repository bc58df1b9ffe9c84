"""SQLite's state sums in one statement whose one row is their text (sqlagg.STATE_SUMS): the very sums a statement
grouping by (series, state left) gives, floats to the bit, daily and hourly, for every series or some."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestor import normalization
from ingestor.store.sqlagg import Aggregator
from tests.store.conftest import opened
from tests.support.ha_events import state_changed

DAY = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
FIRST_DAY = int(DAY.timestamp()) // 86_400
GROUPED = ("SELECT series, state, sum(dn), sum(dsum), min(dmin), max(dmax) FROM state_rollups WHERE period = ? "
           "AND dn > 0 AND bucket >= ? AND bucket < ? GROUP BY series, state ORDER BY series, state")
STATES = ["on", "off", "idle"]


def changes(entity_id: str, seed: int) -> list[dict[str, Any]]:
    """An entity cycling through STATES over about four days, each stay lasting an odd number of microseconds (the sums
    of such floats are not exact: their last bits tell two orders of adding apart)."""
    rng = random.Random(seed)
    out = []
    at = DAY + dt.timedelta(seconds=rng.uniform(0, 600))
    for i in range(400):
        stayed = dt.timedelta(microseconds=rng.randrange(1_000_000, 1_800_000_000))
        event = state_changed(entity_id, STATES[i % 3], STATES[(i + 1) % 3], at, unit=None)
        event["data"]["old_state"]["last_changed"] = (at - stayed).isoformat().replace("+00:00", "Z")
        out.append(normalization.normalize_event(event))
        at += stayed + dt.timedelta(seconds=rng.uniform(1, 60))
    return out


@pytest.fixture
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    event_store = opened("sqlite", tmp_path, request)
    for i in range(6):
        event_store.write(changes(f"switch.s{i}", i))
    yield event_store
    event_store.close()


def sums(store: Any, period: int, first: int, last: int, sids: list[int] | None = None) -> list[Any]:
    with store.reading() as reader:
        return Aggregator(reader)._state_sums_by_series(period, first, last, sids)


def grouped(store: Any, period: int, first: int, last: int) -> list[Any]:
    with store.reading() as reader:
        return [tuple(row) for row in reader.conn.exec_driver_sql(GROUPED, (period, first, last))]


@pytest.mark.parametrize(("period", "first", "last"), [
    (2, FIRST_DAY, FIRST_DAY + 5),  # every day
    (2, FIRST_DAY + 1, FIRST_DAY + 3),
    (1, FIRST_DAY * 24 + 7, FIRST_DAY * 24 + 61),  # hours across days
])
def test_the_sums_are_the_grouped_statement_s_to_the_bit(store: Any, period: int, first: int, last: int) -> None:
    expected = grouped(store, period, first, last)
    assert len({row[0] for row in expected}) == 6 and len(expected) >= 18
    assert sums(store, period, first, last) == expected


def test_the_sums_of_some_series_are_theirs_alone(store: Any) -> None:
    every = grouped(store, 2, FIRST_DAY, FIRST_DAY + 5)
    some = sorted({row[0] for row in every})[1:3]
    assert sums(store, 2, FIRST_DAY, FIRST_DAY + 5, some) == [row for row in every if row[0] in some]


def test_buckets_without_stays_sum_to_nothing(store: Any) -> None:
    assert sums(store, 2, FIRST_DAY + 100, FIRST_DAY + 200) == []
