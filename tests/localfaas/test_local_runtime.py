"""The local FaaS runtime: gateway, topic connector, cron connector and supervisor, on real processes."""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from ingestor import subjects
from tests.support.http import call
from tests.support.jetstream import JetStreamClient
from tests.support.metrics import sample
from tests.support.polling import wait_for
from tests.support.runtime import REPO, LocalRuntime

pytestmark = pytest.mark.integration


def attempts(runtime: LocalRuntime, message_id: str) -> int:
    path = Path(runtime.env["TEST_ATTEMPTS_FILE"])
    return path.read_text().split().count(message_id) if path.exists() else 0


def connector_count(runtime: LocalRuntime, outcome: str, topic: str = "ha.ext.test.status") -> float:
    return sample(f"{runtime.gateway}/metrics", "ha_ingestor_connector_messages_total",
                  function="status", topic=topic, outcome=outcome)


def dead_letters_of(js: JetStreamClient, message_id: str) -> list[dict]:
    """Dead letters the connector wrote for the status function's message `message_id`."""
    return [m for m in js.messages(subjects.DLQ)
            if m["stage"] == "status" and m["entries"][0]["payload"]["id"] == message_id]


def test_sync_invoke_passes_method_path_query_headers_and_body(runtime: LocalRuntime) -> None:
    reply = call("PUT", f"{runtime.gateway}/function/echo/a/b?x=1&y=two", b"payload", {"X-Custom": "v"})
    assert reply.status == 200
    assert reply.headers["X-Echo"] == "yes"
    echoed = reply.json()
    assert echoed["method"] == "PUT"
    assert echoed["path"] == "/a/b"
    assert echoed["query"] == {"x": "1", "y": "two"}
    assert echoed["headers"]["x-custom"] == "v"
    assert base64.b64decode(echoed["body"]) == b"payload"
    assert echoed["function"] == "echo"


def test_the_path_reaches_the_function_exactly_as_sent(runtime: LocalRuntime) -> None:
    """Decoding it first would turn %3F into a query, cut the path at %23 and make %2F a separator."""
    echoed = call("GET", f"{runtime.gateway}/function/echo/a%3Fb%23c%2Fd%20e/f?x=1&y=a%26b").json()
    assert echoed["raw_path"] == "/a%3Fb%23c%2Fd%20e/f"
    assert echoed["path"] == "/a?b#c/d e/f"
    assert echoed["query"] == {"x": "1", "y": "a&b"}


def test_a_method_functions_do_not_answer_is_a_405_naming_those_they_do(runtime: LocalRuntime) -> None:
    reply = call("QUERY", f"{runtime.gateway}/function/echo/x", b"{}")
    assert reply.status == 405
    assert reply.json()["error"]["code"] == "method_not_allowed"
    assert reply.headers["Allow"] == "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"


def test_unknown_function_is_a_json_404(runtime: LocalRuntime) -> None:
    reply = call("POST", f"{runtime.gateway}/function/nope", b"{}")
    assert reply.status == 404
    assert reply.json()["error"]["code"] == "not_found"


def test_system_functions_lists_each_function_with_its_annotations(runtime: LocalRuntime) -> None:
    listed = {f["name"]: f for f in call("GET", f"{runtime.gateway}/system/functions").json()}
    declared = yaml.safe_load((REPO / "tests" / "stack.test.yml").read_text())["functions"]
    assert set(listed) == set(declared)
    assert listed["cron-probe"]["annotations"] == {"topic": "cron-function", "schedule": "* * * * *"}
    assert listed["status"]["annotations"]["topic"] == "ha.ext.test.status,sports.test.status"
    assert listed["echo"]["labels"] == {"purpose": "test"}
    assert all(f["availableReplicas"] == 1 for f in listed.values())


def test_function_health_and_metrics_are_served_by_the_template(runtime: LocalRuntime) -> None:
    fn = runtime.ready["functions"]["echo"]
    assert call("GET", f"{fn}/_/health").json() == {"status": "ok"}
    call("POST", f"{runtime.gateway}/function/echo", b"x")
    metrics_text = call("GET", f"{fn}/_/metrics").body.decode()
    assert 'ha_ingestor_function_requests_total{function="echo",status="200"}' in metrics_text


def test_connector_acks_a_2xx_message_after_one_attempt(runtime: LocalRuntime, js: JetStreamClient) -> None:
    before = connector_count(runtime, "acked")
    js.publish("ha.ext.test.status", json.dumps({"id": "ok-1", "status": 200}).encode())
    assert wait_for(lambda: connector_count(runtime, "acked") == before + 1, 15)
    time.sleep(1)
    assert attempts(runtime, "ok-1") == 1


def test_connector_delivers_every_topic_of_a_function(runtime: LocalRuntime, js: JetStreamClient) -> None:
    js.publish("sports.test.status", json.dumps({"id": "sports-1", "status": 200}).encode())
    assert wait_for(lambda: connector_count(runtime, "acked", "sports.test.status") == 1, 15)
    assert attempts(runtime, "sports-1") == 1


def test_connector_dead_letters_a_4xx_with_its_reason_without_retrying(
        runtime: LocalRuntime, js: JetStreamClient) -> None:
    js.publish("ha.ext.test.status", json.dumps({"id": "bad-1", "status": 422}).encode())
    entries = wait_for(lambda: dead_letters_of(js, "bad-1"), 15)
    time.sleep(1.5)
    assert attempts(runtime, "bad-1") == 1
    (record,) = entries
    assert record["kind"] == "bad_input"
    assert record["status"] == 422
    assert record["subject"] == "ha.ext.test.status"
    assert "status 422 as asked by bad-1" in record["entries"][0]["reason"]
    assert connector_count(runtime, "dlq_bad_input") >= 1


