"""bench/daycopy.py: a copied day answers every question of bench/daycheck.py as its source day does, shifted,
on both SQL stores."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from bench import daycheck, daycopy
from bench.busy_home import BusyHome
from ingestor.store import open_event_store
from tests.store.coarse import assert_coarse_rows_are_days_summed
from tests.support.servers import store_url

DAY_US = 86_400_000_000


def _loaded_store(url: str, days: int, per_day: int) -> int:
    """`days` days of the busy home loaded up to today (today stays hot); returns today. The store's clock stays at
    today's noon while it loads, so that a load running over midnight still keeps one day hot."""
    today = int(time.time()) // 86_400
    store = open_event_store(url)
    store.now_us = lambda: today * DAY_US + DAY_US // 2  # type: ignore[attr-defined]
    for day in range(today, today - days, -1):
        store.load(BusyHome().generate(per_day, day * DAY_US, (day + 1) * DAY_US, seed=day,
                                       namespace=f"day{day}").records)
    store.close()
    return today


def packed(store: object, day: int) -> int:
    """The day's packed stays (store/coldstays.py), so that a copy is read as its source is, blocks untouched."""
    with store.engine.connect() as conn:  # type: ignore[attr-defined]
        return int(conn.execute(text("SELECT coalesce(sum(n), 0) FROM cold_stays WHERE day = :d"), {"d": day}).scalar())


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_copied_day_answers_as_its_source_shifted(backend: str, tmp_path: Path,
                                                    request: pytest.FixtureRequest) -> None:
    url = store_url(backend, tmp_path, request)
    today = _loaded_store(url, 9, 1_500)
    sources = daycopy.sources_for(daycopy.days_of(url))
    assert len(sources) == 7  # today is hot (the clock at noon): 8 days in blocks, the newest week of them

    daycopy.fill(url, today - 12, today - 9, sources, lambda _: None)

    assert daycopy.days_of(url) == list(range(today - 12, today))
    store = open_event_store(url)
    try:
        for target in (today - 11, today - 10, today - 9):  # not the oldest: no day before it to rise from
            source_day = dt.datetime.fromtimestamp(daycopy.source_of(target, sources) * 86_400, dt.UTC)
            copied_day = dt.datetime.fromtimestamp(target * 86_400, dt.UTC)
            lines = daycheck.compare(store, daycopy.source_of(target, sources), target)
            names = daycheck.questions(copied_day).keys()
            asked = [line for line in lines if line.split(": ")[0] in names]
            assert len(asked) == len(names)
            assert all(line.endswith(": same") for line in asked), lines
            assert daycheck.trace_counts(store, copied_day)[0] == daycheck.trace_counts(store, source_day)[0] > 0
            assert packed(store, target) == packed(store, daycopy.source_of(target, sources)) > 0
        assert_coarse_rows_are_days_summed(store)  # every table's 16-day buckets holding copies too
    finally:
        store.close()
