"""retention-archive (cron, daily): archives days older than RAW_RETENTION_DAYS to S3 as verified gzip NDJSON
or Parquet with a manifest per day, keeps hourly/daily aggregates, then prunes the archived rows.

POST (empty body, the cron run) or POST /run      archive, verify, aggregate, prune; `?dry_run=1`: the plan only
POST /restore?from=YYYY-MM-DD&to=YYYY-MM-DD       archived days back into the event store (idempotent)
POST /recover?day=YYYY-MM-DD&action=repair|rebuild  resolve a quarantined day (its status names the action)
GET  /status                                      running job, archived days, quarantine, last/next run, errors

The configuration is checked when the function starts (a bad value is named in /status, /_/health and every
answer) and the bucket is prepared then. Run, restore and recover hold the archive's NATS lease: a second
one, on any replica or shell, is refused with 409 naming the holder.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from ingestor.archive.errors import ArchiveError, Busy
from ingestor.archive.jobs import Jobs
from ingestor.archive.run import NOT_CONFIGURED
from ingestor.config import ConfigError
from ingestor.errors import Conflict, Invalid, Unavailable
from ingestor.responses import HTTPError, error_response, json_response
from ingestor.store.model import StoreError

T = TypeVar("T")
log = logging.getLogger(__name__)
UNSIGNED_READS = ("/status",)  # the dashboard and health read it; run, restore and recover change data
HEALTH_STATUS_CACHE_S = 60  # health checks come every few seconds; listing the bucket need not
_health_cache: tuple[float, dict[str, Any]] | None = None


def _setup() -> tuple[Jobs | None, str | None]:
    try:
        jobs = Jobs.load()
    except ConfigError as exc:
        log.error("retention-archive is misconfigured: nothing is archived or pruned", extra={"error": str(exc)})
        return None, str(exc)
    threading.Thread(target=jobs.prepare, name="archive-bucket", daemon=True).start()
    return jobs, None


JOBS, CONFIG_ERROR = _setup()


def jobs() -> Jobs:
    if JOBS is None:
        raise Unavailable(f"configuration error: {CONFIG_ERROR}", code="archive_misconfigured")
    return JOBS


def _configured() -> Jobs:
    current = jobs()
    if not current.settings.enabled:
        raise Conflict(NOT_CONFIGURED, code="archive_not_configured")
    return current


def _flag(query: Any, name: str) -> bool:
    return str(query.get(name, "")).lower() in ("1", "true", "yes")


def _date(query: Any, name: str) -> dt.date:
    value = query.get(name)
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise Invalid(f"{name}: expected a date YYYY-MM-DD, got {value!r}", code="bad_date") from None


def _job(call: Callable[[], T], bad: str, failed: str) -> T:
    """A job that changes data: a bad argument is a 400, a held lease a 409 naming its holder, a failure a 503."""
    try:
        return call()
    except ValueError as exc:
        raise Invalid(str(exc), code=bad) from None
    except Busy as exc:
        raise Conflict(str(exc), code="busy", details={"holder": exc.holder, "since": exc.since,
                                                       "action": exc.action, "day": exc.day}) from None
    except (ArchiveError, StoreError) as exc:
        raise Unavailable(str(exc), code=failed) from None


def _run(dry_run: bool, scheduled: bool) -> dict[str, Any]:
    global _health_cache
    current = jobs() if scheduled else _configured()  # the daily run of an unconfigured archive is skipped
    report, unsaved = _job(lambda: current.run(dry_run=dry_run), "bad_request", "archive_failed")
    _health_cache = None
    body = report.as_dict()
    if unsaved:
        body["status_not_saved"] = unsaved
    if report.ok:
        return json_response(body)
    return error_response(503, "archive_failed", report.error or "archive failed", details=body)


def _restore(query: Any) -> dict[str, Any]:
    first, last = _date(query, "from"), _date(query, "to") if query.get("to") else _date(query, "from")
    current = _configured()
    result = _job(lambda: current.restore(first, last), "bad_range", "restore_failed")
    if result["ok"]:
        return json_response(result)
    return error_response(503, "restore_failed", result["error"], details=result)


def _recover(query: Any) -> dict[str, Any]:
    global _health_cache
    day, action = _date(query, "day"), str(query.get("action") or "")
    current = _configured()
    result = _job(lambda: current.recover(day, action), "bad_action", "recover_failed")
    _health_cache = None
    return json_response(result)


def _status() -> dict[str, Any]:
    if JOBS is None:
        return {"config": None, "state": "misconfigured", "running": None, "last_run": None, "next_run": None,
                "archive": None, "quarantined": [], "failing": [], "errors": [f"configuration error: {CONFIG_ERROR}"]}
    return JOBS.status()


def handle(event: Any, context: Any) -> dict[str, Any]:
    path = (event.path or "/").rstrip("/") or "/"
    if event.method == "GET" and path == "/status":
        return json_response(_status())
    if event.method == "POST" and path in ("/", "/run"):
        return _run(_flag(event.query, "dry_run"), scheduled=path == "/")
    if event.method == "POST" and path == "/restore":
        return _restore(event.query)
    if event.method == "POST" and path == "/recover":
        return _recover(event.query)
    raise HTTPError(404, "not_found", f"no route {event.method} {path}; see the function's docstring")


def health() -> dict[str, Any]:
    global _health_cache
    if JOBS is None:
        return {"status": "unhealthy", "errors": [f"configuration error: {CONFIG_ERROR}"]}
    state = JOBS.store.health()
    if _health_cache is None or time.monotonic() - _health_cache[0] > HEALTH_STATUS_CACHE_S:
        _health_cache = (time.monotonic(), JOBS.status())
    info = _health_cache[1]
    return {"status": state.status, "store": state.backend, "state": info["state"],
            "last_run": (info["last_run"] or {}).get("finished_at"), "last_run_ok": (info["last_run"] or {}).get("ok"),
            "next_run": info["next_run"], "archive": info["archive"],
            "quarantined": [q["day"] for q in info["quarantined"]], "errors": info["errors"]}
