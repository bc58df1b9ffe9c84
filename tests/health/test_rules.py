"""The status rules, from plain probe data: what makes a component degraded or unhealthy, and why."""

from __future__ import annotations

import dataclasses
import datetime as dt
from types import SimpleNamespace
from typing import Any

from ingestor import subjects
from ingestor.health import probes, rules
from ingestor.health.model import Component, overall
from ingestor.health.runner import ProbeTimeout
from ingestor.health.settings import Settings
from ingestor.health.system import HealthSystem
from ingestor.webhooks.store import Backlog, Webhook

SETTINGS = Settings(gateway_url="http://gw", bridge_urls=(), nats_url="nats://n", store_url="sqlite:///x",
                    metadata_url="sqlite:///y", connector_metrics_url=None)
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def consumer(pending: int = 0, ack_pending: int = 0, last_ack_s_ago: float | None = None) -> dict[str, Any]:
    return {"consumer": "validate--ha_events_raw", "function": "validate", "topic": subjects.RAW,
            "pending": pending, "ack_pending": ack_pending,
            "last_ack_at": NOW - dt.timedelta(seconds=last_ack_s_ago) if last_ack_s_ago is not None else None,
            "created_at": NOW - dt.timedelta(days=1)}


def lag(*consumers: dict[str, Any]) -> Component:
    c = Component("nats", "nats")
    rules.consumer_lag(c, list(consumers), SETTINGS, NOW)
    return c


def test_overall_is_the_worst_component_and_unknown_counts_as_ok() -> None:
    assert overall([Component("a", "store"), Component("b", "bridge", "unknown")]) == "ok"
    assert overall([Component("a", "store", "degraded"), Component("b", "bridge", "unknown")]) == "degraded"
    assert overall([Component("a", "store", "degraded"), Component("b", "nats", "unhealthy")]) == "unhealthy"


def test_a_backlog_over_the_threshold_degrades_naming_the_consumer_and_the_numbers() -> None:
    c = lag(consumer(pending=10_001, last_ack_s_ago=1))
    assert c.status == "degraded"
    assert "validate--ha_events_raw" in c.reasons[0] and "10001" in c.reasons[0] and "10000" in c.reasons[0]


def test_a_backlog_with_recent_acks_is_ok_and_a_stalled_one_is_degraded() -> None:
    assert lag(consumer(pending=5, last_ack_s_ago=10)).status == "ok"
    stalled = lag(consumer(ack_pending=2, last_ack_s_ago=301))
    assert stalled.status == "degraded" and "no ack for 301 s" in stalled.reasons[0]


def test_a_consumer_that_never_acked_counts_idle_time_from_its_creation() -> None:
    assert lag(consumer(pending=1)).status == "degraded"
    assert lag(consumer(pending=0)).status == "ok"


def test_a_function_without_replicas_or_failing_its_health_is_unhealthy() -> None:
    fn = {"name": "write", "replicas": 1, "availableReplicas": 0, "annotations": {"topic": "a,b"}}
    down = rules.function(fn, None, None, "unreachable (ConnectionError)")
    assert down.status == "unhealthy" and any("no available replica" in r for r in down.reasons)
    failing = rules.function({**fn, "availableReplicas": 1}, 503, {"status": "unavailable", "reason": "db gone"}, None)
    assert failing.status == "unhealthy" and "HTTP 503" in failing.reasons[0] and "db gone" in failing.reasons[0]
    assert failing.details["topics"] == ["a", "b"]


def test_a_function_scaled_to_zero_is_ok_and_one_whose_start_failed_is_unhealthy() -> None:
    idle = {"name": "query", "replicas": 0, "availableReplicas": 0, "labels": {"com.openfaas.scale.zero": "true"}}
    assert rules.scaled_to_zero(idle)
    c = rules.idle(idle)
    assert (c.status, c.reasons, c.details["scaled_to_zero"]) == ("ok", [], True)
    failed = rules.function({**idle, "replicas": 1}, 503, {"error": {"message": "could not be started"}}, None)
    assert not rules.scaled_to_zero({**idle, "replicas": 1})
    assert failed.status == "unhealthy" and "no available replica (0 of 1)" in failed.reasons
    assert not rules.scaled_to_zero({**idle, "labels": {}})  # a warm function at 0 replicas is down, not idle


