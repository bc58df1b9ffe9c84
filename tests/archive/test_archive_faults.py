"""Faults injected against the real S3 server: the store keeps every row until its day verified.

The proxy in front of SeaweedFS refuses connections, cuts uploads mid-body or flips a byte of an
uploaded body; the archive must notice by itself (errors, its own checksums) and delete nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ingestor.archive.run import Archiver
from tests.archive.conftest import NOW, OLD, OLD_DAYS, RECENT, everything, keys
from tests.support.faultproxy import FaultProxy

pytestmark = pytest.mark.integration


def manifest_keys(s3: Any, bucket: str) -> list[str]:
    return sorted(k for k in keys(s3, bucket) if k.endswith("manifest.json"))


def test_s3_unreachable_deletes_nothing_and_a_rerun_completes(
        store: Any, home: list[dict[str, Any]], archiver_for: Callable[..., Archiver], proxy: FaultProxy,
        s3: Any, bucket_name: str) -> None:
    before = everything(store)
    proxy.arm("refuse")
    report = archiver_for(store, proxy.endpoint).run(NOW)
    assert not report.ok and "S3" in (report.error or "")
    assert everything(store) == before
    proxy.arm(None)
    again = archiver_for(store, proxy.endpoint).run(NOW)
    assert again.ok and [d.outcome for d in again.days] == ["archived"] * 4
    assert store.count(OLD) == 0 and len(manifest_keys(s3, bucket_name)) == 4


def test_an_upload_cut_mid_body_deletes_nothing_and_a_rerun_completes(
        store: Any, home: list[dict[str, Any]], archiver_for: Callable[..., Archiver], proxy: FaultProxy,
        s3: Any, bucket_name: str) -> None:
    before = everything(store)
    proxy.arm("cut", ".ndjson.gz")
    archiver = archiver_for(store, proxy.endpoint)
    report = archiver.run(NOW)
    assert proxy.faults >= 2  # boto3 retried the cut upload, and it was cut again
    assert not report.ok and [d.outcome for d in report.days] == ["failed"]  # stopped at the first failing day
    assert everything(store) == before
    assert manifest_keys(s3, bucket_name) == []
    proxy.arm(None)
    again = archiver.run(NOW)
    assert again.ok and [d.outcome for d in again.days] == ["archived"] * 4
    assert store.count(OLD) == 0


def test_a_failing_later_day_is_kept_and_the_run_stops_there(
        sqlite_store: Any, archiver_for: Callable[..., Archiver], proxy: FaultProxy, s3: Any,
        bucket_name: str) -> None:
    from tests.archive.conftest import day_records

    sqlite_store.write([r for day in OLD_DAYS for r in day_records(day)])
    proxy.arm("cut", f"events/{OLD_DAYS[1]:%Y/%m/%d}/events-")
    report = archiver_for(sqlite_store, proxy.endpoint).run(NOW)
    assert [(d.day, d.outcome) for d in report.days] == [(str(OLD_DAYS[0]), "archived"),
                                                          (str(OLD_DAYS[1]), "failed")]
    assert [b.start.date() for b in sqlite_store.buckets(OLD, 86_400)] == OLD_DAYS[1:]
    assert manifest_keys(s3, bucket_name) == [f"home/events/{OLD_DAYS[0]:%Y/%m/%d}/manifest.json"]
    proxy.arm(None)
    again = archiver_for(sqlite_store, proxy.endpoint).run(NOW)
    assert again.ok and [d.day for d in again.days] == [str(d) for d in OLD_DAYS[1:]]
    assert sqlite_store.count(OLD) == 0


def test_a_corrupted_upload_is_caught_by_the_checksum_and_nothing_is_deleted(
        store: Any, home: list[dict[str, Any]], archiver_for: Callable[..., Archiver], proxy: FaultProxy,
        s3: Any, bucket_name: str) -> None:
    before = everything(store)
    proxy.arm("flip", ".ndjson.gz")
    archiver = archiver_for(store, proxy.endpoint)
    report = archiver.run(NOW)
    assert proxy.faults == 1  # the server took the damaged body without complaint
    assert not report.ok and "sha256" in (report.error or "")
    assert everything(store) == before
    assert keys(s3, bucket_name) == {}  # the damaged object was removed again, no manifest was written
    proxy.arm(None)
    assert archiver.run(NOW).ok and store.count(OLD) == 0


def test_an_archive_damaged_after_the_fact_is_not_trusted(
        sqlite_store: Any, archiver_for: Callable[..., Archiver], s3: Any, bucket_name: str) -> None:
    from ingestor.archive.restore import restore
    from tests.archive.conftest import day_records

    sqlite_store.write(day_records(OLD_DAYS[0]))
    archiver = archiver_for(sqlite_store)
    assert archiver.run(NOW).ok
    manifest = archiver.manifest(OLD_DAYS[0])
    assert manifest is not None
    restore(archiver, OLD_DAYS[0], OLD_DAYS[0])
    s3.put_object(Bucket=bucket_name, Key=manifest["object"], Body=b"\x1f\x8b damaged")
    with pytest.raises(Exception, match="bytes"):
        restore(archiver, OLD_DAYS[0], OLD_DAYS[0])
    report = archiver.run(NOW)  # the store still holds every row: the day is archived again from it
    assert report.ok and [d.outcome for d in report.days] == ["archived"]
    assert archiver.manifest(OLD_DAYS[0])["rows"] == 48 and sqlite_store.count(OLD) == 0
    assert sorted(k for k in keys(s3, bucket_name) if "/events/" in k) == sorted(
        [archiver.manifest(OLD_DAYS[0])["object"], f"home/events/{OLD_DAYS[0]:%Y/%m/%d}/manifest.json"])


def test_the_raw_window_is_never_touched_by_a_failing_run(
        store: Any, home: list[dict[str, Any]], archiver_for: Callable[..., Archiver], proxy: FaultProxy) -> None:
    recent = everything(store, RECENT)
    proxy.arm("flip", ".ndjson.gz")
    archiver_for(store, proxy.endpoint).run(NOW)
    assert everything(store, RECENT) == recent
