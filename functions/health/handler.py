"""health: every component's status, the pipeline's lag and dead letters, and the configuration (secrets masked).
The routes live in ingestor.health.api; GET /openapi.json describes them."""

from __future__ import annotations

from ingestor.health import api

handle, health = api.API.handle, api.health
