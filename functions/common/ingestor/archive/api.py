"""retention-archive's HTTP API (the cron's daily run, manual runs, restores and recoveries, the status).

POST (empty body, the cron run) or POST /run      archive, verify, aggregate, prune; `?dry_run=true`: the plan only
POST /restore?from=YYYY-MM-DD&to=YYYY-MM-DD       archived days back into the event store (idempotent)
POST /recover?day=YYYY-MM-DD&action=repair|rebuild  resolve a quarantined day (its status names the action)
GET  /status                                      running job, archived days, quarantine, last/next run, errors

The configuration is checked when the function starts (`start`: a bad value is named in /status, /_/health and
every answer) and the bucket is prepared then. Run, restore and recover hold the archive's NATS lease: a second
one, on any replica or shell, is a Conflict naming the holder. Without ARCHIVE_S3_ENDPOINT and ARCHIVE_S3_BUCKET
no S3 is touched: /run, /restore and /recover are a Conflict, the cron's run reports itself skipped.
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
from ingestor.httpapi import Api, Param, Request, Route
from ingestor.responses import error_response, json_response
from ingestor.store.model import StoreError

T = TypeVar("T")
log = logging.getLogger(__name__)
UNSIGNED_READS = ("/status", "/openapi.json")  # the dashboard and health read it; run, restore and recover change data
HEALTH_STATUS_CACHE_S = 60  # health checks come every few seconds; listing the bucket need not
_health_cache: tuple[float, dict[str, Any]] | None = None
_jobs: Jobs | None = None
_config_error: str | None = "not started"


def start() -> None:
    """Read and check the configuration once; prepare the bucket in the background."""
    global _jobs, _config_error, _health_cache
    _health_cache = None
    try:
        _jobs, _config_error = Jobs.load(), None
    except ConfigError as exc:
        log.error("retention-archive is misconfigured: nothing is archived or pruned", extra={"error": str(exc)})
        _jobs, _config_error = None, str(exc)
        return
    threading.Thread(target=_jobs.prepare, name="archive-bucket", daemon=True).start()


def jobs() -> Jobs:
    if _jobs is None:
        raise Unavailable(f"configuration error: {_config_error}", code="archive_misconfigured")
    return _jobs


def _configured() -> Jobs:
    current = jobs()
    if not current.settings.enabled:
        raise Conflict(NOT_CONFIGURED, code="archive_not_configured")
    return current


def _date(value: str | None, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise Invalid(f"{name}: expected a date YYYY-MM-DD, got {value!r}", code="bad_date") from None


def _job(call: Callable[[], T], bad: str, failed: str) -> T:
    """A job that changes data: a bad argument is Invalid, a held lease a Conflict naming its holder, a failure
    Unavailable."""
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


def _restore(req: Request) -> dict[str, Any]:
    first = _date(req.params["from"], "from")
    last = _date(req.params["to"], "to") if req.params["to"] else first
    current = _configured()
    result = _job(lambda: current.restore(first, last), "bad_range", "restore_failed")
    if result["ok"]:
        return json_response(result)
    return error_response(503, "restore_failed", result["error"], details=result)


def _recover(req: Request) -> dict[str, Any]:
    global _health_cache
    day, action = _date(req.params["day"], "day"), req.params["action"] or ""
    current = _configured()
    result = _job(lambda: current.recover(day, action), "bad_action", "recover_failed")
    _health_cache = None
    return result


def _status(_: Request) -> dict[str, Any]:
    if _jobs is None:
        return {"config": None, "state": "misconfigured", "running": None, "last_run": None, "next_run": None,
                "archive": None, "quarantined": [], "failing": [], "errors": [f"configuration error: {_config_error}"]}
    return _jobs.status()


DRY_RUN = Param("dry_run", "the plan only: nothing is archived or pruned", kind="boolean", default=False)
API = Api("HA Ingestor retention-archive", "1.0", __doc__ or "", [
    Route("POST", "/", lambda r: _run(r.params["dry_run"], scheduled=True), "The daily run (the cron's call)",
          params=(DRY_RUN,), tag="archive"),
    Route("POST", "/run", lambda r: _run(r.params["dry_run"], scheduled=False), "Archive, verify, aggregate, prune",
          params=(DRY_RUN,), tag="archive"),
    Route("POST", "/restore", _restore, "Archived days back into the event store",
          params=(Param("from", "first day, YYYY-MM-DD"), Param("to", "last day, YYYY-MM-DD (default: from)")),
          tag="archive"),
    Route("POST", "/recover", _recover, "Resolve a quarantined day (its status names the action)",
          params=(Param("day", "the quarantined day, YYYY-MM-DD"), Param("action", "repair or rebuild")),
          tag="archive"),
    Route("GET", "/status", _status, "Running job, archived days, quarantine, last and next run, errors",
          tag="archive"),
])


def health() -> dict[str, Any]:
    global _health_cache
    if _jobs is None:
        return {"status": "unhealthy", "errors": [f"configuration error: {_config_error}"]}
    state = _jobs.store.health()
    if _health_cache is None or time.monotonic() - _health_cache[0] > HEALTH_STATUS_CACHE_S:
        _health_cache = (time.monotonic(), _jobs.status())
    info = _health_cache[1]
    return {"status": state.status, "store": state.backend, "state": info["state"],
            "last_run": (info["last_run"] or {}).get("finished_at"), "last_run_ok": (info["last_run"] or {}).get("ok"),
            "next_run": info["next_run"], "archive": info["archive"],
            "quarantined": [q["day"] for q in info["quarantined"]], "errors": info["errors"]}
