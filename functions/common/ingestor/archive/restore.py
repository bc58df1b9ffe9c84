"""Restore: read archived days back into the event store, idempotently (writes are idempotent on event_id).

Each day's object is verified against its manifest before a row is written, and the day's count in the
store is checked afterwards. Restored days older than RAW_RETENTION_DAYS are pruned again by the next run
(their archive still verifies, so nothing is uploaded): raise RAW_RETENTION_DAYS to keep them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ingestor.archive import summaries
from ingestor.archive.errors import ArchiveError
from ingestor.archive.run import NOT_CONFIGURED, Archiver
from ingestor.archive.verify import verify
from ingestor.store.model import EventFilter

MAX_DAYS = 3660


def days(first: dt.date, last: dt.date) -> list[dt.date]:
    if last < first:
        raise ValueError("`to` is before `from`")
    if (last - first).days >= MAX_DAYS:
        raise ValueError(f"at most {MAX_DAYS} days per restore")
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def restore(archiver: Archiver, first: dt.date, last: dt.date, batch: int = 5000) -> dict[str, Any]:
    """Every archived day in [first, last] back into the store; days without a manifest are listed as such."""
    if not archiver.settings.enabled:  # never read a default bucket: whoever owns it would feed the store
        raise ArchiveError(NOT_CONFIGURED)
    result: dict[str, Any] = {"from": first.isoformat(), "to": last.isoformat(), "days": [], "restored_rows": 0}
    for day in days(first, last):
        manifest = archiver.manifest(day)
        if manifest is None:
            result["days"].append({"day": day.isoformat(), "outcome": "not archived"})
            continue
        records = verify(archiver.bucket, manifest)
        for i in range(0, len(records), batch):
            archiver.store.write(records[i:i + batch])
        start, end = summaries.day_bounds(day)
        present = archiver.store.count(EventFilter(start=start, end=end))
        if present < manifest["rows"]:
            raise ArchiveError(f"{day}: {present} events in the store after restoring {manifest['rows']}")
        result["days"].append({"day": day.isoformat(), "outcome": "restored", "rows": manifest["rows"],
                               "object": manifest["object"]})
        result["restored_rows"] += manifest["rows"]
    return result
