"""Writing to a store with retries for transient outages, then Unavailable so the connector redelivers."""

from __future__ import annotations

from typing import Any

from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from ingestor import metrics
from ingestor.errors import Refused, Unavailable
from ingestor.store.model import StoreError, StoreUnavailable
from ingestor.store.protocol import EventStore

_outcomes = metrics.counter("store_writes_total", "Batches written to the event store, by outcome", ["outcome"])
_events = metrics.counter("store_events_written_total", "Events handed to the event store")


@retry(retry=retry_if_exception_type(StoreUnavailable), stop=stop_after_attempt(3),
       wait=wait_exponential(multiplier=0.2, max=2), reraise=True)
def _write(store: EventStore, records: list[dict[str, Any]]) -> None:
    store.write(records)


def write(store: EventStore, records: list[dict[str, Any]], batches: int = 1) -> None:
    """Write a batch (or the records of `batches` batches at once): a store still down after three tries is
    Unavailable, a refusal Refused (dead-lettered)."""
    try:
        _write(store, records)
    except StoreUnavailable as exc:
        _outcomes.labels("unavailable").inc(batches)
        raise Unavailable(str(exc), code="store_unavailable") from None
    except StoreError as exc:
        _outcomes.labels("refused").inc(batches)
        raise Refused(str(exc), code="store_refused") from None
    _outcomes.labels("written").inc(batches)
    _events.inc(len(records))
