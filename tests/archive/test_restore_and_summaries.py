"""Restore brings back exactly what was archived; the summaries match the raw rows they replace, and
charts over pruned days read them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from ingestor.archive.errors import ArchiveError
from ingestor.archive.restore import restore
from ingestor.archive.run import Archiver
from ingestor.store.model import EventFilter
from tests.archive.conftest import EARLY, NOW, OLD, OLD_DAYS, everything

pytestmark = pytest.mark.integration
ENTITIES = ["sensor.outdoor_temp", "light.hall", "weather.home"]


def test_restore_brings_back_exactly_what_was_archived(
        store: Any, home: list[dict[str, Any]], archiver_for: Callable[..., Archiver]) -> None:
    archived = everything(store, OLD)
    archiver = archiver_for(store)
    assert archiver.run(NOW).ok and store.count(OLD) == 0
    result = restore(archiver, OLD_DAYS[0], OLD_DAYS[-1])
    assert result["restored_rows"] == len(archived) == 4 * 48
    assert everything(store, OLD) == archived


def test_restoring_twice_adds_nothing(store: Any, home: list[dict[str, Any]],
                                      archiver_for: Callable[..., Archiver]) -> None:
    archiver = archiver_for(store)
    assert archiver.run(NOW).ok
    restore(archiver, OLD_DAYS[1], OLD_DAYS[2])
    once = everything(store, OLD)
    restore(archiver, OLD_DAYS[1], OLD_DAYS[2])
    assert everything(store, OLD) == once and len(once) == 2 * 48


def test_restoring_a_range_lists_days_that_were_never_archived(
        sqlite_store: Any, archiver_for: Callable[..., Archiver]) -> None:
    from tests.archive.conftest import day_records

    sqlite_store.write(day_records(OLD_DAYS[0]))
    archiver = archiver_for(sqlite_store)
    assert archiver.run(NOW).ok
    result = restore(archiver, OLD_DAYS[0] - dt.timedelta(days=1), OLD_DAYS[0])
    assert [d["outcome"] for d in result["days"]] == ["not archived", "restored"]


def test_restore_from_an_unreachable_s3_writes_nothing(sqlite_store: Any,
                                                       archiver_for: Callable[..., Archiver]) -> None:
    archiver = archiver_for(sqlite_store, "http://127.0.0.1:9", max_attempts=1, connect_timeout_s=0.5)
    with pytest.raises(ArchiveError, match="S3"):
        restore(archiver, OLD_DAYS[0], OLD_DAYS[1])
    assert sqlite_store.count(EventFilter()) == 0


@pytest.mark.parametrize("period", ["hour", "day"])
def test_aggregates_match_the_raw_data_they_replace(
        store: Any, home: list[dict[str, Any]], archiver_for: Callable[..., Archiver], period: str) -> None:
    seconds = {"hour": 3600, "day": 86_400}[period]
    raw = {e: store.stats(EventFilter(entity_id=e, end=OLD.end), seconds) for e in ENTITIES}
    assert archiver_for(store).run(NOW).ok and store.count(OLD) == 0
    for entity in ENTITIES:
        kept = store.aggregates(entity, period, EARLY, NOW)
        assert [(a.start, a.count, a.value_count) for a in kept] == \
            [(r.start, r.count, r.value_count) for r in raw[entity]]
        for a, r in zip(kept, raw[entity], strict=True):
            assert (a.mean, a.min, a.max) == pytest.approx((r.mean, r.min, r.max))
    weather = store.aggregates("weather.home", "day", EARLY, NOW)
    assert weather and all(a.value_count == 0 and a.mean is None for a in weather)  # text states: counts only


@pytest.mark.parametrize("bucket_s", [3600, 86_400, 7 * 86_400])
def test_a_chart_over_pruned_and_raw_days_is_what_it_was_before_pruning(
        store: Any, home: list[dict[str, Any]], archiver_for: Callable[..., Archiver], bucket_s: int) -> None:
    start, end = EARLY, dt.datetime(2025, 11, 3, tzinfo=dt.UTC)
    before = {e: store.series(e, start, end, bucket_s) for e in ENTITIES}
    assert archiver_for(store).run(NOW).ok and store.count(OLD) == 0
    for entity in ENTITIES:
        after = store.series(entity, start, end, bucket_s)
        assert [(b.start, b.count) for b in after] == [(b.start, b.count) for b in before[entity]]
        for a, b in zip(after, before[entity], strict=True):
            assert (a.mean, a.min, a.max) == pytest.approx((b.mean, b.min, b.max))


def test_a_chart_before_any_archive_run_is_the_raw_buckets(store: Any, home: list[dict[str, Any]]) -> None:
    start, end = EARLY, dt.datetime(2025, 11, 3, tzinfo=dt.UTC)
    flt = EventFilter(entity_id="sensor.outdoor_temp", start=start, end=end)
    series, buckets = store.series("sensor.outdoor_temp", start, end, 86_400), store.buckets(flt, 86_400)
    assert [(s.start, s.count) for s in series] == [(b.start, b.count) for b in buckets] and len(buckets) == 6
    for s, b in zip(series, buckets, strict=True):
        assert (s.mean, s.min, s.max) == pytest.approx((b.mean, b.min, b.max))


def test_a_restored_day_is_counted_once_in_a_chart(
        store: Any, home: list[dict[str, Any]], archiver_for: Callable[..., Archiver]) -> None:
    start, end = EARLY, dt.datetime(2025, 11, 3, tzinfo=dt.UTC)
    before = store.series("light.hall", start, end, 86_400)
    archiver = archiver_for(store)
    assert archiver.run(NOW).ok
    restore(archiver, OLD_DAYS[0], OLD_DAYS[0])
    assert [(b.start, b.count) for b in store.series("light.hall", start, end, 86_400)] == \
        [(b.start, b.count) for b in before]
