"""raw -> validate -> normalize through the real local runtime and a real nats-server."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest

from ingestor import event_id as ids
from ingestor import subjects
from tests.support.ha_events import many, sample_events
from tests.support.jetstream import JetStreamClient
from tests.support.metrics import sample
from tests.support.polling import wait_for
from tests.support.runtime import LocalRuntime

pytestmark = pytest.mark.integration


def normalized_for(js: JetStreamClient, prefix: str, count: int, timeout: float = 30) -> list[dict]:
    """Events on ha.events.normalized whose entity starts with `prefix`, once `count` have arrived."""
    def found() -> list[dict]:
        return [e for e in js.events(subjects.NORMALIZED) if (e["entity_id"] or "").startswith(prefix)]
    wait_for(lambda: len(found()) >= count, timeout)
    time.sleep(1.5)  # anything extra (a duplicate) would show up by now
    return found()


def dlq_for(js: JetStreamClient, predicate) -> list[dict]:
    return [m for m in js.messages(subjects.DLQ) if predicate(m)]


def test_a_raw_batch_arrives_normalized_field_by_field(runtime: LocalRuntime, js: JetStreamClient) -> None:
    raw = sample_events()
    js.publish_batch(subjects.RAW, "sample-batch", raw)
    records = wait_for(lambda: [m for m in js.messages(subjects.NORMALIZED)
                                if m["batch_id"] == "sample-batch:normalize"], 30)
    assert records, "nothing arrived on ha.events.normalized"
    events = records[0]["events"]
    assert len(events) == len(raw)

    light = events[0]
    assert light == {
        "event_id": ids.event_id(raw[0]),
        "event_type": "state_changed",
        "time_fired": "2026-11-22T11:27:31.769542Z",
        "origin": "LOCAL",
        "entity_id": "input_boolean.living_room_light",
        "domain": "input_boolean",
        "state": "on",
        "old_state": "off",
        "state_value": 1.0,
        "unit": None,
        "device_class": None,
        "friendly_name": "Living Room Light",
        "attributes": {"editable": False, "icon": "mdi:lightbulb", "friendly_name": "Living Room Light"},
        "duration_in_state": pytest.approx(1.677568),
        "context": {"id": "01M81G5SXSR9VEPMR50TY4GN0R", "parent_id": None,
                    "user_id": "e243fa91b1db4c91955005050c9e4671"},
        "device_id": None,
        "area_id": None,
        "device_manufacturer": None,
        "device_model": None,
        "weather": None,
        "data": None,
    }
    counter = next(e for e in events if e["entity_id"] == "counter.light_on_events")
    assert counter["context"]["parent_id"] == light["context"]["id"]
    assert counter["state_value"] == 1.0
    temperature = next(e for e in events if e["entity_id"] == "sensor.living_room_temperature")
    assert temperature["unit"] == "celsius"
    assert (temperature["device_class"], temperature["state_value"]) == ("temperature", 16.7)
    raw_number = next(e for e in events if e["entity_id"] == "input_number.living_room_temperature_raw")
    assert temperature["context"]["id"] == raw_number["context"]["id"]
    distinct_raw = {json.dumps(e, sort_keys=True) for e in raw}  # the simple sample recurs in the chain
    assert len({e["event_id"] for e in events}) == len(distinct_raw) == len(raw) - 1


def test_invalid_events_go_to_the_dlq_with_reasons_while_valid_ones_flow_on(
        runtime: LocalRuntime, js: JetStreamClient) -> None:
    good = many(2, prefix="sensor.mixed")
    no_time = {**good[0], "time_fired": None}
    bad_entity = json.loads(json.dumps(good[1]))
    bad_entity["data"]["entity_id"] = "Sensor.Not Valid"
    unknown_type = {**good[0], "event_type": "totally_unknown_event"}
    js.publish_batch(subjects.RAW, "mixed-batch", [good[0], no_time, bad_entity, unknown_type, good[1], "junk"])

    assert len(normalized_for(js, "sensor.mixed", 2)) == 2
    (record,) = wait_for(lambda: dlq_for(js, lambda m: m["dlq_id"] == "mixed-batch:validate:dlq"), 15)
    assert record["stage"] == "validate" and record["subject"] == subjects.RAW
    reasons = {e["index"]: e["reason"] for e in record["entries"]}
    assert set(reasons) == {1, 2, 3, 5}
    assert reasons[1].startswith("time_fired")
    assert "entity" in reasons[2] and "Sensor.Not Valid" in reasons[2]
    assert "totally_unknown_event" in reasons[3]
    assert record["entries"][0]["payload"] == no_time


def test_malformed_json_on_the_raw_subject_is_dead_lettered_with_its_reason(
        runtime: LocalRuntime, js: JetStreamClient) -> None:
    js.publish(subjects.RAW, b'{"v": 1, "batch_id": "broken", "events": [', msg_id="malformed-1")
    (record,) = wait_for(lambda: dlq_for(js, lambda m: m["stage"] == "validate" and m.get("kind") == "bad_input"
                                         and m["entries"][0].get("payload_encoding") == "text"), 15)
    assert record["status"] == 400
    assert "malformed JSON" in record["entries"][0]["reason"]
    assert record["entries"][0]["payload"] == '{"v": 1, "batch_id": "broken", "events": ['


def test_a_batch_without_one_valid_event_is_dead_lettered_whole_with_every_reason(
        runtime: LocalRuntime, js: JetStreamClient) -> None:
    bad = [{"event_type": "state_changed"}, {"event_type": 5}]
    js.publish_batch(subjects.RAW, "all-bad", bad)
    (record,) = wait_for(lambda: dlq_for(js, lambda m: m.get("kind") == "bad_input"
                                         and isinstance(m["entries"][0]["payload"], dict)
                                         and m["entries"][0]["payload"].get("batch_id") == "all-bad"), 15)
    assert record["status"] == 422
    reason = record["entries"][0]["reason"]
    assert "no_valid_event" in reason and "event_type" in reason
    assert record["entries"][0]["payload"]["events"] == bad


@pytest.mark.parametrize(("body", "status", "code"), [
    (b"{not json", 400, "malformed_json"),
    (b"", 400, "empty_body"),
    (b"[1, 2]", 400, "bad_envelope"),
    (b'{"v": 1, "batch_id": 7, "events": [{}]}', 400, "bad_envelope"),
    (b'{"v": 1, "batch_id": "x", "events": {}}', 400, "bad_envelope"),
    (b'{"v": 2, "batch_id": "x", "events": [{}]}', 400, "bad_envelope"),
    (b'{"v": 1, "batch_id": "x", "events": [{"event_type": "nope"}]}', 422, "no_valid_event"),
])
def test_bad_input_to_validate_gets_a_clear_4xx(runtime: LocalRuntime, body: bytes, status: int, code: str) -> None:
    reply = runtime.signed_call("POST", "validate", body, {"Content-Type": "application/json"})
    assert reply.status == status
    assert reply.json()["error"]["code"] == code
    assert "Traceback" not in reply.body.decode()


def test_an_oversize_body_is_refused_with_413_and_dead_lettered(runtime: LocalRuntime, js: JetStreamClient) -> None:
    big = b'{"v": 1, "batch_id": "big", "events": ["' + b"x" * (1024 * 1024 + 10) + b'"]}'  # limit: 1 MiB
    reply = runtime.signed_call("POST", "validate", big)
    assert reply.status == 413
    assert reply.json()["error"]["code"] == "request_entity_too_large"
    js.publish(subjects.RAW, big, msg_id="big-1")
    (record,) = wait_for(lambda: dlq_for(js, lambda m: m.get("status") == 413), 15)
    assert record["kind"] == "bad_input" and record["stage"] == "validate"


def nested(levels: int, leaf: str) -> str:
    """JSON text of `leaf` inside `levels` objects and arrays, alternating (written as text: no encoder
    here could serialize the deepest of them)."""
    opening = "".join("[" if level % 2 else '{"k":' for level in range(levels))
    closing = "".join("]" if level % 2 else "}" for level in reversed(range(levels)))
    return opening + leaf + closing


def batch_with_attributes(batch_id: str, events: list[dict], hostile: dict[int, str]) -> bytes:
    """A raw batch in which event i carries the JSON text hostile[i] as an attribute."""
    texts = []
    for index, event in enumerate(events):
        copy = json.loads(json.dumps(event))
        if index in hostile:
            copy["data"]["new_state"]["attributes"]["hostile"] = "@HOSTILE@"
        texts.append(json.dumps(copy).replace('"@HOSTILE@"', hostile.get(index, "")))
    return f'{{"v": 1, "batch_id": "{batch_id}", "events": [{",".join(texts)}]}}'.encode()


def test_events_nested_past_the_depth_limit_are_dead_lettered_while_the_batch_flows_on(
        runtime: LocalRuntime, js: JetStreamClient) -> None:
    validate_pid = runtime.function_pid("validate")
    # 245 levels around floats made orjson 3.11.4 abort validate; 300 and 1000 are past orjson's own limit.
    body = batch_with_attributes("deep-batch", many(4, prefix="sensor.deep"), {
        1: nested(245, "[1.5,1.5,1.5,1.5]"), 2: nested(300, "1"), 3: nested(1000, '"x"')})
    js.publish(subjects.RAW, body, msg_id="deep-batch")

    assert len(normalized_for(js, "sensor.deep", 1)) == 1
    (record,) = wait_for(lambda: dlq_for(js, lambda m: m["dlq_id"] == "deep-batch:validate:dlq"), 15)
    assert {e["index"]: e["reason"] for e in record["entries"]} == {
        i: "event: nested deeper than 64 levels" for i in (1, 2, 3)}
    assert runtime.function_pid("validate") == validate_pid


def test_a_batch_with_a_deep_event_posted_to_validate_is_answered_200_with_the_rejection(
        runtime: LocalRuntime) -> None:
    body = batch_with_attributes("deep-http", many(2, prefix="sensor.deephttp"), {1: nested(300, "1")})
    reply = runtime.signed_call("POST", "validate", body, {"Content-Type": "application/json"})
    assert reply.status == 200, reply.body[:500]
    assert reply.json()["rejections"] == [{"index": 1, "reason": "event: nested deeper than 64 levels"}]


def test_a_message_near_max_payload_is_dead_lettered_within_max_payload(
        runtime: LocalRuntime, js: JetStreamClient) -> None:
    body = b"\xff" * (7 * 1024 * 1024)  # invalid UTF-8: kept as base64, which alone would be 9.3 MiB
    js.publish(subjects.RAW, body, msg_id="near-max-1")
    (record,) = wait_for(lambda: dlq_for(js, lambda m: m["entries"][0].get("payload_bytes") == len(body)), 30)
    entry = record["entries"][0]
    assert (record["kind"], record["status"], entry["payload_encoding"]) == ("bad_input", 413, "truncated-base64")
    assert entry["truncated"] == f"payload of {len(body)} bytes cut to fit the dead letter"
    assert wait_for(lambda: js.backlog("validate--ha_events_raw") == (0, 0), 15)


def test_a_redelivered_batch_is_not_duplicated_downstream(runtime: LocalRuntime, js: JetStreamClient) -> None:
    events = many(5, prefix="sensor.redelivered")
    js.publish_batch(subjects.RAW, "same-batch", events)
    normalized_for(js, "sensor.redelivered", 5)
    js.publish(subjects.RAW, json.dumps({"v": 1, "batch_id": "same-batch", "events": events}).encode(),
               msg_id=f"replay-{uuid.uuid4()}")  # the same batch again, past raw's own dedup
    time.sleep(2)
    assert len(normalized_for(js, "sensor.redelivered", 5)) == 5


def test_killing_functions_while_batches_flow_loses_nothing_and_duplicates_nothing(
        runtime: LocalRuntime, js: JetStreamClient) -> None:
    batches = 200
    events = many(batches * 5, prefix="sensor.killtest")

    def publish() -> None:
        for b in range(batches):
            js.publish_batch(subjects.RAW, f"kill-{b}", events[b * 5:(b + 1) * 5])
            time.sleep(0.01)

    publisher = threading.Thread(target=publish)
    publisher.start()
    time.sleep(0.5)
    runtime.kill_function("normalize")
    time.sleep(0.7)
    runtime.kill_function("validate")
    publisher.join()

    arrived = normalized_for(js, "sensor.killtest", len(events), timeout=90)
    assert sorted(e["event_id"] for e in arrived) == sorted(ids.event_id(e) for e in events)
    for name in ("validate", "normalize"):
        assert sample(f"{runtime.gateway}/metrics", "ha_ingestor_function_restarts_total", function=name) >= 1
