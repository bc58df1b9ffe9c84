"""webhook-dispatch's entry: each batch of ha.events.enriched and sports.events sent to the matching webhooks.

Deliveries are recorded before they are sent, first attempts are made within the invocation, and retries, held
deliveries and dead letters are handled by the sweeper thread from the database (ingestor.webhooks.dispatch), so
the batch is acknowledged quickly and nothing is lost across restarts. The sweeper starts with the process
(`start`, which the template calls), not with the first batch. A database that cannot be reached is
Unavailable: the connector redelivers later.
"""

from __future__ import annotations

import functools
from typing import Any

from ingestor import envelope, metadata, subjects
from ingestor.responses import json_response
from ingestor.store.model import StoreError
from ingestor.webhooks import settings
from ingestor.webhooks.dispatch import Dispatcher
from ingestor.webhooks.store import WebhookStore


@functools.cache
def dispatcher() -> Dispatcher:
    return Dispatcher(WebhookStore(metadata.default_url()), settings.load())


def start() -> None:
    dispatcher().start_sweeper()


def handle(event: Any, context: Any = None) -> dict[str, Any]:
    """A batch, or each batch of a coalesced call (ingestor.envelope.each). A batch handled twice (a coalesced
    call that failed at a later batch is called again message by message) queues nothing twice: a delivery's id
    is its webhook's and event's (delivery_id), recorded once (DeliveryQueue.record)."""
    source = event.headers.get("X-Nats-Subject") or subjects.ENRICHED
    return json_response(envelope.each(event.body, event.headers, lambda batch: dispatch(batch, source)))


def dispatch(batch: envelope.Batch, source: str) -> dict[str, Any]:
    summary = dispatcher().dispatch(batch.events, batch.batch_id, source)
    return {"batch_id": batch.batch_id, "events": summary.events, "matched": summary.matched,
            "delivered": summary.delivered, "retrying": summary.retrying, "held": summary.held,
            "dead_lettered": summary.dead_lettered, "deferred": summary.deferred,
            "duplicates": summary.duplicates, "rejected": summary.rejected, "paused": summary.paused}


def health() -> dict[str, Any]:
    current = dispatcher()
    try:
        latency = current.store.ping()
    except StoreError as exc:
        return {"status": "unhealthy", "reason": str(exc), "sweeper_alive": current.sweeper_alive()}
    return {"status": "ok", "metadata_db_ms": round(latency, 2), "sweeper_alive": current.sweeper_alive()}
