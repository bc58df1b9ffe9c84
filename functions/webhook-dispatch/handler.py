"""webhook-dispatch: sends each event of ha.events.enriched and sports.events to the matching webhooks, with
retries from the database (ingestor.webhooks.dispatch_api)."""

from __future__ import annotations

from ingestor.webhooks import dispatch_api

start, handle, health = dispatch_api.start, dispatch_api.handle, dispatch_api.health
