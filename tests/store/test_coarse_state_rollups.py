"""The state rollups' 16-day buckets (rollups.COARSE), which a long range's durations read: each one is its days'
rows summed (counts, least and greatest exactly, sums to float tolerance), as writes build it, after deletes that cut
it, and as schema step 12 makes it on a database written before; and the durations read from them are the events'."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from ingestor.store import open_event_store
from ingestor.store import rollups as ru
from ingestor.store.model import EventFilter
from ingestor.store.sqlengine import engine_for
from ingestor.timeutil import parse_timestamp
from tests.store import coarse
from tests.store import rollup_model as model
from tests.store.coarse import CUTS, DAYS, END, START
from tests.store.stays import assert_durations_agree
from tests.support.servers import store_url


@pytest.fixture(scope="module")
def history() -> model.History:
    return model.home(seed=21, start=START, hours=DAYS * 24, events=3000)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return store_url(request.param, tmp_path, request)


@pytest.fixture
def loaded(url: str, history: model.History) -> Iterator[Any]:
    yield from coarse.loaded(url, history)


def assert_coarse_rows_are_days_summed(store: Any) -> None:
    coarse.assert_coarse_rows_are_days_summed(store, ("state_rollups",))


def test_writes_keep_each_16_day_row_its_days_rows_summed(loaded: Any) -> None:
    assert_coarse_rows_are_days_summed(loaded)


def test_durations_over_ranges_holding_16_day_buckets_are_the_events_own(loaded: Any, history: model.History) -> None:
    rng = random.Random(12)
    for trial in range(12):
        start = START + dt.timedelta(seconds=rng.randrange(DAYS * 86_400 // 3))
        end = END - dt.timedelta(seconds=rng.randrange(DAYS * 86_400 // 3))
        entity, area, _, _ = rng.choice(model.ENTITIES)
        f = rng.choice([EventFilter(), EventFilter(entity_id=entity), EventFilter(area_id=area)])
        assert_durations_agree(loaded, history.records, dataclasses.replace(f, start=start, end=end), trial)


def test_a_range_holding_two_16_day_buckets_reads_them_and_says_so(loaded: Any) -> None:
    info: dict[str, Any] = {}
    loaded.durations(EventFilter(start=START, end=END), info=info)
    assert info["resolution"].startswith("16d")


def test_a_range_holding_one_16_day_bucket_reads_days(loaded: Any) -> None:
    info: dict[str, Any] = {}
    loaded.durations(EventFilter(start=END - dt.timedelta(days=30), end=END), info=info)
    assert info["resolution"] == "1d"


def test_deletes_that_cut_16_day_buckets_leave_each_its_days_rows_summed(loaded: Any, history: model.History) -> None:
    for lo, hi in CUTS:
        loaded.delete(lo, hi)
    assert_coarse_rows_are_days_summed(loaded)
    kept = [r for r in history.records if not any(lo <= parse_timestamp(r["time_fired"]) < hi for lo, hi in CUTS)]
    assert_durations_agree(loaded, kept, EventFilter(start=START, end=END), 0)


def test_a_database_written_before_step_12_gets_its_16_day_rows_from_its_days(url: str, loaded: Any) -> None:
    written = coarse.rows(loaded, "state_rollups", ru.COARSE)
    loaded.close()
    with engine_for(url).begin() as conn:  # as step 11 left it
        conn.execute(text(f"DELETE FROM state_rollups WHERE period = {ru.COARSE}"))
        conn.execute(text("DELETE FROM schema_version WHERE version >= 12"))
    store = open_event_store(url)
    store.durations(EventFilter(start=START, end=END))  # the store's first call upgrades its database
    assert_coarse_rows_are_days_summed(store)
    assert {key: row[:3] for key, row in coarse.rows(store, "state_rollups", ru.COARSE).items()} == \
        {key: row[:3] for key, row in written.items()}
    store.close()
