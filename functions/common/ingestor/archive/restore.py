"""Restore: read archived days back into the event store, idempotently (writes are idempotent on event_id).

Each day's object is downloaded to a staged file and checked against its manifest's size and sha256 before
a row is written; rows then go to the store batch by batch (memory holds one batch), their content checked
against the manifest as they are decoded, and the day's count in the store is checked afterwards. Records
come back exactly as the store returned them when they were archived (attributes' key order included).

A day that fails is reported with what it wrote, and the next days go on, unless S3 or the store is
unreachable: then the rest are reported as not attempted. Restored days older than RAW_RETENTION_DAYS are
pruned again by the next run (their archive still verifies, so nothing is uploaded): raise
RAW_RETENTION_DAYS to keep them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ingestor.archive import dayfile, summaries
from ingestor.archive.errors import ArchiveError, DayProblem
from ingestor.archive.run import NOT_CONFIGURED, Archiver
from ingestor.archive.verify import fetch
from ingestor.store.model import EventFilter, StoreError

MAX_DAYS = 3660


def days(first: dt.date, last: dt.date) -> list[dt.date]:
    if last < first:
        raise ValueError("`to` is before `from`")
    if (last - first).days >= MAX_DAYS:
        raise ValueError(f"at most {MAX_DAYS} days per restore")
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def restore(archiver: Archiver, first: dt.date, last: dt.date) -> dict[str, Any]:
    """Every archived day in [first, last] back into the store, one entry per day in `days`: restored (rows,
    object), not archived, failed (error, rows written before it failed, the recovery if there is one), or
    not attempted. `ok` is false when any day failed."""
    if not archiver.settings.enabled:  # never read a default bucket: whoever owns it would feed the store
        raise ArchiveError(NOT_CONFIGURED)
    wanted = days(first, last)
    result: dict[str, Any] = {"from": first.isoformat(), "to": last.isoformat(), "days": [], "restored_rows": 0,
                              "ok": True, "error": None}
    archiver.progress.plan(len(wanted))
    stop: str | None = None
    for day in wanted:
        if stop:
            result["days"].append({"day": day.isoformat(), "outcome": "not attempted"})
            continue
        archiver.progress.start_day(day)
        entry: dict[str, Any] = {"day": day.isoformat(), "outcome": "restored", "rows": 0}
        try:
            archiver.guard()
            manifest = archiver.manifest(day)
            if manifest is None:
                entry = {"day": day.isoformat(), "outcome": "not archived"}
            else:
                entry["object"] = manifest["object"]
                _restore_day(archiver, day, manifest, entry)
                result["restored_rows"] += entry["rows"]
        except (ArchiveError, StoreError) as exc:
            entry.update(outcome="failed", error=str(exc))
            if isinstance(exc, DayProblem):
                entry["recovery"] = f"python -m ingestor.archive recover {day.isoformat()} --action {exc.recovery}"
            result["ok"] = False
            result["error"] = result["error"] or f"{day}: {exc}"
            stop = archiver.unreachable()
        archiver.progress.end_day(entry)
        result["days"].append(entry)
    if stop:
        result["error"] += f"; stopped there: {stop}"
    return result


def _restore_day(archiver: Archiver, day: dt.date, manifest: dict[str, Any], entry: dict[str, Any]) -> None:
    with dayfile.staging(archiver.settings.staging_dir) as staged:
        path = fetch(archiver.bucket, manifest, staged)
        for records in dayfile.read(path, manifest, archiver.settings.export_batch):
            archiver.store.write(records)
            entry["rows"] += len(records)
            archiver.progress.advance(len(records))
    start, end = summaries.day_bounds(day)
    present = archiver.store.count(EventFilter(start=start, end=end))
    if present < manifest["rows"]:
        raise ArchiveError(f"{present} events of {day} in the store after restoring {manifest['rows']}")
