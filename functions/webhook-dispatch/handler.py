"""webhook-dispatch: sends each event of ha.events.enriched and sports.events to the matching webhooks.

Deliveries are recorded before they are sent, first attempts are made within the invocation, and
retries are sent by a sweeper thread from the database (ingestor.webhooks.dispatch), so the batch is
acknowledged quickly and nothing is lost across restarts. A database that cannot be reached is a
503: the topic connector redelivers the batch later.
"""

from __future__ import annotations

import functools
from typing import Any

from ingestor import envelope, metadata
from ingestor.responses import json_response
from ingestor.store.model import StoreError
from ingestor.webhooks import settings
from ingestor.webhooks.dispatch import Dispatcher
from ingestor.webhooks.store import WebhookStore


@functools.cache
def dispatcher() -> Dispatcher:
    found = Dispatcher(WebhookStore(metadata.default_url()), settings.load())
    found.start_sweeper()
    return found


def handle(event: Any, context: Any) -> dict[str, Any]:
    batch = envelope.parse(event.body)
    summary = dispatcher().dispatch(batch.events)  # a database that cannot be reached: 503, redelivered later
    return json_response({"batch_id": batch.batch_id, "events": summary.events, "matched": summary.matched,
                          "delivered": summary.delivered, "retrying": summary.retrying, "failed": summary.failed,
                          "skipped_paused": summary.skipped_paused, "deferred": summary.deferred,
                          "duplicates": summary.duplicates, "paused": summary.paused})


def health() -> dict[str, Any]:
    current = dispatcher()
    try:
        latency = current.store.ping()
    except StoreError as exc:
        return {"status": "unhealthy", "reason": str(exc), "sweeper_alive": current.sweeper_alive()}
    return {"status": "ok", "metadata_db_ms": round(latency, 2), "sweeper_alive": current.sweeper_alive()}


dispatcher()  # the sweeper starts with the process, not with the first batch
