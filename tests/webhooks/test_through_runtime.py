"""Webhooks through the real local runtime: gateway, topic connector, real NATS, both functions as processes."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestor import subjects
from tests.support.http import call
from tests.support.jetstream import JetStreamClient
from tests.support.metrics import sample
from tests.support.polling import wait_for
from tests.support.runtime import LocalRuntime
from tests.webhooks.events import ha_record, sports_event
from tests.webhooks.receiver import Receiver, receiving

pytestmark = pytest.mark.integration
STACK = Path(__file__).resolve().parent / "stack.webhooks.yml"
KEY = "integration-admin-key-5678"
SECRET = "integration-webhook-secret-9012"


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    workdir: Path = tmp_path_factory.mktemp("webhooks-runtime")
    (workdir / "secrets").mkdir()
    (workdir / "secrets" / "webhooks-api-key").write_text(KEY)
    with LocalRuntime(workdir, stack=STACK) as rt:
        yield rt


@pytest.fixture(scope="module")
def js(runtime: LocalRuntime) -> Iterator[JetStreamClient]:
    client = JetStreamClient(runtime.nats_url)
    yield client
    client.close()


def admin(runtime: LocalRuntime, method: str, path: str, body: Any = None, key: str | None = KEY) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json", **({"X-API-Key": key} if key else {})}
    reply = call(method, f"{runtime.gateway}/function/webhooks{path}",
                 None if body is None else json.dumps(body).encode(), headers)
    return reply.status, (reply.json() if reply.body else None)


def register(runtime: LocalRuntime, receiver: Receiver, filters: dict[str, list[str]]) -> dict[str, Any]:
    status, hook = admin(runtime, "POST", "/webhooks", {"url": receiver.url, "secret": SECRET, "filters": filters})
    assert status == 201, hook
    return hook


def settle(seconds: float = 2.0) -> None:
    """Anything extra (a duplicate, a non-matching event) would have arrived by now."""
    time.sleep(seconds)


def test_only_matching_events_arrive_correctly_signed(runtime: LocalRuntime, js: JetStreamClient) -> None:
    with receiving(SECRET) as rx:
        hook = register(runtime, rx, {"entity_ids": ["light.match_*"], "event_types": ["state_changed"]})
        events = [ha_record("light.match_kitchen"), ha_record("light.other"),
                  ha_record("light.match_hall", event_type="call_service"), ha_record("light.match_hall")]
        js.publish_batch(subjects.ENRICHED, f"match-{uuid.uuid4().hex[:8]}", events)
        assert wait_for(lambda: len(rx.all()) >= 2, 30)
        settle()
        got = rx.all()
        assert sorted(r.json()["event"]["entity_id"] for r in got) == ["light.match_hall", "light.match_kitchen"]
        assert all(r.verified for r in got), "signatures must verify as docs/webhooks.md says"
        for r in got:
            body = r.json()
            assert body["webhook_id"] == hook["id"] and r.headers["X-Webhook-Id"] == body["delivery_id"]
            assert r.headers["X-Webhook-Event"] == "state_changed"
            assert r.headers["X-Webhook-Signature"].startswith("sha256=")
        status, log = admin(runtime, "GET", f"/webhooks/{hook['id']}/deliveries")
        assert status == 200 and [a["outcome"] for a in log["items"]] == ["delivered", "delivered"]
        admin(runtime, "DELETE", f"/webhooks/{hook['id']}")


def test_a_receiver_failing_twice_gets_the_delivery_exactly_once_after_retries(
        runtime: LocalRuntime, js: JetStreamClient) -> None:
    with receiving(SECRET, script=[503, 503]) as rx:
        hook = register(runtime, rx, {"entity_ids": ["switch.retry_*"]})
        js.publish_batch(subjects.ENRICHED, f"retry-{uuid.uuid4().hex[:8]}", [ha_record("switch.retry_me")])
        assert wait_for(lambda: rx.delivered(), 30)
        settle(3)
        assert [r.answered for r in rx.all()] == [503, 503, 200]
        assert len(rx.delivered()) == 1 and rx.delivered()[0].verified
        _, log = admin(runtime, "GET", f"/webhooks/{hook['id']}/deliveries")
        assert [(a["attempt"], a["outcome"]) for a in log["items"]] == [(3, "delivered"), (2, "retrying"),
                                                                       (1, "retrying")]
        assert all(a["latency_ms"] is not None for a in log["items"])
        admin(runtime, "DELETE", f"/webhooks/{hook['id']}")


def test_a_retry_pending_when_the_dispatcher_is_killed_is_sent_after_its_restart(
        runtime: LocalRuntime, js: JetStreamClient) -> None:
    with receiving(SECRET, script=[503], retry_after=1) as rx:  # the retry waits at least 1 s (the cap)
        hook = register(runtime, rx, {"entity_ids": ["switch.killed_*"]})
        before = runtime.function_pid("webhook-dispatch")
        js.publish_batch(subjects.ENRICHED, f"killed-{uuid.uuid4().hex[:8]}", [ha_record("switch.killed_1")])
        assert wait_for(lambda: rx.all(), 30, interval=0.01)
        runtime.kill_function("webhook-dispatch")
        killed_at = time.monotonic()
        assert killed_at - rx.all()[0].at < 0.9, "the kill must come before the retry is due"
        assert wait_for(lambda: rx.delivered(), 45)
        settle(3)
        assert runtime.function_pid("webhook-dispatch") != before
        assert [r.answered for r in rx.all()] == [503, 200]
        assert rx.delivered()[0].at > killed_at and rx.delivered()[0].verified
        admin(runtime, "DELETE", f"/webhooks/{hook['id']}")


def test_a_receiver_that_keeps_failing_is_paused_visibly_holds_its_events_and_resumes(
        runtime: LocalRuntime, js: JetStreamClient) -> None:
    with receiving(SECRET, default=500) as rx:
        hook = register(runtime, rx, {"entity_ids": ["switch.broken_*"]})
        js.publish_batch(subjects.ENRICHED, f"broken-{uuid.uuid4().hex[:8]}", [ha_record("switch.broken_1")])

        def paused() -> dict[str, Any] | None:
            got = admin(runtime, "GET", f"/webhooks/{hook['id']}")[1]
            return got if got["paused"] else None

        found = wait_for(paused, 30, interval=0.3)
        assert found, "the webhook should be paused after failing for a second, 3 attempts or more"
        assert found["state"] == "paused" and found["paused_since"] and "HTTP 500" in found["paused_reason"]
        assert found["held"] == 1 and found["retry_backlog"] == 0 and found["oldest_undelivered_age_s"] >= 1
        assert wait_for(lambda: sample(f"{runtime.ready['functions']['webhook-dispatch']}/_/metrics",
                                       "ha_ingestor_webhooks_paused") >= 1, 10)
        js.publish_batch(subjects.ENRICHED, f"broken-{uuid.uuid4().hex[:8]}", [ha_record("switch.broken_2")])
        assert wait_for(lambda: admin(runtime, "GET", f"/webhooks/{hook['id']}")[1]["held"] == 2, 15)
        assert "switch.broken_2" not in {r.json()["event"]["entity_id"] for r in rx.all()}, "held, not sent"
        rx.default = 200
        status, resumed = admin(runtime, "POST", f"/webhooks/{hook['id']}/resume")
        assert status == 200 and resumed["paused"] is False and resumed["consecutive_failures"] == 0
        assert wait_for(lambda: len(rx.delivered()) == 2, 30), "what it held is sent after the resume"
        assert [r.json()["event"]["entity_id"] for r in rx.delivered()] == ["switch.broken_1", "switch.broken_2"]
        js.publish_batch(subjects.ENRICHED, f"broken-{uuid.uuid4().hex[:8]}", [ha_record("switch.broken_3")])
        assert wait_for(lambda: [r for r in rx.delivered() if r.json()["event"]["entity_id"] == "switch.broken_3"],
                        30)
        _, now = admin(runtime, "GET", f"/webhooks/{hook['id']}")
        assert (now["state"], now["held"], now["retry_backlog"]) == ("active", 0, 0)
        admin(runtime, "DELETE", f"/webhooks/{hook['id']}")


def test_a_sports_event_reaches_the_team_webhook_and_not_the_ha_one(
        runtime: LocalRuntime, js: JetStreamClient) -> None:
    with receiving(SECRET) as team, receiving(SECRET) as home:
        fan = register(runtime, team, {"teams": ["SF"]})
        house = register(runtime, home, {"event_types": ["*"]})
        js.publish_batch(subjects.SPORTS_EVENTS, f"sports-{uuid.uuid4().hex[:8]}",
                         [sports_event("score_changed", home="SF"), sports_event(home="BOS", away="NYR")])
        assert wait_for(lambda: team.all(), 30)
        settle()
        (got,) = team.all()
        assert got.verified and got.headers["X-Webhook-Event"] == "score_changed"
        assert got.json()["event"]["home"]["abbreviation"] == "SF"
        assert home.all() == []
        for hook in (fan, house):
            admin(runtime, "DELETE", f"/webhooks/{hook['id']}")


def test_the_admin_api_needs_the_key_and_masks_secrets_everywhere(runtime: LocalRuntime) -> None:
    with receiving(SECRET) as rx:
        assert admin(runtime, "GET", "/webhooks", key=None)[0] == 401
        assert admin(runtime, "POST", "/webhooks", {"url": rx.url, "filters": {"domains": ["x"]}}, key="nope")[0] == 401
        status, created = admin(runtime, "POST", "/webhooks", {"url": rx.url, "filters": {"domains": ["lock"]}})
        generated = created["secret"]
        assert status == 201 and len(generated) >= 32
        _, listed = admin(runtime, "GET", "/webhooks")
        _, one = admin(runtime, "GET", f"/webhooks/{created['id']}")
        assert one["secret"] == "****" + generated[-4:]
        assert generated not in json.dumps(listed) and SECRET not in json.dumps(listed)
        assert admin(runtime, "POST", "/webhooks", {"url": "gopher://x", "filters": {"domains": ["x"]}})[0] == 400
        admin(runtime, "DELETE", f"/webhooks/{created['id']}")
    log = runtime.log.read_text()
    assert "webhook registered" in log, "the functions' logs should be in the runtime log"
    for secret in (generated, SECRET, KEY):
        assert secret not in log
