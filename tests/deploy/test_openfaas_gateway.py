"""stack.yml deployed through OpenFaaS's real gateway (built from its Go module) to the local provider.

One stack for tests/deploy (conftest.py): NATS, the provider, the gateway and its Prometheus, the topic
connector; the whole stack.yml deployed once, then each test looks at one behaviour.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import signal
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from ingestor import signedcalls, subjects
from localfaas import stack as stackfile
from tests.e2e.reads import QueryAPI
from tests.support.ha_events import many
from tests.support.jetstream import JetStreamClient
from tests.support.metrics import sample
from tests.support.openfaas import REPO, SECRETS, OpenFaaSStack, deployment
from tests.support.polling import wait_for
from tests.support.runtime import stack_of

pytestmark = pytest.mark.integration
FUNCTIONS = sorted(stackfile.load(REPO / "stack.yml", {}).functions)


def listed(openfaas: OpenFaaSStack) -> dict[str, dict]:
    reply = openfaas.system("GET", "/system/functions")
    assert reply.status == 200, reply.body
    return {f["name"]: f for f in reply.json()}


def test_every_function_of_stack_yml_is_deployed_listed_and_answers_through_the_gateway(
        openfaas: OpenFaaSStack) -> None:
    for name in FUNCTIONS:  # one scaled to zero meanwhile (its zero-duration passed) is scaled up by the call
        reply = openfaas.invoke(f"{name}/_/ready", method="GET")
        assert (reply.status, reply.json()) == (200, {"function": name})
    functions = listed(openfaas)
    assert sorted(functions) == FUNCTIONS
    assert {n: (f["replicas"], f["availableReplicas"]) for n, f in functions.items()} == {n: (1, 1) for n in FUNCTIONS}


def test_system_calls_need_the_gateway_basic_auth_and_invocations_do_not(openfaas: OpenFaaSStack) -> None:
    for method, path in (("GET", "/system/functions"), ("GET", "/system/function/query"), ("GET", "/system/secrets"),
                         ("GET", "/system/info"), ("GET", "/system/logs?name=query")):
        assert openfaas.system(method, path, auth=False).status == 401, path
    assert openfaas.system("POST", "/system/functions", {"service": "x", "image": "ha-ingestor/query"},
                           auth=False).status == 401
    assert openfaas.invoke("query/_/ready", method="GET").status == 200


def test_describe_returns_stack_yml_as_deployed(openfaas: OpenFaaSStack) -> None:
    spec = stackfile.load(REPO / "stack.yml", {**os.environ, **openfaas.ready_env()}).functions["retention-archive"]
    described = openfaas.system("GET", "/system/function/retention-archive").json()
    assert described["image"] == spec.image == "ha-ingestor/retention-archive:latest"
    assert described["annotations"] == spec.annotations and described["annotations"]["topic"] == "cron-function"
    assert described["secrets"] == spec.secrets == ["connector-key", "s3-access-key", "s3-secret-key"]
    assert described["envVars"] == spec.environment and described["envVars"]["NATS_URL"] == openfaas.ready["nats"]
    assert described["labels"] == spec.labels and described["limits"] == spec.limits
    assert openfaas.system("GET", "/system/function/nope").status == 404


def test_info_and_namespaces_name_the_provider_and_its_one_namespace(openfaas: OpenFaaSStack) -> None:
    info = openfaas.system("GET", "/system/info").json()
    assert info["provider"]["provider"] == "ha-ingestor-localfaas"
    assert info["provider"]["orchestration"] == "processes"
    assert openfaas.system("GET", "/system/namespaces").json() == ["openfaas-fn"]


def stored(openfaas: OpenFaaSStack, events: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    """The events of `prefix` the query function returns, once as many as `events` are there (or after a minute)."""
    query = QueryAPI(f"{openfaas.gateway}/function/query")
    begin = dt.datetime.fromisoformat(min(e["time_fired"] for e in events).replace("Z", "+00:00"))
    end = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)

    def found() -> list[dict[str, Any]]:
        return [e for e in query.events(begin - dt.timedelta(minutes=1), end) if e["entity_id"].startswith(prefix)]
    wait_for(lambda: len(found()) >= len(events), 60, 0.5)
    return found()


def test_events_flow_through_the_pipeline_with_the_connector_discovering_functions_via_the_gateway(
        openfaas: OpenFaaSStack) -> None:
    prefix = f"sensor.ofgw_{uuid.uuid4().hex[:6]}"
    events = many(5, prefix=prefix)
    js = JetStreamClient(openfaas.ready["nats"])
    try:
        js.publish_batch("ha.events.raw", f"ofgw-{prefix}", events)
    finally:
        js.close()
    assert len(stored(openfaas, events, prefix)) == 5


def test_the_connector_beside_the_gateway_coalesces_a_backlog_as_the_runtime_does(openfaas: OpenFaaSStack) -> None:
    """write's 8 queued batches reach it in fewer calls (2 of 4: its concurrency 2, coalesce 4), every event once."""
    prefix = f"sensor.ofgwc_{uuid.uuid4().hex[:6]}"
    events = many(40, prefix=prefix)
    write = subjects.durable_name("write", subjects.ENRICHED)
    calls = f"{openfaas.gateway}/function/write/_/metrics"
    before = sample(calls, "ha_ingestor_function_requests_total", function="write", status="200")
    js = JetStreamClient(openfaas.ready["nats"])
    try:
        with js.held(write):
            for n in range(8):
                js.publish_batch(subjects.RAW, f"ofgwc-{prefix}-{n}", events[n * 5:(n + 1) * 5])
            assert wait_for(lambda: js.backlog(write)[0] >= 8, 60), js.backlog(write)
    finally:
        js.close()
    assert len(stored(openfaas, events, prefix)) == 40
    assert 0 < sample(calls, "ha_ingestor_function_requests_total", function="write", status="200") - before < 8


