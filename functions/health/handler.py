"""health: every component's status, the pipeline's lag and dead letters, and the configuration (secrets masked);
on its cron tick it evaluates the alert rules (ingestor.alerts). The routes live in ingestor.health.api; GET
/openapi.json describes them."""

from __future__ import annotations

from ingestor.health import api

UNSIGNED_READS, KEYED_CALLS = api.UNSIGNED_READS, api.KEYED_CALLS
start, handle, health = api.API.start, api.API.handle, api.health
