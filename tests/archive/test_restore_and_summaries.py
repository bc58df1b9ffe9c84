"""Restore brings back exactly what was archived, byte for byte as the store held it, in either format, and
reports per day what it did when a day fails; the summaries match the raw rows they replace, and charts over
pruned days read them."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest

from ingestor import normalization
from ingestor.archive.restore import restore
from ingestor.archive.run import Archiver
from ingestor.store.model import EventFilter
from tests.archive.conftest import EARLY, NOW, OLD, OLD_DAYS, day_records, everything, keys, raw_rows, stays

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
    sqlite_store.write(day_records(OLD_DAYS[0]))
    archiver = archiver_for(sqlite_store)
    assert archiver.run(NOW).ok
    result = restore(archiver, OLD_DAYS[0] - dt.timedelta(days=1), OLD_DAYS[0])
    assert [d["outcome"] for d in result["days"]] == ["not archived", "restored"]


def test_restore_from_an_unreachable_s3_writes_nothing_and_says_so_per_day(
        sqlite_store: Any, archiver_for: Callable[..., Archiver]) -> None:
    archiver = archiver_for(sqlite_store, "http://127.0.0.1:9", max_attempts=1, connect_timeout_s=0.5)
    result = restore(archiver, OLD_DAYS[0], OLD_DAYS[1])
    assert not result["ok"] and "cannot reach" in result["error"] and "stopped there" in result["error"]
    assert [d["outcome"] for d in result["days"]] == ["failed", "not attempted"]
    assert sqlite_store.count(EventFilter()) == 0


def test_a_restore_failing_partway_reports_per_day_what_it_restored(
        sqlite_store: Any, archiver_for: Callable[..., Archiver], s3: Any, bucket_name: str) -> None:
    sqlite_store.write([r for day in OLD_DAYS[:3] for r in day_records(day)])
    archiver = archiver_for(sqlite_store)
    assert archiver.run(NOW).ok
    damaged = archiver.manifest(OLD_DAYS[1])
    s3.put_object(Bucket=bucket_name, Key=damaged["object"], Body=b"not what was archived")
    result = restore(archiver, OLD_DAYS[0], OLD_DAYS[2])
    assert not result["ok"] and result["error"].startswith(f"{OLD_DAYS[1]}: ")
    assert [(d["day"], d["outcome"], d["rows"]) for d in result["days"]] == [
        (str(OLD_DAYS[0]), "restored", 48), (str(OLD_DAYS[1]), "failed", 0), (str(OLD_DAYS[2]), "restored", 48)]
    assert result["restored_rows"] == 96
    assert [b.start.date() for b in sqlite_store.buckets(OLD, 86_400)] == [OLD_DAYS[0], OLD_DAYS[2]]


def records_in_any_key_order(day: dt.date) -> list[dict[str, Any]]:
    """A day whose attributes and data have keys in no sorted order, nested too (as HA sends them)."""
    records = day_records(day, 12)
    for i, record in enumerate(records):
        record["attributes"] = {"unit_of_measurement": "°C", "friendly_name": f"Sensor {i}", "device_class": "x",
                                "options": {"zulu": 1, "alpha": [3, {"b": 1, "a": 2}]}, "Zahl": 1.25}
    service = normalization.normalize_event({
        "event_type": "call_service", "time_fired": f"{day}T10:00:00+00:00", "origin": "LOCAL",
        "context": {"id": "01J0000000000000000000000A"},
        "data": {"service_data": {"entity_id": "light.hall", "brightness": 200}, "service": "turn_on",
                 "domain": "light"}})
    return [*records, service]


@pytest.mark.parametrize("fmt", ["ndjson", "parquet"])
def test_restore_keeps_rows_byte_for_byte_as_stored_key_order_included(
        any_store: Any, archiver_for: Callable[..., Archiver], fmt: str) -> None:
    any_store.write([r for day in OLD_DAYS[:2] for r in records_in_any_key_order(day)])
    stored, stayed = raw_rows(any_store), stays(any_store)
    durations = any_store.durations(EventFilter(), limit=1000)
    archiver = archiver_for(any_store, format=fmt)
    assert archiver.run(NOW).ok and any_store.count(OLD) == 0
    assert restore(archiver, OLD_DAYS[0], OLD_DAYS[1])["restored_rows"] == 26
    assert raw_rows(any_store) == stored
    assert stays(any_store) == stayed and stayed
    assert any_store.durations(EventFilter(), limit=1000) == durations and durations


@pytest.mark.parametrize("first", ["ndjson", "parquet"])
def test_restore_reads_days_archived_in_either_format(sqlite_store: Any, archiver_for: Callable[..., Archiver],
                                                       first: str) -> None:
    second = "parquet" if first == "ndjson" else "ndjson"
    sqlite_store.write(day_records(OLD_DAYS[0]))
    assert archiver_for(sqlite_store, format=first).run(NOW).ok
    sqlite_store.write(day_records(OLD_DAYS[1]))
    archiver = archiver_for(sqlite_store, format=second)
    assert archiver.run(NOW).ok
    formats = [archiver.manifest(day)["format"] for day in OLD_DAYS[:2]]
    assert sorted(formats) == ["ndjson+gzip", "parquet"]
    assert restore(archiver, OLD_DAYS[0], OLD_DAYS[1])["restored_rows"] == 96
    assert sqlite_store.count(OLD) == 96


def test_a_day_archived_by_the_first_manifest_version_is_still_restored(
        sqlite_store: Any, archiver_for: Callable[..., Archiver], s3: Any, bucket_name: str) -> None:
    """Version 1 wrote keys sorted and named the stored bytes' checksum `sha256_gzip`."""
    day = OLD_DAYS[0]
    records = sorted(day_records(day), key=lambda r: (r["time_fired"], r["event_id"]))
    ndjson = b"".join(json.dumps(r, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
                      for r in records)
    body = gzip.compress(ndjson, mtime=0)
    sha = hashlib.sha256(body).hexdigest()
    key = f"home/events/{day:%Y/%m/%d}/events-{sha[:16]}.ndjson.gz"
    archiver = archiver_for(sqlite_store)
    archiver.bucket.ensure()
    s3.put_object(Bucket=bucket_name, Key=key, Body=body)
    s3.put_object(Bucket=bucket_name, Key=f"home/events/{day:%Y/%m/%d}/manifest.json", Body=json.dumps({
        "v": 1, "day": str(day), "object": key, "format": "ndjson+gzip", "rows": 48, "bytes": len(body),
        "sha256_gzip": sha, "sha256_ndjson": hashlib.sha256(ndjson).hexdigest()}).encode())
    assert restore(archiver, day, day)["restored_rows"] == 48
    assert everything(sqlite_store) == records
    assert key in keys(s3, bucket_name)


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
