"""query: every read endpoint (events, history, statistics, analytics, devices, entities, areas, sports)
and its OpenAPI document at GET /openapi.json. The routes live in ingestor.queries.routes."""

from __future__ import annotations

from typing import Any

from ingestor.queries import routes


def handle(event: Any, context: Any) -> dict[str, Any]:
    return routes.api().handle(event)


def health() -> dict[str, Any]:
    return routes.health()
