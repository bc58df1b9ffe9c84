"""The store side of the summaries, on every backend (SQLite, PostgreSQL, InfluxDB 1.x): written
idempotently, invisible to event reads, kept when raw rows are deleted, dropped by age."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestor.archive import summaries
from ingestor.store import open_event_store
from ingestor.store.model import Aggregate, EventFilter
from tests.archive.conftest import EARLY, NOW, OLD_DAYS, day_records
from tests.support.servers import store_url

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql", "influxdb1"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    event_store = open_event_store(store_url(request.param, tmp_path, request))
    yield event_store
    event_store.close()


def test_summaries_are_written_idempotently_and_read_back(any_store: Any) -> None:
    rows = summaries.summarize(day_records(OLD_DAYS[0]))
    any_store.write_aggregates(rows)
    any_store.write_aggregates(rows)
    back = any_store.aggregates(None, "hour", EARLY, NOW) + any_store.aggregates(None, "day", EARLY, NOW)
    key = lambda a: (a.period, a.start, a.entity_id)  # noqa: E731
    assert sorted(back, key=key) == pytest.approx(sorted(rows, key=key))
    assert any_store.aggregates("light.hall", "day", EARLY, NOW)[0].count == 16


def test_a_rewritten_summary_replaces_the_old_one(any_store: Any) -> None:
    start = dt.datetime(2025, 10, 27, tzinfo=dt.UTC)
    any_store.write_aggregates([Aggregate("sensor.x", "day", start, 3, 3, 2.0, 1.0, 3.0)])
    any_store.write_aggregates([Aggregate("sensor.x", "day", start, 4, 4, 2.5, 1.0, 4.0)])
    assert any_store.aggregates("sensor.x", "day", EARLY, NOW) == [
        Aggregate("sensor.x", "day", start, 4, 4, 2.5, 1.0, 4.0)]


def test_event_reads_never_see_summaries_and_deleting_events_keeps_them(any_store: Any) -> None:
    records = day_records(OLD_DAYS[0])
    any_store.write(records)
    any_store.write_aggregates(summaries.summarize(records))
    everything = EventFilter()
    assert any_store.count(everything) == 48 and len(any_store.query(everything, limit=100).items) == 48
    assert sum(n for _, n in any_store.counts(everything, "entity_id")) == 48
    start, end = summaries.day_bounds(OLD_DAYS[0])
    assert any_store.delete(start, end) == 48
    assert any_store.count(everything) == 0
    assert len(any_store.aggregates(None, "day", EARLY, NOW)) == 3
    assert any_store.summarized_days(EARLY, NOW) == [int(start.timestamp()) * 1_000_000]


def test_summaries_older_than_a_time_are_dropped(any_store: Any) -> None:
    any_store.write_aggregates(summaries.summarize(day_records(OLD_DAYS[0]) + day_records(OLD_DAYS[2])))
    assert any_store.delete_aggregates("day", summaries.day_bounds(OLD_DAYS[1])[0]) == 3
    assert {a.start.date() for a in any_store.aggregates(None, "day", EARLY, NOW)} == {OLD_DAYS[2]}
