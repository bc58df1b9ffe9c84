"""context-poll (cron): fetches the context sources that are due, caches them for weather-enrich and publishes
each value as a series for the event store. The routes live in ingestor.context.api."""

from __future__ import annotations

from ingestor.context import api

UNSIGNED_READS = api.UNSIGNED_READS
handle, health = api.API.handle, api.health
