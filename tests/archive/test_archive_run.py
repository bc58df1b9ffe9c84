"""Archive, verify and prune against a real S3 server with the SQLite, PostgreSQL and InfluxDB 1.x stores: exact
counts and per-day checksums taken independently before archiving, through many export batches and multipart
uploads, in both formats."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ingestor.archive import layout
from ingestor.archive.restore import restore
from ingestor.archive.run import Archiver
from ingestor.archive.summaries import day_bounds
from ingestor.store.model import EventFilter
from tests.archive.conftest import EARLY, NOW, OLD, OLD_DAYS, RECENT, day_records, everything, keys

pytestmark = pytest.mark.integration


def manifests(s3: Any, bucket: str) -> dict[str, dict[str, Any]]:
    return {k: json.loads(s3.get_object(Bucket=bucket, Key=k)["Body"].read())
            for k in keys(s3, bucket) if k.endswith("manifest.json")}


def day_hashes(event_store: Any, days: list[Any]) -> dict[str, tuple[int, str]]:
    """(count, sha256) per day over the store's records in (time_fired, event_id) order, each as stdlib JSON
    with its keys in the order the store gave them: taken without any of the archive's code."""
    out = {}
    for day in days:
        start, end = day_bounds(day)
        records = sorted((r for batch in event_store.export(start, end) for r in batch),
                         key=lambda r: (r["time_fired"], r["event_id"]))
        text = b"".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")).encode() + b"\n" for r in records)
        out[str(day)] = (len(records), hashlib.sha256(text).hexdigest())
    return out


@pytest.mark.parametrize("fmt", ["ndjson", "parquet"])
def test_every_day_goes_out_and_comes_back_exactly_through_many_batches(
        any_store: Any, archiver_for: Callable[..., Archiver], s3: Any, bucket_name: str, fmt: str) -> None:
    sizes = [5, 48, 131, 1]
    any_store.write([r for day, n in zip(OLD_DAYS, sizes, strict=True) for r in day_records(day, n)])
    before = day_hashes(any_store, OLD_DAYS)
    assert [n for n, _ in before.values()] == sizes
    archiver = archiver_for(any_store, format=fmt, export_batch=7)
    report = archiver.run(NOW)
    assert report.ok, report.error
    assert [(d.day, d.outcome, d.rows, d.stored_rows) for d in report.days] == [
        (str(day), "archived", n, n) for day, n in zip(OLD_DAYS, sizes, strict=True)]
    assert any_store.count(OLD) == 0
    for day, n in zip(OLD_DAYS, sizes, strict=True):
        manifest = manifests(s3, bucket_name)[layout.manifest_key("home/", day)]
        body = s3.get_object(Bucket=bucket_name, Key=manifest["object"])["Body"].read()
        if fmt == "ndjson":
            content = gzip.decompress(body)
            assert (content.count(b"\n"), hashlib.sha256(content).hexdigest()) == before[str(day)]
        else:
            import io

            import pyarrow.parquet as pq

            assert pq.read_table(io.BytesIO(body)).num_rows == n
        assert manifest["sha256_ndjson"] == before[str(day)][1]  # the same content checksum in both formats
    assert restore(archiver, OLD_DAYS[0], OLD_DAYS[-1])["restored_rows"] == sum(sizes)
    assert day_hashes(any_store, OLD_DAYS) == before


def test_a_day_larger_than_a_part_goes_up_as_a_multipart_upload_and_comes_back_exactly(
        sqlite_store: Any, archiver_for: Callable[..., Archiver], s3: Any, bucket_name: str, tmp_path: Path) -> None:
    day = OLD_DAYS[0]
    records = day_records(day, 3000)
    for record in records:  # hardly compressible attributes: 3000 x 4 KiB of random hex, about 7 MB gzipped
        record["attributes"] = {"noise": secrets.token_hex(2048)}
    sqlite_store.write(records)
    before = day_hashes(sqlite_store, [day])
    staging = tmp_path / "staging"
    staging.mkdir()
    archiver = archiver_for(sqlite_store, part_size_mb=5, export_batch=500, tmp_dir=str(staging))
    report = archiver.run(NOW)
    assert report.ok and report.days[0].bytes > 5 * 1024 * 1024 and sqlite_store.count(OLD) == 0
    manifest = archiver.manifest(day)
    head = s3.head_object(Bucket=bucket_name, Key=manifest["object"])
    assert head["ETag"].strip('"').endswith("-2")  # S3 names a multipart object's ETag by its part count
    assert restore(archiver, day, day)["restored_rows"] == 3000
    assert day_hashes(sqlite_store, [day]) == before
    assert os.listdir(staging) == []  # the staged objects are gone


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
    assert hashlib.sha256(body).hexdigest() == manifest["sha256"]
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


def test_influxdb_export_reads_a_busy_hour_in_windows_of_about_a_batch(influxdb: Any) -> None:
    """Each read is sorted whole in memory: on a busy day an hour's read would hold tens of thousands of events."""
    from ingestor.store import open_event_store

    store = open_event_store(influxdb.url(f"t_{secrets.token_hex(6)}"))
    try:
        records = day_records(OLD_DAYS[0], 600)  # 600 events; those of 01:00-02:00 are the busy hour
        store.write(records)
        start, end = day_bounds(OLD_DAYS[0])
        hour = (start + dt.timedelta(hours=1), start + dt.timedelta(hours=2))
        windows = store._export_windows(*hour, 10)
        counts = [store.count(EventFilter(start=lo, end=hi)) for lo, hi in windows]
        assert sum(counts) == store.count(EventFilter(start=hour[0], end=hour[1])) > 20
        assert len(windows) > 2 and all(0 < n <= 10 for n in counts)  # no minute holds more than 10 here
        exported = [r for batch in store.export(start, end, batch=10) for r in batch]
        assert [(r["time_fired"], r["event_id"]) for r in exported] == sorted(
            (r["time_fired"], r["event_id"]) for r in records)
    finally:
        store.close()
