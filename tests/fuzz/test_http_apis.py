"""Every function's HTTP API fuzzed through the real local runtime running README's stack.yml: the documented
APIs (query, health, webhooks) with schemathesis against their OpenAPI documents, the pipeline functions with
their real inputs mutated and anything else as POST bodies, the cron functions and the dashboard with any
method, path and query. Nothing may answer a 5xx but the 503s a function documents, to the fuzz or to the
topic connector handing on what the fuzz published, and no function process may exit.

Seeded (schemathesis --seed, hypothesis derandomized) and bounded: about 4,000 requests in ~2 minutes on 2 busy
cores."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from ingestor import subjects
from tests.fuzz import inputs, stack
from tests.support.jetstream import JetStreamClient
from tests.support.polling import wait_for
from tests.support.runtime import LocalRuntime

pytestmark = pytest.mark.integration

KEY = "fuzz-webhooks-admin-key-0001"
SCHEMATHESIS_EXAMPLES = 25  # per operation, after the coverage phase's own cases
BODIES = 150  # per pipeline function
REQUESTS = 150  # per cron function, twice that for the dashboard
DOCUMENTED_503 = {"unavailable", "metadata_unavailable", "archive_failed", "restore_failed"}
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "QUERY"]
SCHEMATHESIS_CONFIG = """
[phases.coverage]
unexpected-methods = ["get", "put", "post", "delete", "options", "patch", "trace"]

