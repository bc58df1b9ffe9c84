"""context-poll's HTTP API: the cron's POST polls the sources that are due; GET /config shows the configuration
(API keys masked), GET /status each provider's state.

A poll caches the values for weather-enrich (ingestor.context.cache) and publishes each as a series for the event
store; the place comes from CONTEXT_LATITUDE/LONGITUDE, else from Home Assistant's own config in the metadata DB.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from typing import Any

from ingestor import bus, metadata, subjects
from ingestor.context import cache, settings
from ingestor.context.poller import Poller
from ingestor.httpapi import Api, Request, Route
from ingestor.record import EventRecord
from ingestor.store.model import StoreError

log = logging.getLogger(__name__)
UNSIGNED_READS = ("/config", "/status", "/openapi.json")  # the dashboard and health read them; a poll is signed


def _publish(records: list[EventRecord]) -> None:
    if records:
        batch_id = "context-" + hashlib.blake2b("".join(r["event_id"] for r in records).encode(),
                                                digest_size=12).hexdigest()
        bus.default().publish_batch(subjects.CONTEXT_SAMPLES, batch_id, records)


@functools.cache
def poller() -> Poller:
    return Poller(settings.load(), _publish)


def _ha_config() -> dict[str, Any] | None:
    try:
        return metadata.shared().ha_config()
    except StoreError as exc:
        log.warning("HA config unreadable; location from env only", extra={"error": str(exc)})
        return None


def _status(_: Request) -> dict[str, Any]:
    """Each source's state; a source CONTEXT_SOURCES asks for that cannot run is listed with its `problem`."""
    known = cache.read_all()
    current = poller()
    current.recall(known)
    running = {name: {"provider": source.provider, "breaker": current.breakers[name].state,
                      "failures": current.breakers[name].failures, "last_error": current.breakers[name].last_error,
                      "fetched_at": (known.get(name) or {}).get("fetched_at"),
                      "last_poll": known.get(f"status.{name}")}
               for name, source in current.settings.sources.items()}
    unable = {name: {"provider": None, "breaker": None, "failures": 0, "last_error": None, "fetched_at": None,
                     "last_poll": None, "problem": problem} for name, problem in current.settings.problems.items()}
    return running | unable


def _poll(_: Request) -> dict[str, Any]:
    outcomes = poller().poll(settings.location(_ha_config()))
    return {o.source: {"result": o.result, "error": o.error, "samples": len(o.records)} for o in outcomes}


API = Api("HA Ingestor context-poll", "1.0", __doc__ or "", [
    Route("POST", "/", _poll, "Poll the sources that are due (the cron's call)", tag="context"),
    Route("GET", "/config", lambda _: settings.describe(poller().settings), "The configuration, API keys masked",
          tag="context"),
    Route("GET", "/status", _status, "Each source's provider, breaker and last poll", tag="context"),
])


def health() -> dict[str, Any]:
    current = poller()
    degraded = [name for name, b in current.breakers.items() if b.state != "closed"]
    return {"status": "ok", "degraded": degraded, "problems": current.settings.problems}
