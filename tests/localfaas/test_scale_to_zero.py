"""Functions labelled `com.openfaas.scale.zero: "true"` run only while they are used (localfaas.scaletozero):
not started with the runtime, started by their first call (which waits for them), stopped when idle."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.http import call
from tests.support.polling import wait_until
from tests.support.runtime import REPO, LocalRuntime

pytestmark = pytest.mark.integration

STACK = REPO / "tests" / "localfaas" / "stack.scale.yml"


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[LocalRuntime]:
    with LocalRuntime(tmp_path, stack=STACK) as rt:
        yield rt


def pid(runtime: LocalRuntime, name: str) -> int | None:
    try:
        return runtime.function_pid(name)
    except LookupError:
        return None


def described(runtime: LocalRuntime, name: str) -> dict[str, Any]:
    return call("GET", f"{runtime.gateway}/system/function/{name}").json()


def replicas(runtime: LocalRuntime, name: str) -> tuple[int, int]:
    fn = described(runtime, name)
    return fn["replicas"], fn["availableReplicas"]


def test_a_function_labelled_to_scale_to_zero_starts_on_its_first_call_which_waits_for_it(
        runtime: LocalRuntime) -> None:
    assert runtime.ready["scaled_to_zero"] == ["no-start", "on-demand"]
    assert pid(runtime, "on-demand") is None and replicas(runtime, "on-demand") == (0, 0)
    assert pid(runtime, "warm") is not None and replicas(runtime, "warm") == (1, 1)
    with concurrent.futures.ThreadPoolExecutor(3) as pool:  # all three arrive while it loads (0.5 s)
        replies = list(pool.map(lambda _: call("GET", f"{runtime.gateway}/function/on-demand", timeout=30), range(3)))
    assert [r.status for r in replies] == [200, 200, 200], [r.body for r in replies]
    assert {r.json()["function"] for r in replies} == {"on-demand"}
    assert replicas(runtime, "on-demand") == (1, 1)
    assert pid(runtime, "on-demand") is not None


def test_an_idle_function_is_stopped_after_its_zero_duration_and_the_next_call_starts_it_again(
        runtime: LocalRuntime) -> None:
    assert call("GET", f"{runtime.gateway}/function/on-demand", timeout=30).status == 200
    first = pid(runtime, "on-demand")
    wait_until(lambda: pid(runtime, "on-demand") is None, 15, "on-demand stopped 2 s after its last call")
    assert replicas(runtime, "on-demand") == (0, 0)
    assert pid(runtime, "warm") is not None  # labelled scale.zero "false": never stopped for being idle
    assert call("GET", f"{runtime.gateway}/function/on-demand", timeout=30).status == 200
    assert pid(runtime, "on-demand") not in (None, first)


def test_a_metrics_scrape_of_a_function_at_zero_answers_empty_without_starting_it(runtime: LocalRuntime) -> None:
    reply = call("GET", f"{runtime.gateway}/function/on-demand/_/metrics")
    assert (reply.status, reply.body) == (200, b"")
    assert pid(runtime, "on-demand") is None and replicas(runtime, "on-demand") == (0, 0)
    assert call("GET", f"{runtime.gateway}/function/on-demand", timeout=30).status == 200
    assert b"function_requests_total" in call("GET", f"{runtime.gateway}/function/on-demand/_/metrics").body


def test_a_call_in_flight_keeps_its_function_running_past_the_zero_duration(runtime: LocalRuntime) -> None:
    reply = call("GET", f"{runtime.gateway}/function/on-demand?sleep=3.5", timeout=30)  # longer than 2 s idle
    assert reply.status == 200, reply.body


def test_a_function_that_fails_to_start_on_demand_answers_503_with_the_reason_and_healthz_names_it(
        runtime: LocalRuntime) -> None:
    reply = call("GET", f"{runtime.gateway}/function/no-start", timeout=30)
    assert reply.status == 503
    error = reply.json()["error"]
    assert error["code"] == "function_unavailable"
    assert "could not be started" in error["message"]
    assert "no-start cannot start: its configuration is broken" in error["message"]
    health = call("GET", f"{runtime.gateway}/healthz").json()
    assert health["status"] == "degraded"
    assert "no-start cannot start" in health["functions_not_ready"]["no-start"]
    assert replicas(runtime, "no-start") == (1, 0)  # wanted and not available: what the health function reports
    wait_until(lambda: replicas(runtime, "no-start") == (0, 0), 15, "no-start scaled down 2 s after the call")
    assert "no-start" not in call("GET", f"{runtime.gateway}/healthz").json()["functions_not_ready"]
