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
from ingestor.webhooks.dispatch import Dispatcher, Summary
from ingestor.webhooks.store import Webhook, WebhookStore


@functools.cache
def dispatcher() -> Dispatcher:
    return Dispatcher(WebhookStore(metadata.default_url()), settings.load())


def start() -> None:
    dispatcher().start_sweeper()


def handle(event: Any, context: Any = None) -> dict[str, Any]:
    """A batch, or each batch of a coalesced call (ingestor.envelope.each). A batch handled twice (a coalesced
    call that failed at a later batch is called again message by message) queues nothing twice: a delivery's id
    is its webhook's and event's (delivery_id), recorded once (DeliveryQueue.record).

    The enabled webhooks are read once per call, not once per batch (the query took 9-14% of the function's
    samples in py-spy with none enabled), and read again for the next batch of the call only after a batch that
    matched an event: its first attempts may have changed a webhook's circuit, which decides whether the next
    batch's attempts wait for the sweeper. A webhook created, changed or disabled takes effect from the next
    call."""
    source = event.headers.get("X-Nats-Subject") or subjects.ENRICHED
    current = dispatcher()
    unchanged: list[list[Webhook]] = []  # the webhooks read for this call, while no batch has matched one

    def one(batch: envelope.Batch) -> dict[str, Any]:
        enabled = unchanged.pop() if unchanged else current.store.all_enabled()
        summary = current.dispatch(batch.events, batch.batch_id, source, enabled)
        if not summary.matched:
            unchanged.append(enabled)
        return answer(batch, summary)

    return json_response(envelope.each(event.body, event.headers, one))


def answer(batch: envelope.Batch, summary: Summary) -> dict[str, Any]:
    """A batch's part of the answer: what became of its events."""
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
