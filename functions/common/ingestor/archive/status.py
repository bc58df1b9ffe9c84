"""What has been archived (days, objects, bytes), what is running now, the last run, the next run, the days
that failed or are quarantined (with their recovery step), and every error.

The last run's report is kept in the bucket (`_status/last_run.json`), so every replica, the health
function and the dashboard see the same, and in memory, so it is shown even while S3 is unreachable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from ingestor import jsoncodec
from ingestor.archive import layout, quarantine, schedule
from ingestor.archive.errors import ArchiveError
from ingestor.archive.progress import iso
from ingestor.archive.run import NOT_CONFIGURED, Report
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


def status(bucket: Bucket, settings: Settings, now: dt.datetime | None = None,
           running: Callable[[], dict[str, Any] | None] | None = None) -> dict[str, Any]:
    """`running` reads the live lease (who runs what, the current day); its failure is listed as an error."""
    now = now or dt.datetime.now(dt.UTC)
    upcoming = schedule.next_run(settings.schedule, now)
    out: dict[str, Any] = {"config": settings.describe(), "next_run": iso(upcoming) if upcoming else None,
                           "state": "idle", "running": None, "last_run": dict(_last) or None, "archive": None,
                           "quarantined": [], "failing": [], "errors": []}
    if not settings.enabled:
        out["errors"].append(NOT_CONFIGURED)
        out["state"] = "off"
        return out
    if running is not None:
        try:
            out["running"] = running()
            out["state"] = "running" if out["running"] else "idle"
        except ArchiveError as exc:
            out["errors"].append(f"running state unknown: {exc}")
    try:
        bucket.ensure()
        stored = bucket.get(layout.status_key(settings.prefix))
        if stored is not None:
            out["last_run"] = jsoncodec.loads(stored)
        objects = manifests = size = 0
        first = last = None
        for key, length in bucket.list(f"{settings.prefix}events/"):
            objects += 1
            size += length
            if key.endswith("/manifest.json"):
                manifests += 1
                day = layout.day_of(key)
                first = min(first or day, day) if day else first
                last = max(last or day, day) if day else last
        out["archive"] = {"days": manifests, "objects": objects, "bytes": size,
                          "first_day": first.isoformat() if first else None,
                          "last_day": last.isoformat() if last else None}
        for troubled in quarantine.read_all(bucket, settings.prefix):
            if troubled.get("state") == "quarantined":
                out["quarantined"].append(troubled)
                step = (troubled.get("recovery") or {}).get("cli", "see its recovery")
                out["errors"].append(f"{troubled['day']} quarantined: {troubled.get('reason')}; recover: {step}")
            else:
                out["failing"].append(troubled)
    except ArchiveError as exc:
        out["errors"].append(str(exc))
    if out["last_run"] and out["last_run"].get("error"):
        out["errors"].append(f"last run: {out['last_run']['error']}")
    return out
