"""The archive run: plan the days older than the raw window, then per day, oldest first:
export -> stage (gzip NDJSON or Parquet) -> upload -> verify -> manifest -> aggregates -> delete.

Nothing is deleted from the store before its day's object is verified in S3 (exists, size, sha256 of the
stored bytes; the staged file it came from decoded back to exactly the records exported) and its manifest
is written. A day whose manifest is present and whose object still verifies is not uploaded again: its rows
in the store (e.g. restored ones) are pruned; rows that arrived for it since (late events) are merged into
a new object first. Everything streams: a batch of records in memory, the day's object on local disk.

A day that fails does not stop the run: it is counted in the bucket (archive.quarantine) and later days go
on, unless S3 or the store turned out unreachable (then every later day would fail too, and the run stops).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from ingestor import jsoncodec, metrics
from ingestor.archive import dayfile, layout, quarantine, summaries
from ingestor.archive.errors import ArchiveError, DayProblem, VerificationError
from ingestor.archive.progress import Progress, iso
from ingestor.archive.s3 import Bucket
from ingestor.archive.settings import Settings
from ingestor.archive.verify import fetch, verify_stored
from ingestor.store.model import EventFilter, StoreError
from ingestor.store.protocol import EventStore

log = logging.getLogger(__name__)
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)  # validate refuses events before 2000
NOT_CONFIGURED = "archive not configured (set ARCHIVE_S3_ENDPOINT and ARCHIVE_S3_BUCKET): nothing archived or pruned"

_days = metrics.counter("archive_days_total", "Days handled by retention-archive, by outcome", ["outcome"])
_events = metrics.counter("archive_events_total", "Events archived (uploaded) by retention-archive")
_bytes = metrics.counter("archive_bytes_total", "Bytes uploaded by retention-archive")
_pruned = metrics.counter("archive_pruned_events_total", "Events deleted from the store after verification")


@dataclass
class DayResult:
    day: str
    outcome: str  # archived | merged | pruned | planned:<action> | failed | quarantined
    rows: int = 0  # rows in the day's archive
    stored_rows: int = 0  # rows the store held (and that were pruned, unless failed)
    bytes: int = 0
    object: str | None = None
    seconds: float = 0.0
    error: str | None = None
    recovery: dict[str, str] | None = None


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
                "days_failed": sum(d.outcome == "failed" for d in self.days),
                "days_quarantined": [d.day for d in self.days if d.outcome == "quarantined"],
                "events_pruned": sum(d.stored_rows for d in done),
                "bytes_uploaded": sum(d.bytes for d in done if d.outcome != "pruned")}


def cutoff_day(settings: Settings, now: dt.datetime) -> dt.date:
    """Days before this one lie wholly outside the raw window."""
    return (now.astimezone(dt.UTC) - dt.timedelta(days=settings.raw_retention_days)).date()


def _key(record: dict[str, Any]) -> tuple[str, str]:
    return record["time_fired"], record["event_id"]


def _flat(batches: Iterable[list[dict[str, Any]]]) -> Iterator[dict[str, Any]]:
    for batch in batches:
        yield from batch


class Archiver:
    def __init__(self, store: EventStore, bucket: Bucket, settings: Settings, progress: Progress | None = None,
                 guard: Callable[[], None] | None = None) -> None:
        self.store = store
        self.bucket = bucket
        self.settings = settings
        self.progress = progress or Progress("run")
        self.guard = guard or (lambda: None)  # raises when this job may no longer change anything (its lease)

    # --- reading what is there ---------------------------------------------------------------------

    def manifest(self, day: dt.date) -> dict[str, Any] | None:
        body = self.bucket.get(layout.manifest_key(self.settings.prefix, day))
        if body is None:
            return None
        try:
            return dayfile.upgrade(jsoncodec.loads(body))
        except (ValueError, KeyError) as exc:
            raise DayProblem(f"the manifest of {day} is unreadable ({exc})", "repair") from None

    def stored_days(self, end: dt.datetime) -> list[tuple[dt.date, int]]:
        """(day, events in the store) for every UTC day before `end` that has events."""
        return [(b.start.date(), b.count) for b in self.store.buckets(EventFilter(start=EARLIEST, end=end), 86_400)
                if b.count]

    def export(self, day: dt.date) -> Iterator[list[dict[str, Any]]]:
        start, end = summaries.day_bounds(day)
        return self.store.export(start, end, batch=self.settings.export_batch)

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
            held = self._quarantined(dry_run)
            planned = self.stored_days(summaries.day_bounds(cutoff)[0])
        except (ArchiveError, StoreError) as exc:
            report.error = str(exc)
            report.finished_at = iso(dt.datetime.now(dt.UTC))
            return report
        for day, count in [(d, c) for d, c in planned if d.isoformat() in held]:
            report.days.append(DayResult(day.isoformat(), "quarantined", stored_rows=count,
                                         error="skipped: quarantined (see the archive status for its recovery)"))
        planned = [(d, c) for d, c in planned if d.isoformat() not in held]
        if not dry_run and len(planned) > self.settings.max_days_per_run:
            report.days_left = len(planned) - self.settings.max_days_per_run
            planned = planned[:self.settings.max_days_per_run]
        self.progress.plan(len(planned))
        failures: list[str] = []
        for day, count in planned:
            if dry_run:
                report.days.append(self._plan(day, count))
                continue
            stop = self._one_day(day, count, report, failures)
            if stop:
                report.error = f"{failures[-1]}; the run stopped there: {stop}"
                break
        if failures and report.error is None:
            report.error = f"{len(failures)} day(s) failed, the others went on; first: {failures[0]}"
        if not dry_run:
            report.aggregates_pruned = self._prune_aggregates(now, report)
        report.finished_at = iso(dt.datetime.now(dt.UTC))
        return report

    def _quarantined(self, dry_run: bool) -> set[str]:
        try:
            return quarantine.quarantined(quarantine.read_all(self.bucket, self.settings.prefix))
        except ArchiveError:
            if dry_run:  # the plan says per day what it could not find out
                return set()
            raise

    def _one_day(self, day: dt.date, count: int, report: Report, failures: list[str]) -> str | None:
        """Archive one day into `report`; returns why the run must stop, if it must."""
        started = time.perf_counter()
        self.progress.start_day(day)
        stop = None
        try:
            result = self.archive_day(day)
            with contextlib.suppress(ArchiveError):  # an old failure record is only informative
                quarantine.clear(self.bucket, self.settings.prefix, day)
        except (ArchiveError, StoreError) as exc:
            result = DayResult(day.isoformat(), "failed", stored_rows=count, error=str(exc))
            failures.append(f"{day}: {exc}")
            stop = self.unreachable()
            if stop is None:  # the day itself is the problem: note it, go on
                problem = exc.recovery if isinstance(exc, DayProblem) else None
                try:
                    noted = quarantine.note(self.bucket, self.settings.prefix, day, str(exc), count, problem)
                    if noted["state"] == "quarantined":
                        result.outcome, result.recovery = "quarantined", noted["recovery"]
                        result.error = noted["reason"]
                except ArchiveError as again:
                    stop = str(again)
        result.seconds = round(time.perf_counter() - started, 3)
        report.days.append(result)
        _days.labels(result.outcome).inc()
        log.log(logging.INFO if result.error is None else logging.ERROR,
                "archive: %s %s, %d events (%d in the store), %d bytes, %.1f s%s", day, result.outcome,
                result.rows, result.stored_rows, result.bytes, result.seconds,
                f": {result.error}" if result.error else "",
                extra={"day": str(day), "outcome": result.outcome, "events": result.rows,
                       "stored_events": result.stored_rows, "bytes": result.bytes, "seconds": result.seconds,
                       "error": result.error})
        self.progress.end_day(asdict(result))
        return stop

    def unreachable(self) -> str | None:
        """Why S3 or the store cannot be used right now (asked after a day failed), or None."""
        problem = self.bucket.reachable()
        if problem:
            return problem
        health = self.store.health()
        return None if health.status == "ok" else f"the event store is {health.status}: {health.reason}"

    def _plan(self, day: dt.date, count: int) -> DayResult:
        try:
            found = self.bucket.head(layout.manifest_key(self.settings.prefix, day))
            action = "prune (manifest present; verified before deleting)" if found else "archive"
        except ArchiveError as exc:
            action = f"unknown ({exc})"
        return DayResult(day.isoformat(), f"planned:{action}", stored_rows=count)

    # --- one day -----------------------------------------------------------------------------------

    def archive_day(self, day: dt.date, rebuild: bool = False) -> DayResult:
        """Archive, verify and prune one day. `rebuild`: an archived object that fails verification is set
        aside and replaced from the store even when the store holds fewer rows than it did."""
        start, end = summaries.day_bounds(day)
        self.guard()
        stored = self.store.count(EventFilter(start=start, end=end))
        result = DayResult(day.isoformat(), "archived", stored_rows=stored)
        if not stored:
            result.outcome = "pruned"
            return result
        self.bucket.abort_uploads(layout.day_dir(self.settings.prefix, day))  # left by a job that was killed
        old = self.manifest(day)
        with dayfile.staging(self.settings.staging_dir) as staged:
            archived: str | None = None
            broken: str | None = None
            if old is not None:
                try:
                    archived = fetch(self.bucket, old, staged)
                    for _ in dayfile.read(archived, old, self.settings.export_batch):
                        pass
                except VerificationError as exc:
                    if stored < old["rows"] and not rebuild:
                        raise DayProblem(f"the archived object fails verification ({exc}) and the store holds "
                                         f"{stored} of its {old['rows']} rows", "rebuild") from None
                    log.warning("archived day fails verification; archiving it again from the store",
                                extra={"day": str(day), "error": str(exc)})
                    broken, old, archived = old["object"], None, None
            summary = summaries.Summary()
            if old is not None:
                exported, late = self._merge(day, archived, old, None, summary)
                if not late:
                    result.outcome = "pruned"
                    result.rows, result.bytes, result.object = old["rows"], old["bytes"], old["object"]
            if old is None or result.outcome != "pruned":
                summary = summaries.Summary()
                writer = dayfile.DayWriter(day, self.settings.format, staged)
                try:
                    exported, late = self._merge(day, archived, old, writer, summary)
                    file = writer.finish(self.settings.export_batch)
                finally:
                    writer.discard()
                written = self._upload(file)
                self._replace(day, old["object"] if old else None, broken, written["object"])
                result.outcome = "merged" if old is not None else "archived"
                result.rows, result.bytes, result.object = written["rows"], written["bytes"], written["object"]
                _events.inc(written["rows"])
                _bytes.inc(written["bytes"])
        if exported != stored:
            raise ArchiveError(f"{exported - stored:+d} events arrived for the day during its archive; it is kept "
                               "and archived again next run")
        self.store.write_aggregates(summary.rows())
        now_stored = self.store.count(EventFilter(start=start, end=end))
        if now_stored != stored:
            raise ArchiveError(f"{now_stored - stored:+d} events arrived for the day during its archive; it is "
                               "kept and archived again next run")
        self.guard()
        self.store.delete(start, end)
        _pruned.inc(stored)
        return result

    def _merge(self, day: dt.date, archived: str | None, old: dict[str, Any] | None,
               writer: dayfile.DayWriter | None, summary: summaries.Summary) -> tuple[int, int]:
        """The archived records (if any) and the store's, merged in (time_fired, event_id) order into `writer`
        and `summary`; returns (rows the store exported, rows only the store had)."""
        ours = _flat(dayfile.read(archived, old, self.settings.export_batch)) if archived and old else iter(())
        theirs = _flat(self.export(day))
        exported = late = 0
        out: list[dict[str, Any]] = []
        a, s = next(ours, None), next(theirs, None)
        previous: tuple[str, str] | None = None
        while a is not None or s is not None:
            if s is not None and (a is None or _key(s) <= _key(a)):
                if previous is not None and _key(s) <= previous:
                    raise ArchiveError(f"the store exported {day} out of order at {_key(s)}")
                previous = _key(s)
                exported += 1
                if a is not None and _key(s) == _key(a):
                    record, a = a, next(ours, None)  # archived already: keep the archived bytes
                else:
                    record = s
                    late += 1
                s = next(theirs, None)
            else:
                record, a = a, next(ours, None)
            out.append(record)
            if len(out) >= self.settings.export_batch:
                self._emit(out, writer, summary)
                out = []
        self._emit(out, writer, summary)
        return exported, late

    def _emit(self, records: list[dict[str, Any]], writer: dayfile.DayWriter | None,
              summary: summaries.Summary) -> None:
        if records:
            summary.add(records)
            if writer is not None:
                writer.add(records)
            self.progress.advance(len(records))

    def _upload(self, file: dayfile.DayFile) -> dict[str, Any]:
        """Upload the staged day, verify the stored bytes, then write its manifest (the 'done' mark)."""
        key = layout.data_key(self.settings.prefix, file.day, file.sha256, file.codec.EXTENSION)
        manifest = dayfile.manifest(file, key, getattr(self.store, "backend", "?"))
        self.bucket.upload_file(file.path, key, file.codec.CONTENT_TYPE,
                                {"sha256": file.sha256, "rows": str(file.rows), "format": file.codec.NAME})
        try:
            verify_stored(self.bucket, manifest)
        except VerificationError:
            with contextlib.suppress(ArchiveError):  # no manifest names it: leave no orphan behind
                self.bucket.delete(key)
            raise
        manifest_key = layout.manifest_key(self.settings.prefix, file.day)
        body = jsoncodec.dumps(manifest)
        self.bucket.put(manifest_key, body, "application/json")
        if self.bucket.get(manifest_key) != body:
            raise VerificationError(f"{manifest_key}: reads back different from what was written")
        return manifest

    def _replace(self, day: dt.date, old: str | None, broken: str | None, written: str) -> None:
        """The new manifest names `written`: delete the object it superseded; keep a broken one aside."""
        if broken and broken != written and self.bucket.head(broken) is not None:
            target = layout.aside_key(self.settings.prefix, day, broken, dt.datetime.now(dt.UTC))
            self.bucket.move(broken, target)
            log.warning("an archived object failed verification and was set aside", extra={"day": str(day),
                        "object": broken, "kept_at": target})
        if old and old != written:
            self.bucket.delete(old)

    def _prune_aggregates(self, now: dt.datetime, report: Report) -> int:
        before = summaries.day_bounds((now - dt.timedelta(days=self.settings.summary_retention_days)).date())[0]
        try:
            return sum(self.store.delete_aggregates(period, before) for period in ("hour", "day"))
        except StoreError as exc:
            report.error = report.error or f"pruning aggregates: {exc}"
            return 0
