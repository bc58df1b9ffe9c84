"""webhooks: the admin API for user webhooks (register, list, get, update, delete, resume, delivery log).

Routes, validation and the OpenAPI document (GET /openapi.json) live in ingestor.webhooks.api; every
route needs the `webhooks-api-key` secret's key (without that secret, reads answer and changes are refused).
"""

from __future__ import annotations

from ingestor.webhooks import api

start, handle, health = api.API.start, api.API.handle, api.health
