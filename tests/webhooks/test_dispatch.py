"""Dispatch in process against real HTTP receivers on 127.0.0.1: matching, retries, exactly once, dead letters."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from ingestor import subjects
from ingestor.bus import Bus
from ingestor.webhooks.dispatch import Dispatcher
from ingestor.webhooks.store import WebhookStore
from tests.support.jetstream import JetStreamClient
from tests.webhooks.events import ha_record, sports_event
from tests.webhooks.receiver import receiving
from tests.webhooks.sweeping import FAST, SETTLE_S, dead_letters, drain, running, sweep_until

SECRET = "dispatch-test-secret-0001"


def test_only_matching_events_arrive_signed(store: WebhookStore, dispatcher: Dispatcher) -> None:
    with receiving(SECRET) as lights:
        store.create("lights", lights.url, SECRET, {"domains": ["light"]}, True)
        events = [ha_record("light.kitchen"), ha_record("sensor.temp"), ha_record("light.hall")]
        summary = dispatcher.dispatch(events)
        assert (summary.matched, summary.delivered) == (2, 2)
        got = lights.all()
        assert sorted(r.json()["event"]["entity_id"] for r in got) == ["light.hall", "light.kitchen"]
        assert all(r.verified for r in got)
        assert {r.headers["X-Webhook-Event"] for r in got} == {"state_changed"}
        assert {r.headers["X-Webhook-Id"] for r in got} == {r.json()["delivery_id"] for r in got}


def test_a_receiver_that_fails_then_recovers_gets_the_event_exactly_once(
        store: WebhookStore, dispatcher: Dispatcher) -> None:
    with receiving(SECRET, script=[503, 503]) as flaky:
        hook = store.create("flaky", flaky.url, SECRET, {"event_types": ["*"]}, True)
        summary = dispatcher.dispatch([ha_record("light.kitchen")])
        assert summary.retrying == 1
        assert sweep_until(dispatcher, flaky.delivered, SETTLE_S)
        drain(dispatcher, 0.5)  # and nothing after it
        assert [r.answered for r in flaky.all()] == [503, 503, 200]
        assert len({r.headers["X-Webhook-Id"] for r in flaky.all()}) == 1  # the same id on every attempt
        assert len(flaky.delivered()) == 1 and flaky.delivered()[0].verified
        log = store.attempts(hook.id, 10, None)
        assert [(a["attempt"], a["outcome"], a["status_code"]) for a in log] == [
            (3, "delivered", 200), (2, "retrying", 503), (1, "retrying", 503)]
        assert store.get(hook.id).consecutive_failures == 0


def test_a_redelivered_batch_sends_nothing_twice(store: WebhookStore, dispatcher: Dispatcher) -> None:
    with receiving(SECRET) as rx:
        store.create("rx", rx.url, SECRET, {"event_types": ["*"]}, True)
        batch = [ha_record("light.kitchen"), ha_record("light.hall")]
        dispatcher.dispatch(batch)
        again = dispatcher.dispatch(batch)
        assert again.duplicates == 2 and again.delivered == 0
        assert len(rx.all()) == 2


def test_pending_retries_survive_a_restart(store: WebhookStore, db_url: str, nats: Bus) -> None:
    with receiving(SECRET, script=[500]) as rx:
        store.create("rx", rx.url, SECRET, {"event_types": ["*"]}, True)
        first = Dispatcher(store, FAST, nats)
        assert first.dispatch([ha_record("light.kitchen")]).retrying == 1
        first.stop()  # the process goes away with a retry pending
        second = Dispatcher(WebhookStore(db_url), FAST, nats)
        try:
            assert sweep_until(second, rx.delivered, SETTLE_S)
        finally:
            second.stop()
        assert [r.answered for r in rx.all()] == [500, 200]


def test_a_4xx_is_dead_lettered_with_its_event_without_retries(
        store: WebhookStore, dispatcher: Dispatcher, js: JetStreamClient) -> None:
    with receiving(SECRET, default=404) as rx:
        hook = store.create("rx", rx.url, SECRET, {"event_types": ["*"]}, True)
        event = ha_record("light.kitchen")
        assert dispatcher.dispatch([event]).dead_lettered == 1
        drain(dispatcher, 1)
        assert len(rx.all()) == 1
        (attempt,) = store.attempts(hook.id, 10, None)
        assert (attempt["outcome"], attempt["status_code"], attempt["error"]) == ("dead_lettered", 404, "HTTP 404")
        (letter,) = dead_letters(js, hook.id)
        assert letter["stage"] == "webhook-dispatch" and letter["delivery_id"] == attempt["delivery_id"]
        assert letter["entries"][0]["reason"] == "HTTP 404" and letter["entries"][0]["payload"] == event
        assert store.deliveries_by_state(hook.id) == {"dead_lettered": 1}


def test_retries_stop_after_max_attempts_with_a_dead_letter(
        store: WebhookStore, dispatcher: Dispatcher, js: JetStreamClient) -> None:
    with receiving(SECRET, default=502) as rx:
        hook = store.create("rx", rx.url, SECRET, {"event_types": ["*"]}, True)
        dispatcher.dispatch([ha_record("light.kitchen")])
        assert sweep_until(dispatcher, lambda: store.deliveries_by_state(hook.id) == {"dead_lettered": 1}, SETTLE_S)
        drain(dispatcher, 0.5)  # and no attempt after it
        assert len(rx.all()) == FAST.max_attempts
        newest = store.attempts(hook.id, 1, None)[0]
        assert newest["outcome"] == "dead_lettered" and "gave up after 4 attempts" in newest["error"]
        assert [e["reason"] for d in dead_letters(js, hook.id) for e in d["entries"]] == [newest["error"]]


def test_a_target_that_turns_private_is_refused_at_delivery_time(store: WebhookStore, nats: Bus) -> None:
    strict = Dispatcher(store, replace(FAST, allow_private=False), nats)
    try:
        with receiving(SECRET) as rx:
            hook = store.create("rx", rx.url, SECRET, {"event_types": ["*"]}, True)
            assert strict.dispatch([ha_record("light.kitchen")]).dead_lettered == 1
            assert rx.all() == []
            assert "target refused" in store.attempts(hook.id, 1, None)[0]["error"]
    finally:
        strict.stop()


def test_a_stored_target_carrying_an_internal_ipv4_address_is_refused_at_delivery_time(
        store: WebhookStore, nats: Bus) -> None:
    """Registered before the guard knew 6to4: never attempted (a connection error would be retried)."""
    strict = Dispatcher(store, replace(FAST, allow_private=False), nats)
    try:
        hook = store.create("6to4", "http://[2002:7f00:1::]:9/hook", SECRET, {"event_types": ["*"]}, True)
        assert strict.dispatch([ha_record("light.kitchen")]).dead_lettered == 1
        assert "carries 127.0.0.1 as 6to4" in store.attempts(hook.id, 1, None)[0]["error"]
    finally:
        strict.stop()


def test_what_an_invocation_has_no_time_for_is_left_to_the_sweeper(store: WebhookStore, nats: Bus) -> None:
    hurried = Dispatcher(store, replace(FAST, inline_budget_s=0), nats)
    try:
        with receiving(SECRET) as rx:
            store.create("rx", rx.url, SECRET, {"event_types": ["*"]}, True)
            assert hurried.dispatch([ha_record("light.a"), ha_record("light.b")]).deferred == 2
            assert rx.all() == []
            hurried.settings = FAST
            drain(hurried, 1)
            assert len(rx.delivered()) == 2
    finally:
        hurried.stop()


def test_sports_events_reach_team_webhooks_only(store: WebhookStore, dispatcher: Dispatcher) -> None:
    with receiving(SECRET) as team, receiving(SECRET) as home:
        store.create("team", team.url, SECRET, {"teams": ["SF"]}, True)
        store.create("home", home.url, SECRET, {"event_types": ["*"]}, True)
        dispatcher.dispatch([sports_event(home="SF"), sports_event(home="BOS", away="NYR"), ha_record("light.a")])
        assert [r.json()["event"]["teams"] for r in team.all()] == [["SF", "DAL"]]
        assert [r.json()["event"]["entity_id"] for r in home.all()] == ["light.a"]


def test_disabled_webhooks_get_nothing(store: WebhookStore, dispatcher: Dispatcher) -> None:
    with receiving(SECRET) as rx:
        store.create("rx", rx.url, SECRET, {"event_types": ["*"]}, False)
        assert dispatcher.dispatch([ha_record("light.a")]).matched == 0
        assert rx.all() == []


def test_the_delivery_log_pages_newest_first_and_is_pruned_to_the_newest(
        store: WebhookStore, dispatcher: Dispatcher) -> None:
    with receiving(SECRET) as rx:
        hook = store.create("rx", rx.url, SECRET, {"event_types": ["*"]}, True)
        dispatcher.dispatch([ha_record(f"light.l{i}") for i in range(7)])
        first = store.attempts(hook.id, 4, None)
        rest = store.attempts(hook.id, 4, first[-1]["id"])
        ids = [a["id"] for a in first + rest]
        assert len(ids) == 7 and ids == sorted(ids, reverse=True)
        assert store.prune(keep=3, log_days=30, dedup_days=8) == 4
        assert [a["id"] for a in store.attempts(hook.id, 10, None)] == ids[:3]


def test_a_failing_webhooks_new_deliveries_are_left_to_the_sweeper_so_the_batch_does_not_wait_for_it(
        store: WebhookStore, dispatcher: Dispatcher) -> None:
    with receiving(SECRET, default=500) as down, receiving(SECRET) as fine:
        failing = store.create("down", down.url, SECRET, {"event_types": ["*"]}, True)
        store.create("fine", fine.url, SECRET, {"event_types": ["*"]}, True)
        dispatcher.dispatch([ha_record("light.first")])
        assert store.get(failing.id).state == "failing"
        tried = len(down.all())
        summary = dispatcher.dispatch([ha_record("light.second"), ha_record("light.third")])
        assert (summary.delivered, summary.deferred) == (2, 2), "the healthy webhook's, sent; the failing one's, left"
        assert len(down.all()) == tried
        down.default = 200
        assert sweep_until(dispatcher, lambda: {r.json()["event"]["entity_id"] for r in down.delivered()}
                           >= {"light.second", "light.third"}, SETTLE_S)


def test_one_sweep_round_claims_at_most_a_quarter_of_the_senders_for_one_webhook(
        store: WebhookStore, nats: Bus) -> None:
    with receiving(SECRET, default=500) as busy, receiving(SECRET, default=500) as other:
        many = store.create("busy", busy.url, SECRET, {"event_types": ["*"]}, True)
        few = store.create("other", other.url, SECRET, {"event_types": ["*"]}, True)
        wide = replace(FAST, workers=8, backoff_s=0.01, backoff_cap_s=0.01)
        with running(store, wide, nats) as dispatcher:
            dispatcher.dispatch([ha_record(f"light.l{i}") for i in range(10)])  # both fail: 11 retries due
            time.sleep(0.05)
            claimed = dispatcher.queue.claim_due(500, dispatcher.per_webhook)
        assert dispatcher.per_webhook == 2
        assert sorted(d.webhook_id for d in claimed) == sorted([many.id, many.id, few.id, few.id])


def test_with_no_webhook_an_event_nested_too_deep_is_still_dead_lettered(
        tmp_path: Path, nats: Bus, js: JetStreamClient) -> None:
    """With nothing to match, events are neither serialized nor hashed, yet what every stage refuses is refused."""
    deep: dict[str, Any] = {"leaf": 1}
    for _ in range(200):
        deep = {"inner": deep}
    batch = [ha_record("light.fine"), {**ha_record("light.deep"), "attributes": deep}, "not an object"]
    with running(WebhookStore(f"sqlite:///{tmp_path}/metadata.db"), FAST, nats) as alone:
        summary = alone.dispatch(batch, "nohook-batch")
    assert (summary.events, summary.matched, summary.rejected) == (3, 0, 1)
    (letter,) = [m for m in js.messages(subjects.DLQ) if m["dlq_id"].startswith("nohook-batch")]
    assert [(e["index"], e["reason"]) for e in letter["entries"]] == [(1, "event: nested deeper than 128 levels")]