def test_a_start_from_zero_is_ok_for_its_grace_then_unhealthy() -> None:
    fn = {"name": "query", "replicas": 1, "availableReplicas": 0, "labels": {"com.openfaas.scale.zero": "true"}}
    assert rules.starting(fn)
    assert not rules.starting({**fn, "labels": {}})  # a warm function with no replica is down, not starting
    assert not rules.starting({**fn, "availableReplicas": 1}) and not rules.starting({**fn, "replicas": 0})
    settings = Settings(start_grace_s=60)
    ok = rules.started(fn, 5, settings)
    assert (ok.status, ok.reasons, ok.details["starting_for_s"]) == ("ok", [], 5)
    late = rules.started(fn, 61, settings)
    assert late.status == "unhealthy" and late.reasons == [
        "no available replica (0 of 1): its start from zero has not finished in 61 s"]


def test_a_function_scaled_to_zero_is_not_called_by_the_health_check() -> None:
    from ingestor.health import probes
    from ingestor.health.settings import Settings

    settings = Settings(gateway_url=None, bridge_urls=(), nats_url="nats://127.0.0.1:1", store_url="sqlite:///x",
                        metadata_url="sqlite:///y", connector_metrics_url=None)
    idle = {"name": "query", "replicas": 0, "availableReplicas": 0, "labels": {"com.openfaas.scale.zero": "true"}}
    assert probes.function(probes.Deps(settings), idle).status == "ok"  # no gateway to call: it was not called


def test_a_function_that_reports_itself_degraded_is_degraded() -> None:
    c = rules.function({"name": "x", "availableReplicas": 1}, 503, {"status": "degraded", "reason": "slow"}, None)
    assert c.status == "degraded" and "slow" in c.reasons[0]


def test_the_bridge_is_degraded_while_reconnecting_then_unhealthy() -> None:
    body = {"connected": False, "authenticated": False, "last_error": "connect failed: ConnectionRefusedError"}
    reconnecting = rules.bridge(body, None, 5, SETTINGS)
    assert reconnecting.status == "degraded" and "reconnecting" in reconnecting.reasons[0]
    down = rules.bridge(body, None, SETTINGS.bridge_grace_s + 1, SETTINGS)
    assert down.status == "unhealthy" and "ConnectionRefusedError" in down.reasons[0]
    assert down.reasons[0].startswith("Home Assistant not connected for 61 s") and "HA_URL" in down.reasons[0]
    assert rules.bridge(None, "refused", None, SETTINGS).status == "unhealthy"


def test_no_bridge_means_home_assistant_is_not_connected_naming_the_settings_that_connect_it() -> None:
    """`make run` without HA_URL captures nothing: that is not a healthy system, whatever else answers."""
    c = probes.bridge(SimpleNamespace(settings=SETTINGS))
    assert c.status == "degraded"
    assert c.reasons[0].startswith("Home Assistant not connected")
    assert all(s in c.reasons[0] for s in ("HA_URL", ".secrets/ha-token", "HA_TOKEN", "BRIDGE_URL"))
    assert overall([Component("a", "store"), c]) == "degraded"


def test_a_connected_bridge_whose_publishes_nats_refuses_is_degraded() -> None:
    c = rules.bridge({"connected": True, "authenticated": True, "nats_publishing": False, "spool_depth": 7},
                     None, None, SETTINGS)
    assert c.status == "degraded" and "spooling 7" in c.reasons[0]


def test_a_bridge_whose_ha_lacks_a_backfill_source_is_degraded_with_the_reason() -> None:
    warning = "HA has no history integration: the state changes of a gap … cannot be backfilled"
    c = rules.bridge({"connected": True, "authenticated": True, "warnings": [warning]}, None, None, SETTINGS)
    assert c.status == "degraded" and c.reasons == [warning]


def replica(name: str, connected: bool, down_for: float | None = None) -> Component:
    body = {"replica": name, "connected": connected, "authenticated": connected, "last_error": None}
    return rules.bridge(body, None, down_for, SETTINGS)


def test_one_replica_down_is_degraded_naming_it_and_the_one_still_capturing() -> None:
    c = rules.bridges([replica("bridge-1", True), replica("bridge-2", False, SETTINGS.bridge_grace_s + 5)])
    assert c.status == "degraded"
    (reason,) = c.reasons  # the replica's own reason, named, and who still captures
    assert reason.startswith("bridge-2: Home Assistant not connected for 65 s")
    assert reason.endswith("(capture continues through bridge-1)")
    assert c.details["replicas"]["bridge-1"]["status"] == "ok"
    assert c.details["replicas"]["bridge-2"]["status"] == "unhealthy"