def test_connector_retries_a_5xx_with_backoff_then_dead_letters_after_max_deliveries(
        runtime: LocalRuntime, js: JetStreamClient) -> None:
    js.publish("ha.ext.test.status", json.dumps({"id": "fail-1", "status": 500}).encode())
    entries = wait_for(lambda: dead_letters_of(js, "fail-1"), 20)
    time.sleep(1.5)
    assert attempts(runtime, "fail-1") == 3  # com.ha-ingestor.max-deliver: "3"
    (record,) = entries
    assert record["kind"] == "max_deliveries"
    assert record["status"] == 500
    assert record["deliveries"] == 3
    assert connector_count(runtime, "retried") >= 2
    assert connector_count(runtime, "dlq_max_deliveries") >= 1


def test_connector_recovers_a_5xx_that_succeeds_before_max_deliveries(
        runtime: LocalRuntime, js: JetStreamClient) -> None:
    js.publish("ha.ext.test.status", json.dumps({"id": "flaky-1", "status": 502, "succeed_after": 2}).encode())
    assert wait_for(lambda: attempts(runtime, "flaky-1") == 3, 20)
    time.sleep(1.5)
    assert attempts(runtime, "flaky-1") == 3
    assert not dead_letters_of(js, "flaky-1")


def test_connector_keeps_retrying_a_function_that_refuses_its_credentials_instead_of_dead_lettering(
        runtime: LocalRuntime, js: JetStreamClient) -> None:
    """A 401 says the connector-key is wrong, not the message: the messages wait until the keys match."""
    js.publish("ha.ext.test.status", json.dumps({"id": "unauthorized-1", "status": 401, "succeed_after": 4}).encode())
    assert wait_for(lambda: attempts(runtime, "unauthorized-1") == 5, 40)
    time.sleep(1.5)
    assert attempts(runtime, "unauthorized-1") == 5
    assert not dead_letters_of(js, "unauthorized-1")


def test_connector_keeps_retrying_an_unavailable_function_beyond_max_deliveries(
        runtime: LocalRuntime, js: JetStreamClient) -> None:
    js.publish("ha.ext.test.status", json.dumps({"id": "down-1", "status": 503, "succeed_after": 5}).encode())
    assert wait_for(lambda: attempts(runtime, "down-1") == 6, 40)
    time.sleep(1.5)
    assert attempts(runtime, "down-1") == 6
    assert not dead_letters_of(js, "down-1")
    assert connector_count(runtime, "unavailable") >= 5


def test_a_crashed_function_is_restarted_and_serves_again(runtime: LocalRuntime) -> None:
    before = runtime.function_pid("echo")
    runtime.kill_function("echo")
    assert wait_for(lambda: call("POST", f"{runtime.gateway}/function/echo", b"x").status == 200, 30)
    assert runtime.function_pid("echo") != before
    assert sample(f"{runtime.gateway}/metrics", "ha_ingestor_function_restarts_total", function="echo") >= 1


def test_cron_function_fires_on_its_schedule_at_the_minute(runtime: LocalRuntime) -> None:
    probe = Path(runtime.env["TEST_PROBE_FILE"])
    lines = wait_for(lambda: probe.exists() and probe.read_text().splitlines(), 75, interval=0.5)
    assert lines, "cron-probe never fired"
    fired_at, method, size, trigger = lines[0].split(" ")
    assert method == "POST" and size == "0" and trigger == "cron"
    assert float(fired_at[17:26]) < 5.0  # within 5 s after the minute boundary


@pytest.fixture()
def own_runtime(tmp_path: Path) -> Iterator[LocalRuntime]:
    rt = LocalRuntime(tmp_path, stack=REPO / "stack.yml")
    yield rt.start()
    rt.stop()


def test_system_functions_lists_what_stack_yml_declares(own_runtime: LocalRuntime) -> None:
    declared = yaml.safe_load((REPO / "stack.yml").read_text())["functions"]
    listed = {f["name"]: f for f in call("GET", f"{own_runtime.gateway}/system/functions").json()}
    assert set(listed) == set(declared)
    for name, fn in declared.items():
        assert listed[name]["annotations"] == {k: str(v) for k, v in fn.get("annotations", {}).items()}


def test_ctrl_c_stops_every_process_and_exits_cleanly(own_runtime: LocalRuntime) -> None:
    assert call("GET", f"{own_runtime.gateway}/function/query/_/ready", timeout=30).status == 200  # from zero
    running = [n for n in own_runtime.ready["functions"] if n not in own_runtime.ready["scaled_to_zero"]]
    children = [own_runtime.function_pid(n) for n in [*running, "query"]]
    nats_port = own_runtime.nats_url.rsplit(":", 1)[1]
    assert own_runtime.stop() == 0
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()]
    out = os.popen("ps -eo args").read()
    assert f"nats-server -c {own_runtime.workdir}" not in out
    assert f":{nats_port}" not in os.popen("ss -ltn").read()


def test_a_request_id_is_unique_per_call(runtime: LocalRuntime) -> None:
    ids = {call("POST", f"{runtime.gateway}/function/echo", b"").headers["X-Call-Id"] for _ in range(3)}
    assert len(ids) == 3 and all(uuid.UUID(i) for i in ids)
