"""The archive run: plan the days older than the raw window, then per day, oldest first:
export -> upload -> verify -> manifest -> aggregates -> delete, stopping at the first day that fails.

Nothing is deleted from the store before its day's object is verified in S3 (exists, size, sha256 of the
stored bytes and of the NDJSON, row count) and its manifest is written. A day whose manifest is present
and whose object still verifies is not uploaded again: its rows in the store (e.g. restored ones) are
pruned; rows that arrived for it since (late events) are merged into a new object first.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from ingestor import jsoncodec, metrics
from ingestor.archive import dayfile, layout, summaries
from ingestor.archive.errors import ArchiveError, VerificationError
from ingestor.archive.s3 import Bucket
from ingestor.archive.settings import Settings
from ingestor.archive.verify import verify
from ingestor.store.model import EventFilter, StoreError

log = logging.getLogger("ingestor.archive")
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)  # validate refuses events before 2000
NOT_CONFIGURED = "archive not configured (set ARCHIVE_S3_ENDPOINT and ARCHIVE_S3_BUCKET): nothing archived or pruned"

_days = metrics.counter("archive_days_total", "Days handled by retention-archive, by outcome", ["outcome"])
_events = metrics.counter("archive_events_total", "Events archived (uploaded) by retention-archive")
_bytes = metrics.counter("archive_bytes_total", "Compressed bytes uploaded by retention-archive")
_pruned = metrics.counter("archive_pruned_events_total", "Events deleted from the store after verification")


@dataclass
class DayResult:
    day: str
    outcome: str  # archived | merged | pruned | planned:<action> | failed
    rows: int = 0
    stored_rows: int = 0
    bytes: int = 0
    object: str | None = None
    seconds: float = 0.0
    error: str | None = None


@dataclass
class Report:
    dry_run: bool
    started_at: str
    cutoff: str  # the first day kept raw
    days: list[DayResult] = field(default_factory=list)
    finished_at: str | None = None
    aggregates_pruned: int = 0
    days_left: int = 0  # days beyond ARCHIVE_MAX_DAYS_PER_RUN, left for the next run
    skipped: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_dict(self) -> dict[str, Any]:
        done = [d for d in self.days if d.outcome in ("archived", "merged", "pruned")]
        return {**asdict(self), "ok": self.ok, "days_done": len(done),
                "events_pruned": sum(d.stored_rows for d in done),
                "bytes_uploaded": sum(d.bytes for d in done if d.outcome != "pruned")}


def iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def cutoff_day(settings: Settings, now: dt.datetime) -> dt.date:
    """Days before this one lie wholly outside the raw window."""
    return (now.astimezone(dt.UTC) - dt.timedelta(days=settings.raw_retention_days)).date()


class Archiver:
    def __init__(self, store: Any, bucket: Bucket, settings: Settings) -> None:
        self.store = store
        self.bucket = bucket
        self.settings = settings

    # --- reading what is there ---------------------------------------------------------------------

    def manifest(self, day: dt.date) -> dict[str, Any] | None:
        body = self.bucket.get(layout.manifest_key(self.settings.prefix, day))
        if body is None:
            return None
        try:
            found = jsoncodec.loads(body)
            if not isinstance(found, dict) or found.get("v") != dayfile.MANIFEST_VERSION:
                raise ValueError("unknown manifest version")
            return found
        except ValueError:
            raise VerificationError(f"manifest of {day} is unreadable") from None

    def stored_days(self, end: dt.datetime) -> list[tuple[dt.date, int]]:
        """(day, events in the store) for every UTC day before `end` that has events."""
        return [(b.start.date(), b.count) for b in self.store.buckets(EventFilter(start=EARLIEST, end=end), 86_400)
                if b.count]

    def export(self, day: dt.date) -> list[dict[str, Any]]:
        start, end = summaries.day_bounds(day)
        records = [r for batch in self.store.export(start, end, batch=self.settings.export_batch) for r in batch]
        records.sort(key=dayfile.sort_key)
        return records

    # --- the run -----------------------------------------------------------------------------------

    def run(self, now: dt.datetime | None = None, dry_run: bool = False) -> Report:
        now = now or dt.datetime.now(dt.UTC)
        cutoff = cutoff_day(self.settings, now)
        report = Report(dry_run, iso(dt.datetime.now(dt.UTC)), cutoff.isoformat())
        if not self.settings.enabled:
            report.skipped = NOT_CONFIGURED
            report.finished_at = report.started_at
            return report
        try:
            if not dry_run:
                self.bucket.ensure()
            planned = self.stored_days(summaries.day_bounds(cutoff)[0])
            if not dry_run and len(planned) > self.settings.max_days_per_run:
                report.days_left = len(planned) - self.settings.max_days_per_run
                planned = planned[:self.settings.max_days_per_run]
        except (ArchiveError, StoreError) as exc:
            report.error = str(exc)
            report.finished_at = iso(dt.datetime.now(dt.UTC))
            return report
        for day, count in planned:
            if dry_run:
                report.days.append(self._plan(day, count))
                continue
            started = time.perf_counter()
            try:
                result = self.archive_day(day)
            except (ArchiveError, StoreError) as exc:
                result = DayResult(day.isoformat(), "failed", stored_rows=count, error=str(exc))
                report.error = f"{day}: {exc}"
                log.error("archive of a day failed; the store keeps it", extra={"day": str(day), "error": str(exc)})
            result.seconds = round(time.perf_counter() - started, 3)
            report.days.append(result)
            _days.labels(result.outcome).inc()
            if result.outcome == "failed":
                break  # the next run starts again from this day
        if not dry_run:
            report.aggregates_pruned = self._prune_aggregates(now, report)
        report.finished_at = iso(dt.datetime.now(dt.UTC))
        return report

    def _plan(self, day: dt.date, count: int) -> DayResult:
        try:
            found = self.bucket.head(layout.manifest_key(self.settings.prefix, day))
            action = "prune (manifest present; verified before deleting)" if found else "archive"
        except ArchiveError as exc:
            action = f"unknown ({exc})"
        return DayResult(day.isoformat(), f"planned:{action}", stored_rows=count)

    def archive_day(self, day: dt.date) -> DayResult:
        start, end = summaries.day_bounds(day)
        stored = self.export(day)
        result = DayResult(day.isoformat(), "archived", stored_rows=len(stored))
        if not stored:
            result.outcome = "pruned"
            return result
        old = self.manifest(day)
        archived: list[dict[str, Any]] = []
        broken: str | None = None
        if old is not None:
            try:
                archived = verify(self.bucket, old)
            except VerificationError as exc:
                if len(stored) < old["rows"]:
                    raise ArchiveError(f"the archived object fails verification ({exc}) and the store holds "
                                       f"{len(stored)} of its {old['rows']} rows: both left as they are") from None
                log.warning("archived day fails verification; archiving it again from the store",
                            extra={"day": str(day), "error": str(exc)})
                broken, old, archived = old["object"], None, []
        known = {r["event_id"] for r in archived}
        late = [r for r in stored if r["event_id"] not in known]
        if old is not None and not late:
            everything = archived
            result.outcome = "pruned"
            result.rows, result.bytes, result.object = old["rows"], old["bytes"], old["object"]
        else:
            everything = sorted(archived + late, key=dayfile.sort_key)
            written = self._upload(day, everything)
            replaced = old["object"] if old is not None else broken
            if replaced and replaced != written["object"]:
                self.bucket.delete(replaced)  # the new manifest no longer names it
            result.outcome = "merged" if old is not None else "archived"
            result.rows, result.bytes, result.object = written["rows"], written["bytes"], written["object"]
            _events.inc(written["rows"])
            _bytes.inc(written["bytes"])
        self.store.write_aggregates(summaries.summarize(everything))
        now_stored = self.store.count(EventFilter(start=start, end=end))
        if now_stored != len(stored):
            raise ArchiveError(f"{now_stored - len(stored):+d} events arrived for the day during its archive; "
                               "it is kept and archived again next run")
        self.store.delete(start, end)
        _pruned.inc(len(stored))
        return result

    def _upload(self, day: dt.date, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Upload the day, verify it, then write its manifest (the manifest is the 'done' mark)."""
        file = dayfile.encode(day, records)
        key = layout.data_key(self.settings.prefix, day, file.sha256_gzip)
        manifest = dayfile.manifest(file, key, getattr(self.store, "backend", "?"))
        self.bucket.put(key, file.body, "application/gzip",
                        {"sha256": file.sha256_gzip, "rows": str(file.rows), "format": dayfile.FORMAT})
        try:
            verify(self.bucket, manifest)
        except VerificationError:
            with contextlib.suppress(ArchiveError):  # no manifest names it: leave no orphan behind
                self.bucket.delete(key)
            raise
        manifest_key = layout.manifest_key(self.settings.prefix, day)
        body = jsoncodec.dumps(manifest, sort_keys=True)
        self.bucket.put(manifest_key, body, "application/json")
        if self.bucket.get(manifest_key) != body:
            raise VerificationError(f"{manifest_key}: reads back different from what was written")
        return manifest

    def _prune_aggregates(self, now: dt.datetime, report: Report) -> int:
        before = summaries.day_bounds((now - dt.timedelta(days=self.settings.summary_retention_days)).date())[0]
        try:
            return sum(self.store.delete_aggregates(period, before) for period in ("hour", "day"))
        except StoreError as exc:
            report.error = report.error or f"pruning aggregates: {exc}"
            return 0