def test_every_replica_down_is_as_bad_as_the_best_of_them() -> None:
    both_down = rules.bridges([replica("a", False, SETTINGS.bridge_grace_s + 5), replica("b", False, 2)])
    assert both_down.status == "degraded", "one is still within its grace, reconnecting"
    assert rules.bridges([replica("a", False, 999), replica("b", False, 999)]).status == "unhealthy"
    assert rules.bridges([replica("a", True), replica("b", True)]).status == "ok"


def test_archive_not_configured_is_unknown_and_a_failed_last_run_degraded() -> None:
    unconfigured = rules.archive({"errors": ["archive not configured (set ARCHIVE_S3_ENDPOINT …)"]})
    assert unconfigured.status == "unknown"
    failed = rules.archive({"last_run": {"ok": False, "error": "S3 refused", "finished_at": "t"},
                            "errors": ["last run: S3 refused"]})
    assert failed.status == "degraded" and failed.reasons == ["last run failed at t: S3 refused"]
    assert rules.archive({"last_run": {"ok": True}, "errors": []}).status == "ok"


def test_an_open_context_breaker_degrades_that_source_only() -> None:
    found = rules.context_sources({
        "weather": {"provider": "open-meteo", "breaker": "open", "failures": 3, "last_error": "timeout"},
        "carbon_intensity": {"provider": "ng", "breaker": "closed", "failures": 0, "fetched_at": "2026-11-23T12:00:00Z",
                             "last_poll": {"result": "cached"}}})
    by_name = {c.name: c for c in found}
    assert by_name["context:weather"].status == "degraded" and "timeout" in by_name["context:weather"].reasons[0]
    assert by_name["context:carbon_intensity"].status == "ok"


def test_a_context_source_without_a_location_is_not_configured_rather_than_ok() -> None:
    [c] = rules.context_sources({"weather": {"provider": "open-meteo", "breaker": "closed", "failures": 0,
                                             "fetched_at": None, "last_poll": {"result": "no_location"}}})
    assert c.status == "unknown" and c.reasons[0].startswith("not configured: no location")
    assert "CONTEXT_LATITUDE" in c.reasons[0] and "Home Assistant" in c.reasons[0]


def test_a_context_source_that_never_fetched_is_unknown_and_one_that_fetched_is_ok() -> None:
    fresh, failing, fetched = rules.context_sources({
        "air_quality": {"provider": "open-meteo", "breaker": "closed", "fetched_at": None, "last_poll": None},
        "carbon_intensity": {"provider": "ng", "breaker": "closed", "failures": 1, "fetched_at": None,
                             "last_poll": {"result": "failed", "error": "HTTP 502"}},
        "weather": {"provider": "open-meteo", "breaker": "closed", "fetched_at": "2026-11-23T12:00:00Z",
                    "last_poll": {"result": "failed", "error": "HTTP 502"}}})
    assert (fresh.status, fresh.reasons) == ("unknown", ["not polled yet (context-poll runs every minute)"])
    assert (failing.status, failing.reasons) == ("unknown", ["nothing fetched yet: the last attempt failed (HTTP 502)"])
    assert (fetched.status, fetched.reasons) == ("ok", [])  # a value it fetched, kept while the breaker is closed


def test_a_context_source_asked_for_that_cannot_run_is_degraded_with_its_problem() -> None:
    [c] = rules.context_sources({"electricity_price": {
        "provider": None, "breaker": None, "problem": "electricity_price needs OCTOPUS_PRODUCT and OCTOPUS_TARIFF"}})
    assert c.status == "degraded" and c.reasons == [
        "not configured: electricity_price needs OCTOPUS_PRODUCT and OCTOPUS_TARIFF"]


def test_dead_letters_in_the_window_degrade_with_the_count_and_reasons() -> None:
    c = rules.dead_letters(3, 10, [{"reason": "validate: time_fired: missing", "count": 3}], SETTINGS)
    assert c.status == "degraded"
    assert c.reasons == ["3 dead letters in the last hour: validate: time_fired: missing (3)"]
    assert rules.dead_letters(0, 10, [], SETTINGS).status == "ok"
    shorter = dataclasses.replace(SETTINGS, dlq_window_s=600)
    assert "last 10 minutes" in rules.dead_letters(1, 1, [], shorter).reasons[0]


