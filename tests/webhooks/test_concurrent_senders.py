"""Several webhook-dispatch processes on one SQLite metadata DB take turns instead of failing: a transaction
that reads and then writes while another process has written meanwhile got "database is locked" at once,
whatever busy_timeout, and the batch a 503 (seen under load in the receiver-fault suite)."""

from __future__ import annotations

from pathlib import Path

from ingestor.webhooks.dispatch import delivery_id
from ingestor.webhooks.queue import DeliveryQueue
from ingestor.webhooks.store import WebhookStore
from tests.support.concurrently import concurrently
from tests.webhooks.sweeping import FAST


def test_senders_with_their_own_connections_record_and_claim_at_once_without_database_is_locked(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/metadata.db"
    hook = WebhookStore(url).create("rx", "http://127.0.0.1:9/hook", "s" * 20, {"event_types": ["*"]}, True)
    recorded: list[int] = []

    def sender(n: int) -> None:
        queue = DeliveryQueue(WebhookStore(url), FAST)  # its own engine: another process, as far as SQLite goes
        for batch in range(15):
            rows = [{"delivery_id": delivery_id(hook.id, f"e{n}-{batch}-{i}"), "webhook_id": hook.id,
                     "event_id": f"e{n}-{batch}-{i}", "event_type": "state_changed", "payload": "{}",
                     "ordinal": i} for i in range(20)]
            recorded.append(len(queue.record(rows, later={hook.id}).claimed) + 20)
            queue.release(queue.claim_due(50, 50))

    errors = concurrently(sender, 6)
    assert not errors, errors[:3]
    assert sum(recorded) == 6 * 15 * 20
    assert WebhookStore(url).deliveries_by_state(hook.id) == {"pending": 6 * 15 * 20}
