"""The sweeper's round with nothing to do: one read says so (DeliveryQueue.idle), and anything a full round would
act on makes the round a full one."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import update

from ingestor.bus import Bus
from ingestor.webhooks.dispatch import Dispatcher
from ingestor.webhooks.queue import DeliveryQueue
from ingestor.webhooks.schema import webhook_deliveries, webhooks
from ingestor.webhooks.store import DEAD, DELIVERED, HELD, PENDING, SKIPPED, WebhookStore
from tests.support.jetstream import JetStreamClient
from tests.webhooks.receiver import receiving
from tests.webhooks.sweeping import FAST, dead_letters, sweep_until

SECRET = "sweeper-idle-secret-0001"


def one_delivery(store: WebhookStore, state: str, dlq_at: str | None = None) -> str:
    """A webhook with one delivery in `state`; its id. The delivery's id is the webhook's own: the module's
    nats-server keeps every dead letter's id, and drops a second one under the same id as a duplicate."""
    hook = store.create("rx", "http://127.0.0.1:9/", SECRET, {"event_types": ["*"]}, True)
    DeliveryQueue(store, FAST).record([{"delivery_id": f"dlv_{hook.id}", "webhook_id": hook.id, "event_id": "e1",
                                        "event_type": "state_changed", "payload": "{}", "ordinal": 0}])
    with store.transaction(write=True) as conn:
        conn.execute(update(webhook_deliveries).values(state=state, dlq_at=dlq_at, lease_until=None))
    return hook.id


def test_no_webhook_and_no_delivery_is_idle(store: WebhookStore) -> None:
    assert DeliveryQueue(store, FAST).idle()


@pytest.mark.parametrize(("state", "dlq_at", "idle"), [
    (PENDING, None, False), (HELD, None, False), (DEAD, None, False),
    (DEAD, "2026-12-02T00:00:00.000000Z", True), (DELIVERED, None, True), (SKIPPED, None, True)])
def test_only_finished_deliveries_leave_the_sweeper_idle(
        store: WebhookStore, state: str, dlq_at: str | None, idle: bool) -> None:
    one_delivery(store, state, dlq_at)
    assert DeliveryQueue(store, FAST).idle() is idle


def test_a_paused_webhook_keeps_the_sweeper_busy_even_with_nothing_held(store: WebhookStore) -> None:
    hook_id = one_delivery(store, DELIVERED)
    with store.transaction(write=True) as conn:
        conn.execute(update(webhooks).where(webhooks.c.id == hook_id).values(paused=True))
    assert not DeliveryQueue(store, FAST).idle()


def test_an_unpublished_dead_letter_alone_is_published_by_the_next_round(
        store: WebhookStore, dispatcher: Dispatcher, js: JetStreamClient) -> None:
    hook_id = one_delivery(store, DEAD)
    assert sweep_until(dispatcher, lambda: dead_letters(js, hook_id), 10)
    assert DeliveryQueue(store, FAST).idle()


def test_an_idle_round_claims_nothing_and_the_next_one_sends_what_arrived(
        store: WebhookStore, nats: Bus) -> None:
    with receiving(SECRET) as rx:
        store.create("rx", rx.url, SECRET, {"event_types": ["*"]}, True)
        hurried = Dispatcher(store, FAST, nats)
        try:
            assert hurried.sweep().events == 0
            hurried.queue.record([{"delivery_id": f"dlv_{uuid.uuid4().hex}", "webhook_id": store.all_enabled()[0].id,
                                   "event_id": "e2", "event_type": "state_changed", "ordinal": 0,
                                   "payload": '{"entity_id": "light.a"}'}], later={store.all_enabled()[0].id})
            assert sweep_until(hurried, rx.delivered, 10)
        finally:
            hurried.stop()
