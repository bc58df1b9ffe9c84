"""The local runtime under faults: nats-server dying, a function failing for a while or hanging, Ctrl-C with
messages in flight. Each outage is logged once when it starts and once when it ends, and nothing waits for
a timeout that a restart or a returned message can avoid."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.http import call
from tests.support.jetstream import JetStreamClient
from tests.support.polling import wait_for
from tests.support.runtime import REPO, LocalRuntime

pytestmark = pytest.mark.integration

STACK = REPO / "tests" / "localfaas" / "stack.faults.yml"


def faults_runtime(workdir: Path) -> LocalRuntime:
    return LocalRuntime(workdir, stack=STACK, env={"TEST_ATTEMPTS_FILE": str(workdir / "attempts")})


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[LocalRuntime]:
    with faults_runtime(tmp_path) as rt:
        yield rt


def log_lines(runtime: LocalRuntime, since: int = 0) -> list[dict[str, Any]]:
    """The runtime's JSON log lines (its own and its children's) from byte offset `since`."""
    lines = []
    with open(runtime.log, "rb") as f:
        f.seek(since)
        for raw in f.read().decode(errors="replace").splitlines():
            try:
                lines.append(json.loads(raw))
            except ValueError:
                lines.append({"raw": raw})
    return lines


def messages(lines: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    return [line for line in lines if text in str(line.get("msg", line.get("raw", "")))]


def attempts(runtime: LocalRuntime, message_id: str) -> int:
    path = runtime.workdir / "attempts"
    return path.read_text().split().count(message_id) if path.exists() else 0


def pid_of(runtime: LocalRuntime, name: str) -> int | None:
    try:
        return runtime.function_pid(name)
    except LookupError:
        return None


def healthz(runtime: LocalRuntime) -> tuple[int, dict[str, Any]]:
    reply = call("GET", f"{runtime.gateway}/healthz", timeout=5)
    return reply.status, reply.json()


def publish(runtime: LocalRuntime, doc: dict[str, Any]) -> None:
    js = JetStreamClient(runtime.nats_url)
    try:
        js.publish("ha.ext.test.status", json.dumps(doc).encode())
    finally:
        js.close()


def test_a_dead_nats_server_is_restarted_with_backoff_and_its_outage_logged_once(runtime: LocalRuntime) -> None:
    assert healthz(runtime)[0] == 200
    offset = runtime.log.stat().st_size
    with runtime.nats_held_down():  # every restart fails until the block ends
        down = wait_for(lambda: (h := healthz(runtime))[0] == 503 and h[1], 10)
        assert down and down["status"] == "unhealthy" and down["nats"]["down"] is True, down
        assert "exited with code" in down["nats"]["reason"] or "exited with" in down["nats"]["reason"]
        time.sleep(6)  # a few failed restarts
        during = log_lines(runtime, offset)
    back = wait_for(lambda: (h := healthz(runtime))[0] == 200 and h[1], 40)
    assert back and back["nats"]["down"] is False and back["nats"]["restarts"] == 1, back

    publish(runtime, {"id": "after-restart", "status": 200})
    assert wait_for(lambda: attempts(runtime, "after-restart") == 1, 20), "the connector did not resume"
    lines = log_lines(runtime, offset)
    assert len(messages(lines, "nats-server is down")) == 1
    assert len(messages(lines, "nats-server is back")) == 1
    assert messages(lines, "nats-server is back")[0]["failures"] >= 3, "it was not retried while the port was taken"
    assert not messages(during, "nats: encountered error"), "nats-py's own per-attempt tracebacks"
    assert not [line for line in during if "exc" in line], "a traceback in the log during the outage"
    # one line per part and per change of state: the supervisor, each client's lost connection, the fetches
    assert len(during) <= 8, [line.get("msg") for line in during]


def test_ctrl_c_while_nats_server_is_down_exits_0_and_leaves_nothing_behind(tmp_path: Path) -> None:
    runtime = faults_runtime(tmp_path).start()
    with runtime.nats_held_down():
        assert wait_for(lambda: healthz(runtime)[0] == 503, 10)
        assert runtime.stop() == 0, log_lines(runtime)[-5:]
    assert not (tmp_path / "data" / "runtime.json").exists()
    with pytest.raises(LookupError):
        runtime.nats_server_pid()


def test_a_function_failing_for_a_while_is_logged_once_when_it_starts_and_once_when_it_ends(
        runtime: LocalRuntime) -> None:
    offset = runtime.log.stat().st_size
    publish(runtime, {"id": "store-down", "status": 503, "succeed_after": 8})
    assert wait_for(lambda: attempts(runtime, "store-down") == 9, 60)
    time.sleep(0.5)
    lines = log_lines(runtime, offset)
    started = messages(lines, "function unavailable or timing out")
    ended = messages(lines, "function answers again")
    assert len(started) == 1 and started[0]["function"] == "status" and "503" in started[0]["reason"]
    assert len(ended) == 1 and ended[0]["failures"] == 8


def test_a_function_that_hangs_is_restarted_after_timing_out_n_times_in_a_row(runtime: LocalRuntime) -> None:
    before = runtime.function_pid("status")
    offset = runtime.log.stat().st_size
    publish(runtime, {"id": "hung", "status": 200, "hang_attempts": 2, "hang_s": 60})
    assert wait_for(lambda: pid_of(runtime, "status") not in (None, before), 30), "never restarted"
    assert wait_for(lambda: attempts(runtime, "hung") == 3, 30), "the message was not retried after the restart"
    lines = log_lines(runtime, offset)
    hung = messages(lines, "function hung; restarting it")
    assert len(hung) == 1 and hung[0]["reason"] == "timed out 2 calls in a row"
    assert len(messages(lines, "function unavailable or timing out")) == 1
    assert wait_for(lambda: messages(log_lines(runtime, offset), "function answers again"), 10)
    assert call("POST", f"{runtime.gateway}/function/status", json.dumps({"id": "x", "status": 200}).encode()
                ).status == 200


def test_messages_in_flight_on_ctrl_c_are_returned_and_redelivered_at_the_next_start(tmp_path: Path) -> None:
    runtime = faults_runtime(tmp_path).start()
    try:
        publish(runtime, {"id": "in-flight", "status": 200, "hang_attempts": 1, "hang_s": 1.8})
        assert wait_for(lambda: attempts(runtime, "in-flight") == 1, 20)
    finally:
        assert runtime.stop() == 0
    restarted = faults_runtime(tmp_path).start()
    try:
        started = time.monotonic()
        # ack_wait is the timeout plus 30 s: a message left unsettled would wait that long
        assert wait_for(lambda: attempts(restarted, "in-flight") == 2, 15), "not redelivered promptly"
        assert time.monotonic() - started < 15
    finally:
        restarted.stop()
