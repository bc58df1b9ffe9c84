"""Faults injected against the real S3 server: the store keeps every row until its day verified, a bad day
never stops the days after it, and only an unreachable S3 stops a run.

The proxy in front of the S3 server refuses connections, cuts uploads mid-body or flips a byte of an uploaded
body; the archive must notice by itself (errors, its own checksums) and delete nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ingestor.archive import quarantine
from ingestor.archive.recover import recover
from ingestor.archive.restore import restore
from ingestor.archive.run import Archiver
from tests.archive.conftest import NOW, OLD, OLD_DAYS, RECENT, day_records, everything, keys
from tests.support.faultproxy import FaultProxy
from tests.support.s3servers import S3Server

pytestmark = pytest.mark.integration


def manifest_keys(s3: Any, bucket: str) -> list[str]:
    return sorted(k for k in keys(s3, bucket) if k.endswith("manifest.json"))


def days_of(report: Any) -> list[tuple[str, str]]:
    return [(d.day, d.outcome) for d in report.days]


def test_s3_unreachable_stops_the_run_deletes_nothing_and_a_rerun_completes(
        store: Any, home: list[dict[str, Any]], archiver_for: Callable[..., Archiver], proxy: FaultProxy,
        s3: Any, bucket_name: str) -> None:
    before = everything(store)
    proxy.arm("refuse")
    report = archiver_for(store, proxy.endpoint).run(NOW)
    assert not report.ok and "cannot reach" in (report.error or "") and "ARCHIVE_S3_ENDPOINT" in report.error
    assert everything(store) == before
    proxy.arm(None)
    again = archiver_for(store, proxy.endpoint).run(NOW)
    assert again.ok and [d.outcome for d in again.days] == ["archived"] * 4
    assert store.count(OLD) == 0 and len(manifest_keys(s3, bucket_name)) == 4


@pytest.mark.parametrize("attempts", [1, 3])
def test_max_attempts_is_the_number_of_attempts(sqlite_store: Any, archiver_for: Callable[..., Archiver],
                                                proxy: FaultProxy, attempts: int) -> None:
    sqlite_store.write(day_records(OLD_DAYS[0]))
    proxy.arm("refuse")
    report = archiver_for(sqlite_store, proxy.endpoint, max_attempts=attempts).run(NOW)
    assert not report.ok and f"after {attempts} attempt(s)" in (report.error or "")
    assert proxy.faults == attempts  # one connection per attempt, the first included


def test_uploads_cut_mid_body_delete_nothing_and_a_rerun_completes(
        store: Any, home: list[dict[str, Any]], archiver_for: Callable[..., Archiver], proxy: FaultProxy,
        s3: Any, bucket_name: str) -> None:
    before = everything(store)
    proxy.arm("cut", ".ndjson.gz")
    archiver = archiver_for(store, proxy.endpoint)
    report = archiver.run(NOW)
    assert proxy.faults == 2 * 4  # each day: boto3 retried the cut upload once (2 attempts), cut again
    assert not report.ok and [d.outcome for d in report.days] == ["failed"] * 4  # S3 answers: every day tried
    assert everything(store) == before
    assert manifest_keys(s3, bucket_name) == []
    proxy.arm(None)
    again = archiver.run(NOW)
    assert again.ok and [d.outcome for d in again.days] == ["archived"] * 4
    assert store.count(OLD) == 0
    assert quarantine.read_all(archiver.bucket, "home/") == []  # the failures were forgotten once archived


def test_a_failing_day_is_kept_and_the_later_days_go_on(
        sqlite_store: Any, archiver_for: Callable[..., Archiver], proxy: FaultProxy, s3: Any,
        bucket_name: str) -> None:
    sqlite_store.write([r for day in OLD_DAYS for r in day_records(day)])
    proxy.arm("cut", f"events/{OLD_DAYS[1]:%Y/%m/%d}/events-")
    archiver = archiver_for(sqlite_store, proxy.endpoint)
    report = archiver.run(NOW)
    assert days_of(report) == [(str(OLD_DAYS[0]), "archived"), (str(OLD_DAYS[1]), "failed"),
                               (str(OLD_DAYS[2]), "archived"), (str(OLD_DAYS[3]), "archived")]
    assert not report.ok and report.error.startswith("1 day(s) failed") and str(OLD_DAYS[1]) in report.error
    assert [b.start.date() for b in sqlite_store.buckets(OLD, 86_400)] == [OLD_DAYS[1]]
    assert sqlite_store.count(OLD) == 48
    assert manifest_keys(s3, bucket_name) == [f"home/events/{d:%Y/%m/%d}/manifest.json" for d in
                                              (OLD_DAYS[0], OLD_DAYS[2], OLD_DAYS[3])]
    [failing] = quarantine.read_all(archiver.bucket, "home/")
    assert (failing["day"], failing["state"], failing["failures"]) == (str(OLD_DAYS[1]), "failing", 1)
    proxy.arm(None)
    again = archiver.run(NOW)
    assert again.ok and days_of(again) == [(str(OLD_DAYS[1]), "archived")]
    assert sqlite_store.count(OLD) == 0 and quarantine.read_all(archiver.bucket, "home/") == []


def test_a_day_failing_three_runs_in_a_row_is_quarantined_skipped_and_rebuilt_by_its_recovery(
        sqlite_store: Any, archiver_for: Callable[..., Archiver], proxy: FaultProxy) -> None:
    sqlite_store.write(day_records(OLD_DAYS[0]) + day_records(OLD_DAYS[1]))
    proxy.arm("cut", f"events/{OLD_DAYS[0]:%Y/%m/%d}/events-")
    archiver = archiver_for(sqlite_store, proxy.endpoint)
    outcomes = [days_of(archiver.run(NOW)) for _ in range(3)]
    assert outcomes[0] == [(str(OLD_DAYS[0]), "failed"), (str(OLD_DAYS[1]), "archived")]
    assert outcomes[1:] == [[(str(OLD_DAYS[0]), "failed")], [(str(OLD_DAYS[0]), "quarantined")]]
    [held] = quarantine.read_all(archiver.bucket, "home/")
    assert held["state"] == "quarantined" and held["reason"].startswith("failed in 3 runs in a row")
    assert held["recovery"]["cli"] == f"python -m ingestor.archive recover {OLD_DAYS[0]} --action rebuild"
    cuts = proxy.faults
    skipped = archiver.run(NOW)
    assert days_of(skipped) == [(str(OLD_DAYS[0]), "quarantined")] and proxy.faults == cuts  # not tried again
    assert sqlite_store.count(OLD) == 48  # and kept
    proxy.arm(None)
    recovered = recover(archiver, OLD_DAYS[0], "rebuild")
    assert recovered["result"]["outcome"] == "archived" and recovered["result"]["rows"] == 48
    assert sqlite_store.count(OLD) == 0 and quarantine.read_all(archiver.bucket, "home/") == []


# Who catches a byte flipped on the wire: MinIO checks each body against its signed x-amz-content-sha256 and
# refuses it; SeaweedFS stores it, and the archive's read-back finds its sha256 wrong.
CAUGHT_BY = {"MinIO": "XAmzContentSHA256Mismatch", "SeaweedFS": "sha256 of the stored bytes differs"}


def test_a_corrupted_upload_is_caught_by_the_checksum_and_nothing_is_deleted(
        store: Any, home: list[dict[str, Any]], archiver_for: Callable[..., Archiver], proxy: FaultProxy,
        s3: Any, bucket_name: str, s3server: S3Server) -> None:
    before = everything(store)
    proxy.arm("flip", ".ndjson.gz")
    archiver = archiver_for(store, proxy.endpoint)
    report = archiver.run(NOW)
    assert proxy.faults == 4  # one damaged body per day
    caught_by = CAUGHT_BY[type(s3server).__name__]
    assert [d.outcome for d in report.days] == ["failed"] * 4 and all(caught_by in d.error for d in report.days)
    assert everything(store) == before
    assert [k for k in keys(s3, bucket_name) if "/events/" in k] == []  # damaged objects removed, no manifest
    proxy.arm(None)
    assert archiver.run(NOW).ok and store.count(OLD) == 0


def test_an_archive_damaged_after_the_fact_is_not_trusted(
        sqlite_store: Any, archiver_for: Callable[..., Archiver], s3: Any, bucket_name: str) -> None:
    sqlite_store.write(day_records(OLD_DAYS[0]))
    archiver = archiver_for(sqlite_store)
    assert archiver.run(NOW).ok
    manifest = archiver.manifest(OLD_DAYS[0])
    assert manifest is not None
    restore(archiver, OLD_DAYS[0], OLD_DAYS[0])
    s3.put_object(Bucket=bucket_name, Key=manifest["object"], Body=b"\x1f\x8b damaged")
    again = restore(archiver, OLD_DAYS[0], OLD_DAYS[0])
    assert not again["ok"] and again["days"][0]["outcome"] == "failed" and "bytes" in again["days"][0]["error"]
    report = archiver.run(NOW)  # the store still holds every row: the day is archived again from it
    assert report.ok and [d.outcome for d in report.days] == ["archived"]
    assert archiver.manifest(OLD_DAYS[0])["rows"] == 48 and sqlite_store.count(OLD) == 0
    assert sorted(k for k in keys(s3, bucket_name) if "/events/" in k) == sorted(
        [archiver.manifest(OLD_DAYS[0])["object"], f"home/events/{OLD_DAYS[0]:%Y/%m/%d}/manifest.json"])
    # the same rows give the same bytes, so the same content-addressed key: the damage is overwritten
    assert archiver.manifest(OLD_DAYS[0])["object"] == manifest["object"]


def test_the_raw_window_is_never_touched_by_a_failing_run(
        store: Any, home: list[dict[str, Any]], archiver_for: Callable[..., Archiver], proxy: FaultProxy) -> None:
    recent = everything(store, RECENT)
    proxy.arm("flip", ".ndjson.gz")
    archiver_for(store, proxy.endpoint).run(NOW)
    assert everything(store, RECENT) == recent
