"""What has been archived (days, objects, bytes), the last run, the next run and its errors.

The last run's report is kept in the bucket (`_status/last_run.json`), so every replica, the health
function and the dashboard see the same, and in memory, so it is shown even while S3 is unreachable.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ingestor import jsoncodec
from ingestor.archive import layout, schedule
from ingestor.archive.errors import ArchiveError
from ingestor.archive.run import NOT_CONFIGURED, Report, iso
from ingestor.archive.s3 import Bucket
from ingestor.archive.settings import Settings

_last: dict[str, Any] = {}


def record(bucket: Bucket, settings: Settings, report: Report) -> str | None:
    """Keep a (non-dry) run's report; returns why it could not be written to the bucket, if it could not."""
    summary = report.as_dict()
    summary["days"] = [d for d in summary["days"] if d["outcome"] != "pruned" or d["bytes"]][-50:]
    _last.clear()
    _last.update(summary)
    try:
        bucket.put(layout.status_key(settings.prefix), jsoncodec.dumps(summary), "application/json")
    except ArchiveError as exc:
        return str(exc)
    return None


def status(bucket: Bucket, settings: Settings, now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or dt.datetime.now(dt.UTC)
    upcoming = schedule.next_run(settings.schedule, now)
    out: dict[str, Any] = {"config": settings.describe(), "next_run": iso(upcoming) if upcoming else None,
                           "last_run": dict(_last) or None, "archive": None, "errors": []}
    if not settings.enabled:
        out["errors"].append(NOT_CONFIGURED)
        return out
    try:
        stored = bucket.get(layout.status_key(settings.prefix))
        if stored is not None:
            out["last_run"] = jsoncodec.loads(stored)
        objects = days = manifests = size = 0
        first = last = None
        for key, length in bucket.list(f"{settings.prefix}events/"):
            objects += 1
            size += length
            if key.endswith("/manifest.json"):
                manifests += 1
                day = layout.day_of(key)
                first = min(first or day, day) if day else first
                last = max(last or day, day) if day else last
        days = manifests
        out["archive"] = {"days": days, "objects": objects, "bytes": size,
                          "first_day": first.isoformat() if first else None,
                          "last_day": last.isoformat() if last else None}
    except ArchiveError as exc:
        out["errors"].append(str(exc))
    if out["last_run"] and out["last_run"].get("error"):
        out["errors"].append(f"last run: {out['last_run']['error']}")
    return out
