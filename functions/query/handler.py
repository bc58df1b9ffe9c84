"""query: every read endpoint (events, history, statistics, analytics, devices, entities, areas, sports)
and its OpenAPI document at GET /openapi.json. The routes live in ingestor.queries.routes."""

from __future__ import annotations

from ingestor.queries import routes

API = routes.api()
handle, health = API.handle, routes.health
