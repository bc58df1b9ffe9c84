"""Running the dispatcher's sweeper by hand, on a compressed clock, and reading its dead letters back."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ingestor import subjects
from ingestor.bus import Bus
from ingestor.webhooks.dispatch import Dispatcher
from ingestor.webhooks.settings import Settings
from ingestor.webhooks.store import WebhookStore
from tests.support.jetstream import JetStreamClient

FAST = Settings(allow_private=True, timeout_s=2, max_attempts=4, backoff_s=0.05, backoff_cap_s=0.2, pause_after=5,
                pause_after_s=30, probe_s=0.2, workers=4, inline_budget_s=10, sweep_s=0)
"""Retries in a fraction of a second; the webhook never pauses within a test unless it says so."""

SETTLE_S = 60.0
"""How long a test sweeps for its deliveries to settle: a bound on a hang, not on speed. They take 1-3 s on an idle
machine, but the work is CPU-bound: the PostgreSQL case of test_final_states took 6.6-10.4 s at load 10 on 2 cores,
and failed once against the 10 s it was given."""


@contextmanager
def running(store: WebhookStore, settings: Settings, nats: Bus) -> Iterator[Dispatcher]:
    """A dispatcher (its sweeper run by hand), stopped afterwards."""
    found = Dispatcher(store, settings, nats)
    try:
        yield found
    finally:
        found.stop()


def drain(dispatcher: Dispatcher, seconds: float = 5) -> None:
    """Run the sweeper by hand for `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        dispatcher.sweep()
        time.sleep(0.05)


def sweep_until(dispatcher: Dispatcher, done: Callable[[], Any], seconds: float) -> Any:
    """Run the sweeper by hand until `done()` is truthy (its value) or `seconds` pass (the last value)."""
    deadline = time.monotonic() + seconds
    while not (value := done()) and time.monotonic() < deadline:
        dispatcher.sweep()
        time.sleep(0.05)
    return value


def dead_letters(js: JetStreamClient, webhook_id: str) -> list[dict[str, Any]]:
    """The dead letters on ha.events.dlq for deliveries of `webhook_id`."""
    return [m for m in js.messages(subjects.DLQ) if m.get("webhook_id") == webhook_id]