def test_a_function_that_changes_data_refuses_an_unsigned_call_through_the_gateway(openfaas: OpenFaaSStack) -> None:
    reply = openfaas.invoke("write", b"{}")
    assert reply.status == 401
    assert reply.json()["error"]["code"] == "unsigned_call"


def test_secrets_are_listed_by_name_only_and_one_in_use_cannot_be_deleted(openfaas: OpenFaaSStack) -> None:
    names = openfaas.system("GET", "/system/secrets").json()
    assert {s["name"] for s in names} >= set(SECRETS)
    assert all(set(s) == {"name", "namespace"} for s in names)
    assert openfaas.system("DELETE", "/system/secrets", {"name": "connector-key"}).status == 409
    assert openfaas.create_secret("connector-key", "again").status == 409
    assert openfaas.create_secret("spare", "v").status == 201
    assert openfaas.system("DELETE", "/system/secrets", {"name": "spare"}).status == 202
    assert "spare" not in {s["name"] for s in openfaas.system("GET", "/system/secrets").json()}
    log = (openfaas.workdir / "openfaas.log").read_text()
    assert "webhooks-admin-key" not in log and "minio-secret" not in log


@pytest.mark.parametrize(("change", "says"), [
    ({"image": "ha-ingestor/no-such-function:latest"}, "no build context functions/no-such-function"),
    ({"image": "Not An Image!"}, "is not an image reference"),
    ({"secrets": ["connector-key", "never-created"]}, "secret(s) not found: never-created"),
])
def test_a_bad_deployment_is_refused_with_its_reason_and_nothing_is_left_running(
        openfaas: OpenFaaSStack, change: dict, says: str) -> None:
    request = {"service": "broken-one", "image": "ha-ingestor/query:latest", **change}
    reply = openfaas.system("POST", "/system/functions", request)
    assert reply.status == 400
    assert says in reply.body.decode()
    assert "broken-one" not in listed(openfaas)
    assert openfaas.invoke("broken-one", method="GET").status == 404
    assert says in (openfaas.workdir / "openfaas.log").read_text()  # the provider's log line says why


def test_a_handler_folder_missing_from_the_stack_is_refused_before_anything_is_sent(
        openfaas: OpenFaaSStack, tmp_path: Path) -> None:
    stack = stack_of(tmp_path / "stack.yml", ("query",))
    stack.write_text(stack.read_text().replace(str(REPO / "functions" / "query"), str(tmp_path / "gone")))
    with pytest.raises(stackfile.StackError, match="query: handler .* has no handler.py"):
        openfaas.deploy(["query"], stack=stack)
    assert openfaas.invoke("query/_/ready", method="GET").status == 200  # the deployed one is untouched


def test_a_killed_function_is_restarted_and_the_gateway_reports_its_replicas(openfaas: OpenFaaSStack) -> None:
    """availableReplicas is left out when 0: the gateway marshals FunctionStatus with omitempty."""
    pid = openfaas.process("health")[0]
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: listed(openfaas)["health"].get("availableReplicas", 0) == 0, 10, 0.05)
    assert wait_for(lambda: listed(openfaas)["health"].get("availableReplicas") == 1, 30, 0.2)
    assert openfaas.process("health")[0] != pid
    assert openfaas.invoke("health/_/ready", method="GET").status == 200


def test_logs_return_what_the_function_wrote(openfaas: OpenFaaSStack) -> None:
    reply = openfaas.system("GET", "/system/logs?name=query&tail=50")
    assert reply.status == 200
    lines = [line for line in reply.body.decode().splitlines() if line]
    assert lines and all('"name":"query"' in line for line in lines)
    assert any("serving" in line for line in lines)


