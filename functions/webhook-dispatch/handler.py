"""webhook-dispatch: sends each event of ha.events.enriched and sports.events to the matching webhooks.

Deliveries are recorded before they are sent, first attempts are made within the invocation, and
retries, held deliveries and dead letters are handled by a sweeper thread from the database
(ingestor.webhooks.dispatch), so the batch is acknowledged quickly and nothing is lost across
restarts. A database that cannot be reached is a 503: the topic connector redelivers the batch later.
"""

from __future__ import annotations

import functools
from typing import Any

from ingestor import envelope, metadata
from ingestor.responses import HTTPError, Unavailable, json_response
from ingestor.store.model import StoreError, StoreUnavailable
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
    source = event.headers.get("X-Nats-Subject") or "ha.events.enriched"
    try:
        summary = dispatcher().dispatch(batch.events, batch.batch_id, source)
    except StoreUnavailable as exc:
        raise Unavailable(str(exc)) from None
    except StoreError as exc:
        raise HTTPError(500, "store_error", str(exc)) from None
    return json_response({"batch_id": batch.batch_id, "events": summary.events, "matched": summary.matched,
                          "delivered": summary.delivered, "retrying": summary.retrying, "held": summary.held,
                          "dead_lettered": summary.dead_lettered, "deferred": summary.deferred,
                          "duplicates": summary.duplicates, "rejected": summary.rejected, "paused": summary.paused})


def health() -> dict[str, Any]:
    current = dispatcher()
    try:
        latency = current.store.ping()
    except StoreError as exc:
        return {"status": "unhealthy", "reason": str(exc), "sweeper_alive": current.sweeper_alive()}
    return {"status": "ok", "metadata_db_ms": round(latency, 2), "sweeper_alive": current.sweeper_alive()}


dispatcher()  # the sweeper starts with the process, not with the first batch
