"""GET /pipeline and the lag and dead-letter rules through the real local runtime (SQLite store)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestor import subjects
from tests.health.support import STACK, component, get, health_url, status
from tests.support import ha_events
from tests.support.jetstream import JetStreamClient
from tests.support.polling import wait_for
from tests.support.runtime import LocalRuntime

pytestmark = pytest.mark.integration
STAGES = ("validate--ha_events_raw", "normalize--ha_events_valid", "weather-enrich--ha_events_normalized",
          "write--ha_events_enriched")


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    workdir: Path = tmp_path_factory.mktemp("health-pipeline")
    env = {"TEST_ATTEMPTS_FILE": str(workdir / "attempts"), "TEST_HEALTH_LAG_STALL_S": "3"}
    with LocalRuntime(workdir, stack=STACK, env=env) as rt:
        yield rt


@pytest.fixture(scope="module")
def js(runtime: LocalRuntime) -> Iterator[JetStreamClient]:
    client = JetStreamClient(runtime.nats_url, observe=False)
    yield client
    client.close()


def pipeline(runtime: LocalRuntime) -> dict[str, Any]:
    reply = get(health_url(runtime), "/pipeline")
    assert reply.status == 200, reply.body[:500]
    return reply.json()


def stages(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["consumer"]: s for s in body["stages"]}


def test_published_events_drain_through_every_stage_and_are_counted(runtime: LocalRuntime,
                                                                    js: JetStreamClient) -> None:
    events = ha_events.sample_events()
    js.publish_batch(subjects.RAW, f"drain-{uuid.uuid4().hex[:8]}", events)

    def drained() -> dict[str, Any] | None:
        body = pipeline(runtime)
        found = stages(body)
        done = all(found[c]["delivered"] >= 1 and found[c]["pending"] == 0 and found[c]["ack_pending"] == 0
                   for c in STAGES)
        return body if done else None

    body = wait_for(drained, 60, interval=0.3)
    assert body, pipeline(runtime)
    found = stages(body)
    validate = found["validate--ha_events_raw"]
    assert validate["function"] == "validate" and validate["topic"] == subjects.RAW
    assert validate["invocations"] >= 1 and validate["errors"] == 0
    assert validate["outcomes"]["acked"] >= 1 and validate["last_active"] is not None
    assert found["write--ha_events_enriched"]["outcomes"]["acked"] >= 1
    assert body["stream"]["name"] == "HA" and body["stream"]["max_bytes"] > 0
    assert body["dlq"]["total"] == 0


def test_a_batch_validate_rejects_is_dead_lettered_with_its_reason_and_degrades(runtime: LocalRuntime,
                                                                                 js: JetStreamClient) -> None:
    bad = dict(ha_events.sample_events()[0])
    del bad["time_fired"]
    batch_id = f"bad-{uuid.uuid4().hex[:8]}"
    js.publish_batch(subjects.RAW, batch_id, [bad])

    def dead_lettered() -> dict[str, Any] | None:
        body = pipeline(runtime)
        return next((r for r in body["dlq"]["recent"] if r["batch_id"] == batch_id), None)

    letter = wait_for(dead_lettered, 30, interval=0.3)
    assert letter, pipeline(runtime)["dlq"]
    assert letter["stage"] == "validate" and letter["events"] == 1
    assert letter["reason"] == "HTTP 422 no_valid_event: time_fired: missing"
    body = pipeline(runtime)
    assert {"reason": "validate: time_fired: missing", "count": 1, "events": 1} in body["dlq"]["by_reason"]
    assert stages(body)["validate--ha_events_raw"]["errors"] >= 1
    assert stages(body)["validate--ha_events_raw"]["outcomes"]["dlq_bad_input"] >= 1
    overall = status(health_url(runtime))
    assert overall["status"] == "degraded"
    assert component(overall, "dlq")["reasons"] == [
        "1 dead letter in the last hour: validate: time_fired: missing (1)"]


def test_a_consumer_making_no_progress_degrades_naming_it_and_its_backlog(runtime: LocalRuntime,
                                                                          js: JetStreamClient) -> None:
    js.publish("ha.ext.test.status", json.dumps({"id": uuid.uuid4().hex, "status": 503}).encode())

    def stalled() -> list[str]:
        reasons = component(status(health_url(runtime)), "nats")["reasons"]
        return [r for r in reasons if "status--ha_ext_test_status" in r]

    reasons = wait_for(stalled, 30, interval=0.5)
    assert reasons, component(status(health_url(runtime)), "nats")
    assert "(status ← ha.ext.test.status): 1 message waiting and no ack for" in reasons[0]
    assert "threshold 3 s" in reasons[0]


def test_a_context_source_whose_breaker_opens_is_degraded_naming_it(runtime: LocalRuntime) -> None:
    def opened() -> dict[str, Any] | None:  # each cron-like poll of the unreachable provider is a failure
        runtime.signed_call("POST", "context-poll")
        found = component(status(health_url(runtime)), "context:weather")
        return found if found["status"] not in ("ok", "unknown") else None  # unknown: never fetched yet

    found = wait_for(opened, 30, interval=1.1)
    assert found, component(status(health_url(runtime)), "context:weather")
    assert found["status"] == "degraded"
    assert found["reasons"][0].startswith("open-meteo: breaker open after 3 failures")
