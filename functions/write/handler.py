"""write: stores each batch of event records in the event store (SQLite, PostgreSQL or InfluxDB).

Idempotent on event_id, so a redelivered batch adds nothing. While the store is down it answers
503 and the topic connector redelivers later; records the store cannot take are dead-lettered.
"""

from __future__ import annotations

import functools
from typing import Any

from ingestor import record, stage, store, subjects
from ingestor.store import retry


@functools.cache
def event_store() -> Any:
    return store.open_event_store(store.default_url())


def _check(event: Any) -> tuple[Any, str | None]:
    reason = record.problem(event)
    return (None, reason) if reason else (event, None)


def _deliver(batch_id: str, batch: list[dict[str, Any]]) -> None:
    retry.write(event_store(), batch)


def handle(event: Any, context: Any) -> dict[str, Any]:
    return stage.run(event, "write", subjects.ENRICHED, _deliver, _check)


def health() -> dict[str, Any]:
    state = event_store().health()
    return {"status": state.status, "store": state.backend, "latency_ms": state.latency_ms, "reason": state.reason}
