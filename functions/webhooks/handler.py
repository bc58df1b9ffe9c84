"""webhooks: the admin API for user webhooks (register, list, get, update, delete, resume, delivery log).

Routes, validation and the OpenAPI document (GET /openapi.json) live in ingestor.webhooks.api; every
route needs the `webhooks-api-key` secret when it is configured.
"""

from __future__ import annotations

import logging
from typing import Any

from ingestor.store.model import StoreError
from ingestor.webhooks import api

log = logging.getLogger("webhooks")

if not api.api_key():
    log.warning("no webhooks-api-key secret configured: the webhooks admin API is open to anyone who can reach it")


def handle(event: Any, context: Any) -> dict[str, Any]:
    return api.API.handle(event)


def health() -> dict[str, Any]:
    try:
        return {"status": "ok", "metadata_db_ms": round(api.store().ping(), 2)}
    except StoreError as exc:
        return {"status": "unhealthy", "reason": str(exc)}
