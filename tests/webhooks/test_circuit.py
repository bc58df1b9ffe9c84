"""The circuit of a failing webhook, in process against real receivers on 127.0.0.1 and a real nats-server:
it opens on time and repeated failures (never on one batch), a paused webhook holds its events instead of
dropping them, is probed and resumes by itself, sends what it held in order of arrival, and dead-letters what
exceeds the hold bounds with the reason. The schedule runs on a compressed clock (tests.webhooks.sweeping)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from ingestor.bus import Bus
from ingestor.webhooks.dispatch import Dispatcher
from ingestor.webhooks.store import WebhookStore
from tests.support.jetstream import JetStreamClient
from tests.webhooks.events import ha_record
from tests.webhooks.receiver import Receiver, receiving
from tests.webhooks.sweeping import FAST, SETTLE_S, dead_letters, running, sweep_until

SECRET = "circuit-test-secret-00001"
PAUSING = replace(FAST, max_attempts=50, pause_after=5, pause_after_s=0.6, probe_s=0.3)
"""Fails for 0.6 s with 5 failures in a row: paused. Retries never run out meanwhile."""


@pytest.fixture
def dispatcher(store: WebhookStore, nats: Bus) -> Iterator[Dispatcher]:
    with running(store, PAUSING, nats) as found:
        yield found


def paused_with_held(store: WebhookStore, dispatcher: Dispatcher, rx: Receiver, events: int) -> str:
    """A webhook to `rx` (answering 500), `events` dispatched, swept until it pauses; its id."""
    rx.default = 500
    hook = store.create("rx", rx.url, SECRET, {"event_types": ["*"]}, True)
    dispatcher.dispatch([ha_record(f"light.l{i:02d}", salt=hook.id) for i in range(events)])
    assert sweep_until(dispatcher, lambda: store.get(hook.id).paused, SETTLE_S), "the webhook should pause"
    return hook.id


def test_one_batch_of_failures_does_not_pause_the_webhook(store: WebhookStore, dispatcher: Dispatcher) -> None:
    with receiving(SECRET, default=500) as rx:
        hook = store.create("rx", rx.url, SECRET, {"event_types": ["*"]}, True)
        summary = dispatcher.dispatch([ha_record(f"light.l{i}") for i in range(20)])
        assert (summary.retrying, summary.paused) == (20, [])
        found = store.get(hook.id)
        assert (found.paused, found.state, found.consecutive_failures) == (False, "failing", 20)
        assert store.deliveries_by_state(hook.id) == {"pending": 20}


def test_failing_for_longer_than_the_window_pauses_the_webhook_and_holds_every_event(
        store: WebhookStore, dispatcher: Dispatcher) -> None:
    with receiving(SECRET) as rx:
        started = time.monotonic()
        webhook_id = paused_with_held(store, dispatcher, rx, 10)
        assert time.monotonic() - started >= PAUSING.pause_after_s
        paused = store.get(webhook_id)
        assert paused.state == "paused" and paused.paused_at and "HTTP 500" in (paused.paused_reason or "")
        assert store.deliveries_by_state(webhook_id) == {"held": 10}
        later = dispatcher.dispatch([ha_record("light.later", salt=webhook_id)])
        assert (later.held, later.delivered, later.retrying) == (1, 0, 0)
        assert store.attempts(webhook_id, 1, None)[0]["outcome"] == "held"
        assert store.deliveries_by_state(webhook_id) == {"held": 11}
        backlog = store.backlogs([webhook_id])[webhook_id]
        assert (backlog.pending, backlog.held) == (0, 11) and backlog.oldest_at is not None


def test_a_paused_webhook_is_probed_and_resumes_by_itself_delivering_what_it_held_in_order_of_arrival(
        store: WebhookStore, dispatcher: Dispatcher) -> None:
    with receiving(SECRET) as rx:
        webhook_id = paused_with_held(store, dispatcher, rx, 10)
        dispatcher.dispatch([ha_record(f"light.m{i:02d}", salt=webhook_id) for i in range(5)])  # held behind
        since = time.monotonic()
        probed = lambda: [r for r in rx.all() if r.at > since]  # noqa: E731
        assert sweep_until(dispatcher, lambda: len(probed()) >= 4, SETTLE_S), "it is probed again and again"
        probes = probed()
        # Sweeps run every 0.05 s: probing at each one would send these 4 within about 0.2 s; at one a probe interval
        # they span 0.9 s, less what the first took longer to arrive than the last. (Not a count over a fixed time:
        # on a loaded machine a sweep alone can outlast the 0.3 s interval.)
        assert probes[-1].at - probes[0].at >= (len(probes) - 1) * PAUSING.probe_s / 2, "one attempt per interval"
        assert {r.json()["event"]["entity_id"] for r in probes} == {"light.l00"}, "only the oldest held one is tried"
        rx.default = 200
        assert sweep_until(dispatcher, lambda: len(rx.delivered()) >= 15, SETTLE_S)
        got = [r.json()["event"]["entity_id"] for r in rx.delivered()]
        assert got == [f"light.l{i:02d}" for i in range(10)] + [f"light.m{i:02d}" for i in range(5)]
        assert len(rx.verified_ids()) == 15 and all(r.verified for r in rx.delivered())
        resumed = store.get(webhook_id)
        assert (resumed.paused, resumed.state, resumed.consecutive_failures) == (False, "active", 0)
        assert store.deliveries_by_state(webhook_id) == {"delivered": 15}


def test_events_arriving_while_held_ones_are_sent_queue_behind_them(
        store: WebhookStore, nats: Bus) -> None:
    slow = replace(PAUSING, drain_chunk=2)
    with running(store, slow, nats) as dispatcher, receiving(SECRET) as rx:
        webhook_id = paused_with_held(store, dispatcher, rx, 6)
        rx.default = 200
        assert sweep_until(dispatcher, lambda: not store.get(webhook_id).paused, SETTLE_S)
        summary = dispatcher.dispatch([ha_record("light.newcomer", salt=webhook_id)])
        assert (summary.held, summary.delivered) == (1, 0), "not sent ahead of what was held"
        assert sweep_until(dispatcher, lambda: len(rx.delivered()) >= 7, SETTLE_S)
        assert [r.json()["event"]["entity_id"] for r in rx.delivered()][-1] == "light.newcomer"


def test_resume_through_the_api_replays_the_held_events(store: WebhookStore, nats: Bus) -> None:
    never_probed = replace(PAUSING, probe_s=3600)
    with running(store, never_probed, nats) as dispatcher, receiving(SECRET) as rx:
        webhook_id = paused_with_held(store, dispatcher, rx, 8)
        rx.default = 200
        assert store.resume(webhook_id).state == "active"
        assert sweep_until(dispatcher, lambda: len(rx.delivered()) >= 8, SETTLE_S)
        assert [r.json()["event"]["entity_id"] for r in rx.delivered()] == [f"light.l{i:02d}" for i in range(8)]
        assert store.deliveries_by_state(webhook_id) == {"delivered": 8}


def test_held_deliveries_older_than_the_hold_bound_are_dead_lettered_with_the_reason(
        store: WebhookStore, nats: Bus, js: JetStreamClient) -> None:
    brief = replace(PAUSING, hold_max_age_s=1.5, probe_s=3600)
    with running(store, brief, nats) as dispatcher, receiving(SECRET) as rx:
        webhook_id = paused_with_held(store, dispatcher, rx, 4)
        assert sweep_until(dispatcher, lambda: store.deliveries_by_state(webhook_id) == {"dead_lettered": 4}, SETTLE_S)
        letters = dead_letters(js, webhook_id)
        assert sorted(e["payload"]["entity_id"] for d in letters for e in d["entries"]) == \
            [f"light.l{i:02d}" for i in range(4)]
        assert all("held longer than WEBHOOK_HOLD_MAX_AGE_S (1.5 s)" in e["reason"]
                   for d in letters for e in d["entries"])
        log = store.attempts(webhook_id, 4, None)
        assert {a["outcome"] for a in log} == {"dead_lettered"}


def test_held_deliveries_beyond_the_count_bound_are_dead_lettered_oldest_first(
        store: WebhookStore, nats: Bus, js: JetStreamClient) -> None:
    few = replace(PAUSING, hold_max=3, probe_s=3600)
    with running(store, few, nats) as dispatcher, receiving(SECRET) as rx:
        webhook_id = paused_with_held(store, dispatcher, rx, 3)
        dispatcher.dispatch([ha_record(f"light.n{i}", salt=webhook_id) for i in range(2)])
        assert sweep_until(dispatcher, lambda: store.deliveries_by_state(webhook_id).get("dead_lettered") == 2,
                           SETTLE_S)
        assert store.deliveries_by_state(webhook_id) == {"held": 3, "dead_lettered": 2}
        sweep_until(dispatcher, lambda: len(dead_letters(js, webhook_id)) == 2, SETTLE_S)
        assert sorted(e["payload"]["entity_id"] for d in dead_letters(js, webhook_id) for e in d["entries"]) == \
            ["light.l00", "light.l01"]