def test_fresh_dead_letters_whose_records_cannot_be_read_are_still_degraded_saying_why() -> None:
    c = rules.dead_letters(3, 10, [], SETTINGS, "TimeoutError: no answer")
    assert c.status == "degraded"
    assert c.reasons == ["3 dead letters in the last hour", "their reasons could not be read: TimeoutError: no answer"]


def test_dead_letters_that_cannot_even_be_counted_are_degraded_never_ok() -> None:
    c = probes.dlq_component(SimpleNamespace(settings=SETTINGS), ProbeTimeout("no answer within 4 s"))
    assert c.status == "degraded" and c.reasons == ["dead letters not readable: ProbeTimeout: no answer within 4 s"]
    assert overall([Component("nats", "nats"), c]) == "degraded"


def test_a_function_slow_once_is_degraded_and_silent_twice_unhealthy() -> None:
    system = HealthSystem(SETTINGS)
    try:
        first = system._function("write", ProbeTimeout("no answer within 2 s"))
        second = system._function("write", ProbeTimeout("no answer within 2 s"))
        recovered = system._function("write", Component("write", "function"))
        again = system._function("write", ProbeTimeout("no answer within 2 s"))
    finally:
        system.deps.monitor.close()
    assert (first.status, first.reasons) == ("degraded", ["health check slow: no answer within 2 s"])
    assert second.status == "unhealthy"
    assert second.reasons == ["health check failed: no answer within 2 s, 2 checks in a row"]
    assert recovered.status == "ok" and again.status == "degraded"


def webhook(state: str = "active", **changes: Any) -> Webhook:
    hook = Webhook("wh_1", "garage", "https://example.org/hook", "s" * 20, {"event_types": ["*"]},
                   state != "disabled", state == "paused", None, 3 if state in ("failing", "paused") else 0,
                   "2026-11-23T11:00:00.000000Z", "2026-11-23T11:00:00.000000Z", None, None,
                   "2026-11-23T11:58:00.000000Z" if state == "paused" else None, None,
                   "HTTP 503" if state in ("failing", "paused") else None)
    return dataclasses.replace(hook, **changes)


def oldest(seconds_ago: float) -> str:
    return (NOW - dt.timedelta(seconds=seconds_ago)).isoformat().replace("+00:00", "Z")


def test_a_paused_webhook_is_degraded_naming_it_its_held_events_and_last_error() -> None:
    c = rules.webhooks([webhook("paused")], {"wh_1": Backlog(0, 42, oldest(120))}, SETTINGS, NOW)
    assert c.status == "degraded"
    assert c.reasons == ["webhook garage (wh_1) paused since 2026-11-23T11:58:00.000000Z: 42 deliveries held; "
                         "last error: HTTP 503"]
    (row,) = c.details["webhooks"]
    assert (row["state"], row["held"], row["oldest_undelivered_age_s"]) == ("paused", 42, 120.0)


def test_a_webhook_backlog_older_or_larger_than_the_threshold_is_degraded_and_a_young_one_ok() -> None:
    young = rules.webhooks([webhook("failing")], {"wh_1": Backlog(30, 0, oldest(20))}, SETTINGS, NOW)
    assert young.status == "ok" and young.details["retry_backlog"] == 30
    old = rules.webhooks([webhook("failing")], {"wh_1": Backlog(30, 0, oldest(301))}, SETTINGS, NOW)
    assert old.status == "degraded" and "30 deliveries undelivered, the oldest 301 s old (threshold 300 s)" \
        in old.reasons[0]
    large = rules.webhooks([webhook()], {"wh_1": Backlog(10_001, 0, oldest(5))}, SETTINGS, NOW)
    assert large.status == "degraded" and "10001 deliveries undelivered (threshold 10000)" in large.reasons[0]


def test_dead_letters_waiting_to_be_published_are_degraded_and_no_webhook_is_unknown() -> None:
    waiting = rules.webhooks([webhook()], {"wh_1": Backlog(unpublished_dead_letters=2)}, SETTINGS, NOW)
    assert waiting.status == "degraded" and "2 dead-lettered deliveries not yet written" in waiting.reasons[0]
    assert rules.webhooks([], {}, SETTINGS, NOW).status == "unknown"
    assert rules.webhooks([webhook("disabled")], {}, SETTINGS, NOW).status == "ok"