[[operations]]
include-path-regex = "^/(status)?$"
checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "503"]  # ?strict=true while unhealthy
"""
FUZZ = settings(derandomize=True, deadline=None, database=None, print_blob=True,
                suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    workdir: Path = tmp_path_factory.mktemp("fuzz")
    (workdir / "secrets").mkdir()
    (workdir / "secrets" / "webhooks-api-key").write_text(KEY)
    path, env = stack.write(workdir)
    with LocalRuntime(workdir, stack=path, env=env) as rt:
        yield rt


def send(runtime: LocalRuntime, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    where = urlsplit(runtime.gateway)
    conn = http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port, timeout=90)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        reply = conn.getresponse()
        return reply.status, reply.read()
    finally:
        conn.close()


def refused(name: str, status: int, body: bytes) -> str | None:
    """Why the answer breaks the rule (a 5xx that is not a documented 503), or None."""
    if status < 500:
        return None
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    if status == 503 and isinstance(doc, dict):
        code = (doc.get("error") or {}).get("code") if isinstance(doc.get("error"), dict) else None
        if code in DOCUMENTED_503 or (name == "health" and doc.get("status") == "unhealthy"):
            return None
    return f"{name} answered {status}: {body[:300]!r}"


def metrics(runtime: LocalRuntime) -> list[Any]:
    with urllib.request.urlopen(f"{runtime.gateway}/metrics", timeout=30) as r:
        return [s for family in text_string_to_metric_families(r.read().decode()) for s in family.samples]


def server_errors(runtime: LocalRuntime) -> dict[tuple[str, str], float]:
    """5xx answers other than 503, per function and code, that the gateway counted since it started: to the fuzz,
    to the topic connector and to the cron connector alike."""
    return {(s.labels["function"], s.labels["code"]): s.value for s in metrics(runtime)
            if s.name == "gateway_invocations_total" and s.labels["code"].startswith("5") and s.labels["code"] != "503"}


def restarts(runtime: LocalRuntime) -> dict[str, float]:
    return {s.labels["function"]: s.value for s in metrics(runtime) if s.name == "function_restarts_total" and s.value}


def assert_nothing_failed(runtime: LocalRuntime) -> None:
    """No 5xx but documented 503s anywhere so far, and every function still runs as the process it started as."""
    assert server_errors(runtime) == {}
    assert restarts(runtime) == {}
    assert {name: runtime.function_pid(name) for name in runtime.ready["pids"]} == runtime.ready["pids"]
    assert runtime.proc is not None and runtime.proc.poll() is None


def registered(runtime: LocalRuntime) -> str:
    """A webhook for the routes that take an id (a public address literal: no DNS, and this admin API's metadata
    DB is not the one webhook-dispatch reads, so nothing is ever sent to it)."""
    body = json.dumps({"url": "https://93.184.216.34/hook", "filters": {"event_types": ["*"]}}).encode()
    status, answer = send(runtime, "POST", "/function/webhooks/webhooks", body,
                          {"X-API-Key": KEY, "Content-Type": "application/json"})
    assert status == 201, answer
    return json.loads(answer)["id"]


@pytest.mark.parametrize("name", ["query", "health", "webhooks"])
def test_schemathesis_finds_no_server_error_in_the_documented_api_of(runtime: LocalRuntime, name: str,
                                                                     tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(SCHEMATHESIS_CONFIG + (f'\n[parameters]\nwebhook_id = "{registered(runtime)}"\n'
                                             if name == "webhooks" else ""))
    base = f"{runtime.gateway}/function/{name}"
    run = subprocess.run(
        [str(Path(sys.executable).parent / "schemathesis"), "--config-file", str(config), "run",
         f"{base}/openapi.json", "--url", base, "--header", f"X-API-Key: {KEY}",
         "--checks", "not_a_server_error",
         "--max-examples", str(SCHEMATHESIS_EXAMPLES), "--workers", "2", "--phases", "examples,coverage,fuzzing",
         "--request-timeout", "60", "--seed", "13", "--generation-database", "none",
         "--suppress-health-check", "too_slow"],  # as FUZZ: generation time depends on the machine's load
        capture_output=True, text=True, timeout=600, cwd=tmp_path, env={**os.environ, "SCHEMATHESIS_HOOKS": ""})
    assert run.returncode == 0, run.stdout[-12000:] + run.stderr[-3000:]
    assert_nothing_failed(runtime)


PIPELINE = {"validate": inputs.raw_events, "normalize": inputs.raw_events, "weather-enrich": inputs.records,
            "write": inputs.records, "metadata-sync": inputs.registry_parts, "webhook-dispatch": inputs.dispatched}


def drained(runtime: LocalRuntime) -> bool:
    """The topic connector has handed on (and had acknowledged) everything the stream holds."""
    client = JetStreamClient(runtime.nats_url)
    try:
        infos = client._run(client.js.consumers_info(subjects.STREAM))
        return all(not i.num_pending and not i.num_ack_pending for i in infos if "--" in i.name)  # the connector's
    finally:
        client.close()


@pytest.mark.parametrize("name", list(PIPELINE))
def test_any_post_body_to_a_pipeline_function_is_answered_without_a_server_error(runtime: LocalRuntime,
                                                                                 name: str) -> None:
    headers = st.fixed_dictionaries({}, optional={"X-Nats-Subject": inputs.PRINTABLE,
                                                  "Content-Type": st.sampled_from(["application/json", "text/plain",
                                                                                   "application/x-www-form-urlencoded"])})

    @settings(FUZZ, max_examples=BODIES)
    @given(body=inputs.bodies(PIPELINE[name]()), extra=headers)
    def post(body: bytes, extra: dict[str, str]) -> None:
        status, answer = send(runtime, "POST", f"/function/{name}", body, extra)
        assert refused(name, status, answer) is None

    post()
    assert wait_for(lambda: drained(runtime), 120, interval=1), "the pipeline did not drain what the fuzz published"
    assert_nothing_failed(runtime)


CRON = {"context-poll": ["/", "/config", "/status"], "sports-poll": ["/", "/config", "/status"],
        "retention-archive": ["/", "/run", "/restore", "/status"]}


@pytest.mark.parametrize("name", list(CRON))
def test_any_request_to_a_cron_function_is_answered_without_a_server_error(runtime: LocalRuntime, name: str) -> None:
    @settings(FUZZ, max_examples=REQUESTS)
    @given(method=st.sampled_from(METHODS), path=inputs.paths(CRON[name]),
           query=inputs.queries(["dry_run", "from", "to", "strict"]), body=st.none() | inputs.JSON.map(inputs.dumps))
    def request(method: str, path: str, query: dict[str, str], body: bytes | None) -> None:
        target = f"/function/{name}{path}" + (f"?{urlencode(query)}" if query else "")
        status, answer = send(runtime, method, target, body)
        assert refused(name, status, answer) is None

    request()
    assert_nothing_failed(runtime)


def test_any_dashboard_path_is_answered_without_a_server_error(runtime: LocalRuntime) -> None:
    @settings(FUZZ, max_examples=REQUESTS * 2)
    @given(method=st.sampled_from(["GET", "HEAD", "GET", "POST"]),
           path=inputs.paths(["/", "/index.html", "/static", "/static/js/main.js", "/static/vendor"]),
           extra=st.fixed_dictionaries({}, optional={"If-None-Match": inputs.PRINTABLE,
                                                     "Accept-Encoding": inputs.PRINTABLE}))
    def request(method: str, path: str, extra: dict[str, str]) -> None:
        status, answer = send(runtime, method, f"/function/dashboard{path}", None, extra)
        assert refused("dashboard", status, answer) is None

    request()
    assert send(runtime, "GET", "/function/dashboard/static/" + "a" * 5000)[0] == 404  # the issue's own case
    assert_nothing_failed(runtime)
