"""Archive, verify and prune against real SeaweedFS S3 with the SQLite and InfluxDB 1.x stores."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest

from ingestor.archive import layout
from ingestor.archive.run import Archiver
from ingestor.store.model import EventFilter
from tests.archive.conftest import EARLY, NOW, OLD, OLD_DAYS, RECENT, day_records, everything, keys

pytestmark = pytest.mark.integration


def manifests(s3: Any, bucket: str) -> dict[str, dict[str, Any]]:
    return {k: json.loads(s3.get_object(Bucket=bucket, Key=k)["Body"].read())
            for k in keys(s3, bucket) if k.endswith("manifest.json")}


def test_days_older_than_the_raw_window_are_archived_verified_and_pruned(
        store: Any, home: list[dict[str, Any]], archiver_for: Callable[..., Archiver], s3: Any,
        bucket_name: str) -> None:
    recent_before = everything(store, RECENT)
    report = archiver_for(store).run(NOW)
    assert report.ok, report.error
    assert [(d.day, d.outcome, d.rows) for d in report.days] == [(str(d), "archived", 48) for d in OLD_DAYS]
    assert store.count(OLD) == 0
    assert everything(store, RECENT) == recent_before  # the raw window is untouched
    found = manifests(s3, bucket_name)
    assert sorted(found) == [f"home/events/{d:%Y/%m/%d}/manifest.json" for d in OLD_DAYS]
    for manifest in found.values():
        head = s3.head_object(Bucket=bucket_name, Key=manifest["object"])
        assert head["ContentLength"] == manifest["bytes"] and manifest["rows"] == 48


def test_an_archived_day_is_sorted_gzip_ndjson_of_the_exported_records_with_both_checksums(
        store: Any, home: list[dict[str, Any]], archiver_for: Callable[..., Archiver], s3: Any,
        bucket_name: str) -> None:
    day = OLD_DAYS[1]
    exported = [r for r in everything(store, OLD) if r["time_fired"].startswith(day.isoformat())]
    assert archiver_for(store).run(NOW).ok
    manifest = manifests(s3, bucket_name)[layout.manifest_key("home/", day)]
    body = s3.get_object(Bucket=bucket_name, Key=manifest["object"])["Body"].read()
    ndjson = gzip.decompress(body)
    assert [json.loads(line) for line in ndjson.splitlines()] == exported
    assert hashlib.sha256(body).hexdigest() == manifest["sha256_gzip"]
    assert hashlib.sha256(ndjson).hexdigest() == manifest["sha256_ndjson"]
    assert (manifest["time_min"], manifest["time_max"]) == (exported[0]["time_fired"], exported[-1]["time_fired"])
    assert manifest["object"].startswith(f"home/events/{day:%Y/%m/%d}/") and manifest["format"] == "ndjson+gzip"


def test_rerunning_changes_nothing(store: Any, home: list[dict[str, Any]], archiver_for: Callable[..., Archiver],
                                   s3: Any, bucket_name: str) -> None:
    archiver = archiver_for(store)
    assert archiver.run(NOW).ok
    objects = keys(s3, bucket_name)
    recent = everything(store, RECENT)
    summaries = store.aggregates(None, "hour", EARLY, NOW)
    again = archiver.run(NOW)
    assert again.ok and again.days == []
    assert {k: v for k, v in keys(s3, bucket_name).items() if "_status" not in k} == \
        {k: v for k, v in objects.items() if "_status" not in k}
    assert everything(store, RECENT) == recent
    assert store.aggregates(None, "hour", EARLY, NOW) == summaries


def test_a_restored_day_is_pruned_again_without_a_new_upload(
        store: Any, home: list[dict[str, Any]], archiver_for: Callable[..., Archiver], s3: Any,
        bucket_name: str) -> None:
    from ingestor.archive.restore import restore

    archiver = archiver_for(store)
    assert archiver.run(NOW).ok
    objects = keys(s3, bucket_name)
    restore(archiver, OLD_DAYS[0], OLD_DAYS[0])
    report = archiver.run(NOW)
    assert report.ok and [(d.day, d.outcome) for d in report.days] == [(str(OLD_DAYS[0]), "pruned")]
    assert store.count(OLD) == 0
    assert {k: v for k, v in keys(s3, bucket_name).items() if "_status" not in k} == \
        {k: v for k, v in objects.items() if "_status" not in k}


def test_late_events_for_an_archived_day_are_merged_into_a_new_verified_object(
        sqlite_store: Any, archiver_for: Callable[..., Archiver], s3: Any, bucket_name: str) -> None:
    day = OLD_DAYS[0]
    first, late = day_records(day, 40)[:30], day_records(day, 40)[30:]
    sqlite_store.write(first)
    archiver = archiver_for(sqlite_store)
    assert archiver.run(NOW).ok
    old_object = manifests(s3, bucket_name)[layout.manifest_key("home/", day)]["object"]
    sqlite_store.write(late)
    report = archiver.run(NOW)
    assert report.ok and [(d.outcome, d.rows, d.stored_rows) for d in report.days] == [("merged", 40, 10)]
    manifest = manifests(s3, bucket_name)[layout.manifest_key("home/", day)]
    assert manifest["rows"] == 40 and manifest["object"] != old_object
    assert old_object not in keys(s3, bucket_name)
    body = gzip.decompress(s3.get_object(Bucket=bucket_name, Key=manifest["object"])["Body"].read())
    assert {json.loads(line)["event_id"] for line in body.splitlines()} == {r["event_id"] for r in first + late}
    assert sqlite_store.count(OLD) == 0


def test_dry_run_returns_the_plan_and_touches_nothing(
        store: Any, home: list[dict[str, Any]], archiver_for: Callable[..., Archiver], s3: Any,
        bucket_name: str) -> None:
    report = archiver_for(store).run(NOW, dry_run=True)
    assert report.ok and report.cutoff == "2025-11-01"
    assert [(d.day, d.outcome, d.stored_rows) for d in report.days] == \
        [(str(d), "planned:archive", 48) for d in OLD_DAYS]
    assert store.count(OLD) == 4 * 48
    assert keys(s3, bucket_name) == {}


def test_summaries_older_than_the_summary_window_are_dropped(
        sqlite_store: Any, archiver_for: Callable[..., Archiver]) -> None:
    sqlite_store.write(day_records(OLD_DAYS[0]))
    archiver = archiver_for(sqlite_store)
    assert archiver.run(NOW).ok
    daily = sqlite_store.aggregates(None, "day", EARLY, NOW)
    hourly = sqlite_store.aggregates(None, "hour", EARLY, NOW)
    assert len(daily) == 3 and len(hourly) > 3  # three entities
    later = archiver_for(sqlite_store, summary_retention_days=366)
    report = later.run(NOW.replace(day=2))  # the summary window now starts at 2025-11-01
    assert report.ok and report.aggregates_pruned == len(daily) + len(hourly)
    assert sqlite_store.aggregates(None, "day", EARLY, NOW) == []
    assert sqlite_store.aggregates(None, "hour", EARLY, NOW) == []


def test_the_store_keeps_a_day_whose_events_changed_during_the_run(
        sqlite_store: Any, archiver_for: Callable[..., Archiver]) -> None:
    day = OLD_DAYS[0]
    records = day_records(day, 20)
    sqlite_store.write(records[:15])
    archiver = archiver_for(sqlite_store)
    original = archiver.store.write_aggregates

    def write_and_a_late_event_arrives(rows: list[Any]) -> None:
        original(rows)
        sqlite_store.write(records[15:])

    archiver.store.write_aggregates = write_and_a_late_event_arrives  # type: ignore[method-assign]
    report = archiver.run(NOW)
    assert not report.ok and "arrived" in (report.error or "")
    assert sqlite_store.count(EventFilter(end=NOW)) == 20


def test_a_run_archives_at_most_max_days_per_run_and_the_next_goes_on(
        sqlite_store: Any, archiver_for: Callable[..., Archiver]) -> None:
    sqlite_store.write([r for day in OLD_DAYS for r in day_records(day, 6)])
    archiver = archiver_for(sqlite_store, max_days_per_run=3)
    first = archiver.run(NOW)
    assert first.ok and [d.day for d in first.days] == [str(d) for d in OLD_DAYS[:3]] and first.days_left == 1
    second = archiver.run(NOW)
    assert second.ok and [d.day for d in second.days] == [str(OLD_DAYS[3])] and second.days_left == 0
    assert sqlite_store.count(OLD) == 0