def test_following_logs_streams_what_a_restarted_function_writes(openfaas: OpenFaaSStack) -> None:
    """tail=1: the gateway sends the response's headers with its first line."""
    request = urllib.request.Request(f"{openfaas.gateway}/system/logs?name=webhooks&follow=true&tail=1",
                                     headers=openfaas.auth)
    with urllib.request.urlopen(request, timeout=30) as stream:
        assert json.loads(stream.readline())["name"] == "webhooks"  # the last line written so far
        killed = dt.datetime.now(dt.UTC)
        os.kill(openfaas.process("webhooks")[0], signal.SIGKILL)  # its restart writes "serving" again
        line = json.loads(stream.readline())
        while "serving" not in line["text"]:
            line = json.loads(stream.readline())
    assert dt.datetime.fromisoformat(line["timestamp"].replace("Z", "+00:00")) > killed
    assert line["name"] == "webhooks" and line["namespace"] == "openfaas-fn"
    assert wait_for(lambda: listed(openfaas)["webhooks"].get("availableReplicas") == 1, 30, 0.2)


def test_remove_stops_the_function_and_a_redeploy_brings_it_back(openfaas: OpenFaaSStack) -> None:
    assert openfaas.system("DELETE", "/system/functions", {"functionName": "dashboard"}).status == 202
    assert "dashboard" not in listed(openfaas)
    assert openfaas.invoke("dashboard/", method="GET").status == 404
    assert openfaas.system("DELETE", "/system/functions", {"functionName": "dashboard"}).status == 404
    assert openfaas.deploy(["dashboard"])["dashboard"].status == 202
    assert openfaas.invoke("dashboard/_/ready", method="GET").status == 200


def test_scaling_through_the_gateway_keeps_one_process(openfaas: OpenFaaSStack) -> None:
    """The CE gateway raises a request for 0 replicas to 1 (scaling.MakeHorizontalScalingHandler)."""
    for asked in (0, 3):
        reply = openfaas.system("POST", "/system/scale-function/query", {"serviceName": "query", "replicas": asked})
        assert reply.status == 202
        assert (listed(openfaas)["query"]["replicas"], listed(openfaas)["query"]["availableReplicas"]) == (1, 1)


def test_the_invocation_count_comes_from_the_gateway_metrics(openfaas: OpenFaaSStack) -> None:
    for _ in range(3):
        openfaas.invoke("webhooks/_/ready", method="GET")
    assert wait_for(lambda: listed(openfaas)["webhooks"].get("invocationCount", 0) >= 3, 20, 0.5)


def test_the_key_signs_a_call_that_a_cron_function_accepts(openfaas: OpenFaaSStack) -> None:
    key = openfaas.secret("connector-key")
    reply = openfaas.invoke("sports-poll", headers=signedcalls.sign(key, "POST", "", "", b""))
    assert reply.status == 200, reply.body


def test_an_idle_function_is_scaled_to_zero_and_the_gateway_scales_it_up_for_the_next_call(
        openfaas: OpenFaaSStack) -> None:
    """The provider stops a function labelled com.openfaas.scale.zero once idle and lists it at 0 replicas; the
    real gateway (scale_from_zero, as faasd runs it) then scales it to 1 and waits for it before forwarding."""
    spec = stackfile.load(REPO / "stack.yml", {**os.environ, **openfaas.ready_env()}).functions["dashboard"]
    idle = dataclasses.replace(spec, name="idle-dashboard", labels={
        **spec.labels, "com.openfaas.scale.zero": "true", "com.openfaas.scale.zero-duration": "1s"})
    assert openfaas.system("POST", "/system/functions", deployment(idle)).status == 202
    try:
        assert wait_for(lambda: listed(openfaas)["idle-dashboard"].get("replicas", 0) == 0, 30, 0.2)  # omitempty
        with pytest.raises(LookupError):
            openfaas.process("idle-dashboard")
        logged = openfaas.log.stat().st_size
        reply = openfaas.invoke("idle-dashboard/_/ready", method="GET")
        assert (reply.status, reply.json()) == (200, {"function": "idle-dashboard"})
        scaled = [json.loads(line) for line in openfaas.log.read_bytes()[logged:].splitlines() if b'"scaled"' in line]
        assert [(e["function"], e["replicas"]) for e in scaled] == [("idle-dashboard", 1)]  # by the gateway
        assert openfaas.process("idle-dashboard")[0] > 0
    finally:
        openfaas.system("DELETE", "/system/functions", {"functionName": "idle-dashboard"})
