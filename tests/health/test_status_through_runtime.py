"""GET /, /config and the secrets rule through the real local runtime: every function a process, real NATS,
the event store on the session's PostgreSQL (with a password in its URL), a secret in the secrets folder."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.health.support import STACK, check_schema, component, get, health_url, status
from tests.support import function
from tests.support.polling import wait_for
from tests.support.runtime import REPO, LocalRuntime
from tests.support.servers import PostgresServer

pytestmark = pytest.mark.integration
S3_SECRET = "s3-Secret-Value-9qT2mKx7"
S3_ACCESS = "AKIA-health-test-4471"
PG_PASSWORD = "Pg-Pass-w0rd-8812"


@pytest.fixture(scope="module")
def store_url(postgres: PostgresServer) -> str:
    return postgres.new_database().replace("postgresql://postgres@", f"postgresql://postgres:{PG_PASSWORD}@")


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory, store_url: str) -> Iterator[LocalRuntime]:
    workdir: Path = tmp_path_factory.mktemp("health-runtime")
    (workdir / "secrets").mkdir()
    (workdir / "secrets" / "s3-secret-key").write_text(S3_SECRET)
    (workdir / "secrets" / "s3-access-key").write_text(S3_ACCESS)
    env = {"TEST_EVENT_STORE_URL": store_url, "TEST_SICK_FILE": str(workdir / "sick"),
           "TEST_ATTEMPTS_FILE": str(workdir / "attempts")}
    with LocalRuntime(workdir, stack=STACK, env=env) as rt:
        yield rt


def _functions(runtime: LocalRuntime) -> list[str]:
    return sorted(f["name"] for f in get(runtime.gateway, "/system/functions").json())


def _component_status(runtime: LocalRuntime, name: str) -> str:
    return component(status(health_url(runtime)), name)["status"]


def test_a_stack_without_home_assistant_is_degraded_saying_how_to_connect_it(runtime: LocalRuntime) -> None:
    """Every function ok and nothing else wrong; only the bridge is missing (a stack with HA connected is ok:
    test_bridge_through_runtime)."""
    body = wait_for(lambda: (b := status(health_url(runtime)))["status"] == "degraded"
                    and [c["name"] for c in b["components"] if c["status"] not in ("ok", "unknown")] == ["bridge"]
                    and b, 30)
    assert body, status(health_url(runtime))
    functions = {c["name"]: c for c in body["components"] if c["kind"] == "function" and c["name"] != "gateway"}
    assert sorted(functions) == _functions(runtime)
    assert all(c["status"] == "ok" and c["reasons"] == [] for c in functions.values())
    kinds = {c["kind"] for c in body["components"]}
    assert kinds == {"bridge", "nats", "function", "store", "metadata", "archive", "context", "webhook"}
    assert component(body, "webhook-deliveries")["reasons"] == ["no webhooks registered"]
    bridge = component(body, "bridge")
    assert bridge["status"] == "degraded" and bridge["reasons"][0].startswith("Home Assistant not connected")
    assert "HA_URL" in bridge["reasons"][0]
    assert get(health_url(runtime), "/?strict=true").status == 200
    assert component(body, "event-store")["details"]["backend"] == "postgresql"
    assert {c["consumer"] for c in component(body, "nats")["details"]["consumers"]} >= {
        "validate--ha_events_raw", "normalize--ha_events_valid", "weather-enrich--ha_events_normalized",
        "write--ha_events_enriched", "metadata-sync--ha_registry"}


def test_every_answer_matches_the_functions_own_openapi_document(runtime: LocalRuntime) -> None:
    openapi = get(health_url(runtime), "/openapi.json").json()
    assert openapi["openapi"] == "3.0.3"
    for path in ("/", "/status", "/pipeline", "/config"):
        reply = get(health_url(runtime), path)
        assert reply.status == 200
        check_schema(openapi, path, reply.json())


def test_a_function_failing_its_health_makes_the_system_unhealthy_naming_it(runtime: LocalRuntime) -> None:
    sick = runtime.workdir / "sick"
    sick.write_text("disk full on /data")
    try:
        body = wait_for(lambda: (b := status(health_url(runtime)))["status"] == "unhealthy" and b, 20)
        assert body
        found = component(body, "sick")
        assert found["status"] == "unhealthy"
        assert found["reasons"] == ["health check answered HTTP 503 (unavailable): disk full on /data"]
        assert get(health_url(runtime), "/?strict=true").status == 503
    finally:
        sick.unlink()
    assert wait_for(lambda: _component_status(runtime, "sick") == "ok", 20)
    strict = get(health_url(runtime), "/?strict=true")
    assert strict.status == 200, [c for c in strict.json()["components"] if c["status"] == "unhealthy"]


def test_a_killed_function_is_unhealthy_until_the_supervisor_restarts_it(runtime: LocalRuntime) -> None:
    assert wait_for(lambda: _component_status(runtime, "normalize") == "ok", 20)
    runtime.kill_function("normalize")
    seen: list[dict[str, Any]] = []

    def down() -> bool:
        body = status(health_url(runtime))
        seen.append(body)
        return component(body, "normalize")["status"] == "unhealthy"

    assert wait_for(down, 20, interval=0.05), component(seen[-1], "normalize")
    body = seen[-1]
    assert body["status"] == "unhealthy"
    reasons = component(body, "normalize")["reasons"]
    assert "no available replica (0 of 1)" in reasons or any(r.startswith("health check") for r in reasons)
    assert wait_for(lambda: _component_status(runtime, "normalize") == "ok", 60)


def test_with_nats_unreachable_health_still_answers_naming_nats_unhealthy(runtime: LocalRuntime, store_url: str,
                                                                            tmp_path: Path) -> None:
    env = {"GATEWAY_URL": runtime.gateway, "NATS_URL": "nats://127.0.0.1:9", "EVENT_STORE_URL": store_url,
           "DATA_DIR": str(runtime.workdir / "data"), "SECRETS_DIR": str(runtime.workdir / "secrets")}
    with function.served(REPO / "functions" / "health", "health", tmp_path / "health.log", env) as url:
        started = time.monotonic()
        body = status(url)
        assert time.monotonic() - started < 12  # the probes' deadlines bound it (about 7 s), NATS down or not
        assert body["status"] == "unhealthy"
        nats = component(body, "nats")
        assert nats["status"] == "unhealthy" and "unreachable at nats://127.0.0.1:9" in nats["reasons"][0]
        dead = component(body, "dlq")  # fresh dead letters cannot be ruled out: never ok
        assert dead["status"] == "degraded" and dead["reasons"][0].startswith("dead letters not readable: ")
        assert component(body, "validate")["status"] == "ok"  # everything else is still reported
        assert component(body, "event-store")["status"] == "ok"
        pipeline = get(url, "/pipeline")
        assert pipeline.status == 200 and pipeline.json()["stages"] == []
        assert any("NATS JetStream unreachable" in p for p in pipeline.json()["problems"])
        assert get(url, "/_/health").json() == {"status": "ok"}


def test_with_the_gateway_down_health_still_answers_naming_it(runtime: LocalRuntime, store_url: str,
                                                               tmp_path: Path) -> None:
    env = {"GATEWAY_URL": "http://127.0.0.1:9", "NATS_URL": runtime.nats_url, "EVENT_STORE_URL": store_url,
           "DATA_DIR": str(runtime.workdir / "data")}
    with function.served(REPO / "functions" / "health", "health", tmp_path / "health.log", env) as url:
        body = status(url)
        gateway = component(body, "gateway")
        assert body["status"] == "unhealthy" and gateway["status"] == "unhealthy"
        assert "gateway http://127.0.0.1:9 unreachable" in gateway["reasons"][0]
        assert component(body, "nats")["status"] == "ok"
        assert get(url, "/config").status == 200 and get(url, "/pipeline").status == 200


def test_secrets_never_appear_in_any_answer_or_the_log(runtime: LocalRuntime) -> None:
    answers = b"".join(get(health_url(runtime), path).body
                       for path in ("/", "/status", "/pipeline", "/config", "/openapi.json", "/?strict=true"))
    config = get(health_url(runtime), "/config").json()
    assert config["endpoints"]["event_store"].startswith("postgresql://postgres:***@")
    assert next(f for f in config["functions"] if f["name"] == "retention-archive")["secrets"] == [
        "connector-key", "s3-access-key", "s3-secret-key"]
    log = runtime.log.read_bytes()
    for secret in (S3_SECRET, S3_ACCESS, PG_PASSWORD, runtime.connector_key):
        assert secret.encode() not in answers
        assert secret.encode() not in log


def test_an_unreachable_store_is_unhealthy_and_its_password_is_still_never_shown(runtime: LocalRuntime,
                                                                                 tmp_path: Path) -> None:
    password = "Unreachable-Pw-5519"
    env = {"GATEWAY_URL": runtime.gateway, "NATS_URL": runtime.nats_url,
           "EVENT_STORE_URL": f"postgresql://ingestor:{password}@127.0.0.1:9/ha",
           "METADATA_DB_URL": f"postgresql://ingestor:{password}@127.0.0.1:9/meta",
           "SECRETS_DIR": str(runtime.workdir / "secrets")}
    log = tmp_path / "health.log"
    with function.served(REPO / "functions" / "health", "health", log, env) as url:
        body = status(url)
        store = component(body, "event-store")
        assert body["status"] == "unhealthy" and store["status"] == "unhealthy"
        assert store["reasons"][0].startswith("event store unavailable")
        assert component(body, "metadata-db")["status"] == "degraded"
        answers = b"".join(get(url, p).body for p in ("/", "/pipeline", "/config"))
        assert b"postgresql://ingestor:***@127.0.0.1:9/ha" in answers
    assert password.encode() not in answers and password.encode() not in log.read_bytes()


def _replicas(runtime: LocalRuntime, name: str) -> int:
    (fn,) = [f for f in get(runtime.gateway, "/system/functions").json() if f["name"] == name]
    return fn["replicas"]


def test_a_status_read_leaves_a_function_at_zero_there_and_its_last_status_stands(runtime: LocalRuntime) -> None:
    """Health reading retention-archive's status every check kept it up for good (issue 19's idle footprint)."""
    assert get(runtime.gateway, "/function/retention-archive/status").status == 200  # started by this call
    warm = component(status(health_url(runtime)), "archive")
    assert wait_for(lambda: _replicas(runtime, "retention-archive") == 0, timeout=30), "retention-archive never idled"
    idle = component(status(health_url(runtime)), "archive")
    time.sleep(0.5)
    assert _replicas(runtime, "retention-archive") == 0  # health did not start it
    assert idle == warm  # the last status it gave stands while it does not run


def test_a_function_starting_from_zero_is_ok_while_it_starts_not_unhealthy(runtime: LocalRuntime) -> None:
    """A cold start under load takes seconds; calling it 'no available replica' raised false alarms."""
    assert wait_for(lambda: _replicas(runtime, "slow-start") == 0, timeout=30)
    with ThreadPoolExecutor(1) as pool:
        cold = pool.submit(get, runtime.gateway, "/function/slow-start", 60)
        assert wait_for(lambda: _replicas(runtime, "slow-start") == 1, timeout=10)
        body = status(health_url(runtime))
        found = component(body, "slow-start")
        assert (found["status"], found["reasons"]) == ("ok", []), found
        assert found["details"]["starting_for_s"] >= 0 and found["details"]["available_replicas"] == 0
        assert body["status"] != "unhealthy", [c for c in body["components"] if c["status"] == "unhealthy"]
        assert cold.result(timeout=60).status == 200
