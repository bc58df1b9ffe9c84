"""retention-archive (cron, daily): archives days older than RAW_RETENTION_DAYS to S3 as verified gzip
NDJSON with a manifest per day, keeps hourly/daily aggregates, then prunes the archived rows.

POST (empty body, the cron run) or POST /run      archive, verify, aggregate, prune; `?dry_run=1`: the plan only
POST /restore?from=YYYY-MM-DD&to=YYYY-MM-DD       archived days back into the event store (idempotent)
GET  /status                                      archived days, objects, bytes; last run, next run, errors
Without ARCHIVE_S3_ENDPOINT and ARCHIVE_S3_BUCKET no S3 is touched: /run and /restore answer 409, the cron's
run reports itself skipped, /status says why.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
import time
from typing import Any

from ingestor import store
from ingestor.archive import restore, settings, status
from ingestor.archive.errors import ArchiveError
from ingestor.archive.run import NOT_CONFIGURED, Archiver
from ingestor.archive.s3 import Bucket
from ingestor.responses import BadRequest, HTTPError, Unavailable, error_response, json_response
from ingestor.store.model import StoreError

UNSIGNED_READS = ("/status",)  # the dashboard and health read it; every other call needs the connectors' signature
_one_at_a_time = threading.Lock()  # a run and a restore in this replica never overlap
HEALTH_STATUS_CACHE_S = 60  # health checks come every few seconds; listing the bucket need not
_health_cache: tuple[float, dict[str, Any]] | None = None


@functools.cache
def archiver() -> Archiver:
    current = settings.load()
    return Archiver(store.open_event_store(store.default_url()), Bucket(current), current)


def _flag(query: Any, name: str) -> bool:
    return str(query.get(name, "")).lower() in ("1", "true", "yes")


def _date(query: Any, name: str) -> dt.date:
    value = query.get(name)
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise BadRequest(f"{name}: expected a date YYYY-MM-DD, got {value!r}", code="bad_date") from None


def _configured() -> Archiver:
    current = archiver()
    if not current.settings.enabled:
        raise HTTPError(409, "archive_not_configured", NOT_CONFIGURED)
    return current


def _run(dry_run: bool, scheduled: bool) -> dict[str, Any]:
    global _health_cache
    current = archiver() if scheduled else _configured()  # the daily run of an unconfigured archive is skipped
    if not _one_at_a_time.acquire(blocking=False):
        raise HTTPError(409, "busy", "an archive run or restore is already in progress")
    try:
        report = current.run(dry_run=dry_run)
    finally:
        _one_at_a_time.release()
    body = report.as_dict()
    if not dry_run and not report.skipped:
        _health_cache = None
        problem = status.record(current.bucket, current.settings, report)
        if problem:
            body["status_not_saved"] = problem
    if report.ok:
        return json_response(body)
    return error_response(503, "archive_failed", report.error or "archive failed", details=body)


def _restore(query: Any) -> dict[str, Any]:
    first, last = _date(query, "from"), _date(query, "to") if query.get("to") else _date(query, "from")
    current = _configured()
    if not _one_at_a_time.acquire(blocking=False):
        raise HTTPError(409, "busy", "an archive run or restore is already in progress")
    try:
        return json_response(restore.restore(current, first, last))
    except ValueError as exc:
        raise BadRequest(str(exc), code="bad_range") from None
    except (ArchiveError, StoreError) as exc:
        raise Unavailable(str(exc), code="restore_failed") from None
    finally:
        _one_at_a_time.release()


def handle(event: Any, context: Any) -> dict[str, Any]:
    path = (event.path or "/").rstrip("/") or "/"
    if event.method == "GET" and path == "/status":
        current = archiver()
        return json_response(status.status(current.bucket, current.settings))
    if event.method == "POST" and path in ("/", "/run"):
        return _run(_flag(event.query, "dry_run"), scheduled=path == "/")
    if event.method == "POST" and path == "/restore":
        return _restore(event.query)
    raise HTTPError(404, "not_found", f"no route {event.method} {path}; see the function's docstring")


def health() -> dict[str, Any]:
    global _health_cache
    current = archiver()
    state = current.store.health()
    if _health_cache is None or time.monotonic() - _health_cache[0] > HEALTH_STATUS_CACHE_S:
        _health_cache = (time.monotonic(), status.status(current.bucket, current.settings))
    info = _health_cache[1]
    return {"status": state.status, "store": state.backend, "last_run": (info["last_run"] or {}).get("finished_at"),
            "last_run_ok": (info["last_run"] or {}).get("ok"), "next_run": info["next_run"],
            "archive": info["archive"], "errors": info["errors"]}
