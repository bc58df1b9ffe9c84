"""context-poll (cron): fetches the context sources that are due, caches them for weather-enrich and
publishes each value as a series for the event store.

GET /config shows the configuration (API keys masked); GET /status the providers' state.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from typing import Any

from ingestor import bus, metadata, subjects
from ingestor.context import cache, settings
from ingestor.context.poller import Poller
from ingestor.metadata.registry import MetadataDB
from ingestor.responses import json_response
from ingestor.store.model import StoreError

log = logging.getLogger("context-poll")
UNSIGNED_READS = ("/config", "/status")  # the dashboard and health read them; a poll needs the cron's signature


def _publish(records: list[dict[str, Any]]) -> None:
    if records:
        batch_id = "context-" + hashlib.blake2b("".join(r["event_id"] for r in records).encode(),
                                                digest_size=12).hexdigest()
        bus.default().publish_batch(subjects.CONTEXT_SAMPLES, batch_id, records)


@functools.cache
def poller() -> Poller:
    return Poller(settings.load(), _publish)


def _ha_config() -> dict[str, Any] | None:
    try:
        return MetadataDB(metadata.default_url()).ha_config()
    except StoreError as exc:
        log.warning("HA config unreadable; location from env only", extra={"error": str(exc)})
        return None


def _status() -> dict[str, Any]:
    known = cache.read_all()
    current = poller()
    return {name: {"provider": source.provider, "breaker": current.breakers[name].state,
                   "failures": current.breakers[name].failures, "last_error": current.breakers[name].last_error,
                   "fetched_at": (known.get(name) or {}).get("fetched_at"), "last_poll": known.get(f"status.{name}")}
            for name, source in current.settings.sources.items()}


def handle(event: Any, context: Any) -> dict[str, Any]:
    path = event.path.rstrip("/")
    if event.method == "GET" and path == "/config":
        return json_response(settings.describe(poller().settings))
    if event.method == "GET" and path == "/status":
        return json_response(_status())
    outcomes = poller().poll(settings.location(_ha_config()))
    return json_response({o.source: {"result": o.result, "error": o.error, "samples": len(o.records)}
                          for o in outcomes})


def health() -> dict[str, Any]:
    current = poller()
    degraded = [name for name, b in current.breakers.items() if b.state != "closed"]
    return {"status": "ok", "degraded": degraded, "problems": current.settings.problems}
