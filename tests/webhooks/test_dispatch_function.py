"""webhook-dispatch served alone: bad input is a 400 (or, for one event, a dead letter), and an unreachable
metadata DB a 503 (redeliver later)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ingestor import envelope, subjects
from ingestor.bus import Bus
from ingestor.webhooks.store import WebhookStore
from localfaas.natsserver import NatsServer, free_port
from tests.support.function import served
from tests.support.http import call
from tests.support.jetstream import JetStreamClient
from tests.support.runtime import REPO
from tests.webhooks.events import ha_record
from tests.webhooks.receiver import receiving

pytestmark = pytest.mark.integration
DISPATCH = REPO / "functions" / "webhook-dispatch"
SECRET = "function-test-secret-0001"


def test_an_unreachable_metadata_db_is_503_and_unhealthy(tmp_path: Path) -> None:
    env = {"METADATA_DB_URL": f"postgresql://nobody@127.0.0.1:{free_port()}/none", "WEBHOOK_SWEEP_S": "0"}
    with served(DISPATCH, "webhook-dispatch", tmp_path / "log", env) as url:
        reply = call("POST", url, envelope.encode("b1", [ha_record("light.a")]))
        assert reply.status == 503 and reply.json()["error"]["code"] == "unavailable"
        assert call("GET", f"{url}/_/health").status == 503


def test_a_malformed_batch_is_a_400_naming_the_problem(tmp_path: Path) -> None:
    env = {"METADATA_DB_URL": f"sqlite:///{tmp_path}/metadata.db", "WEBHOOK_SWEEP_S": "0"}
    with served(DISPATCH, "webhook-dispatch", tmp_path / "log", env) as url:
        reply = call("POST", url, b'{"v": 1, "events": []}')
        assert reply.status == 400 and "batch_id" in reply.json()["error"]["message"]
        ok = call("POST", url, envelope.encode("b2", [ha_record("light.a")]))
        assert ok.status == 200 and ok.json()["matched"] == 0
        assert call("GET", f"{url}/_/health").json()["status"] == "ok"


def nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"inner": value}
    return value


def test_an_event_nested_too_deep_is_dead_lettered_alone_and_the_rest_delivered(
        tmp_path: Path, nats_server: NatsServer, nats: Bus, js: JetStreamClient) -> None:
    """Past orjson's 254 levels the event cannot be serialized: before the guard, a 500 for the whole batch,
    retried, then the batch dead-lettered by the connector."""
    url_db = f"sqlite:///{tmp_path}/metadata.db"
    deep = {**ha_record("light.deep"), "attributes": nested(300)}
    env = {"METADATA_DB_URL": url_db, "WEBHOOK_SWEEP_S": "0", "NATS_URL": nats_server.url,
           "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true"}
    with receiving(SECRET) as rx:
        WebhookStore(url_db).create("rx", rx.url, SECRET, {"event_types": ["*"]}, True)
        with served(DISPATCH, "webhook-dispatch", tmp_path / "log", env) as url:
            body = json.dumps({"v": 1, "batch_id": "deep-batch", "events": [ha_record("light.fine"), deep]})
            reply = call("POST", url, body.encode(), {"X-Nats-Subject": subjects.ENRICHED})
        assert reply.status == 200, reply.body
        assert (reply.json()["rejected"], reply.json()["delivered"]) == (1, 1)
        assert [r.json()["event"]["entity_id"] for r in rx.delivered()] == ["light.fine"]
    (letter,) = [m for m in js.messages(subjects.DLQ) if m["stage"] == "webhook-dispatch"
                 and m["dlq_id"].startswith("deep-batch")]
    assert letter["subject"] == subjects.ENRICHED
    assert [(e["index"], e["reason"]) for e in letter["entries"]] == [(1, "event: nested deeper than 128 levels")]


def test_each_batch_of_a_coalesced_call_is_dispatched_and_one_handled_again_alone_sends_nothing_twice(
        tmp_path: Path) -> None:
    """The connector calls a failed coalesced call's messages again one by one: what was queued stays queued once."""
    url_db = f"sqlite:///{tmp_path}/metadata.db"
    env = {"METADATA_DB_URL": url_db, "WEBHOOK_SWEEP_S": "0", "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true"}
    first, second = envelope.encode("c1", [ha_record("light.a")]), envelope.encode("c2", [ha_record("light.b")])
    with receiving(SECRET) as rx:
        WebhookStore(url_db).create("rx", rx.url, SECRET, {"event_types": ["*"]}, True)
        with served(DISPATCH, "webhook-dispatch", tmp_path / "log", env) as url:
            reply = call("POST", url, envelope.coalesce([first, second]), {envelope.COALESCED_HEADER: "2"})
            assert reply.status == 200, reply.body
            assert [(b["batch_id"], b["delivered"]) for b in reply.json()["batches"]] == [("c1", 1), ("c2", 1)]
            again = call("POST", url, first)
        assert again.status == 200 and (again.json()["duplicates"], again.json()["delivered"]) == (1, 0)
        assert sorted(r.json()["event"]["entity_id"] for r in rx.all()) == ["light.a", "light.b"]


def test_a_webhook_created_changed_or_disabled_between_calls_takes_effect_for_the_next_call(tmp_path: Path) -> None:
    """The enabled webhooks are read once per call, never kept from one call to the next."""
    url_db = f"sqlite:///{tmp_path}/metadata.db"
    env = {"METADATA_DB_URL": url_db, "WEBHOOK_SWEEP_S": "0", "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true"}
    store = WebhookStore(url_db)
    with receiving(SECRET) as rx, served(DISPATCH, "webhook-dispatch", tmp_path / "log", env) as url:
        def matched(batch_id: str) -> int:
            reply = call("POST", url, envelope.encode(batch_id, [ha_record(f"light.{batch_id}")]))
            assert reply.status == 200, reply.body
            return int(reply.json()["matched"])

        assert matched("before") == 0
        hook = store.create("rx", rx.url, SECRET, {"event_types": ["*"]}, True)
        assert matched("created") == 1
        store.update(hook.id, {"filters": {"event_types": ["call_service"]}})
        assert matched("changed") == 0
        store.update(hook.id, {"filters": {"event_types": ["*"]}, "enabled": False})
        assert matched("disabled") == 0
        assert [r.json()["event"]["entity_id"] for r in rx.delivered()] == ["light.created"]


def test_in_a_coalesced_call_a_batch_after_a_failed_first_attempt_leaves_its_webhook_to_the_sweeper(
        tmp_path: Path) -> None:
    """A batch whose events matched reads the webhooks again for the next batch of the call: the first attempt
    failed, so the next batch's delivery to that webhook waits for the sweeper instead of being tried inline."""
    url_db = f"sqlite:///{tmp_path}/metadata.db"
    env = {"METADATA_DB_URL": url_db, "WEBHOOK_SWEEP_S": "0", "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true"}
    first, second = envelope.encode("f1", [ha_record("light.a")]), envelope.encode("f2", [ha_record("light.b")])
    with receiving(SECRET, script=[500]) as rx:
        WebhookStore(url_db).create("rx", rx.url, SECRET, {"event_types": ["*"]}, True)
        with served(DISPATCH, "webhook-dispatch", tmp_path / "log", env) as url:
            reply = call("POST", url, envelope.coalesce([first, second]), {envelope.COALESCED_HEADER: "2"})
        assert reply.status == 200, reply.body
        assert [(b["retrying"], b["deferred"]) for b in reply.json()["batches"]] == [(1, 0), (0, 1)]
        assert [r.json()["event"]["entity_id"] for r in rx.all()] == ["light.a"]
