"""Each function's port is its own, and "ready" means the function itself answers, through the real runtime."""

from __future__ import annotations

import contextlib
import errno
import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.http import call
from tests.support.metrics import sample
from tests.support.polling import wait_for
from tests.support.runtime import REPO, LocalRuntime

pytestmark = pytest.mark.integration
STACK = REPO / "tests" / "localfaas" / "stack.ports.yml"  # slow-start binds its port 2 s after it starts


def child_port(runtime: LocalRuntime, name: str) -> int | None:
    """The PORT the runtime gave its child `name`, read from the child's environment as soon as it exists."""
    if runtime.proc is None:
        return None
    for proc in Path("/proc").iterdir():
        try:
            if int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1]) != runtime.proc.pid:
                continue
            environ = dict(v.split("=", 1) for v in (proc / "environ").read_text().split("\0") if "=" in v)
        except (OSError, ValueError, IndexError):
            continue
        if environ.get("FUNCTION_NAME") == name:
            return int(environ["PORT"])
    return None


class Impostor(http.server.ThreadingHTTPServer):
    """Another process's server on the port, answering every readiness check as some other function would."""

    def __init__(self, port: int) -> None:
        super().__init__(("127.0.0.1", port), _ImpostorHandler)  # SO_REUSEADDR, as every server sets it
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _ImpostorHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = json.dumps({"function": "echo"}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def starting(tmp_path: Path) -> Iterator[tuple[LocalRuntime, threading.Thread]]:
    """The runtime while it starts (started on a thread: the test acts before it is ready), stopped afterwards."""
    runtime = LocalRuntime(tmp_path, stack=STACK)
    thread = threading.Thread(target=runtime.start, kwargs={"timeout": 90}, daemon=True)
    thread.start()
    yield runtime, thread
    thread.join(90)
    runtime.stop()


def test_a_port_given_to_a_function_cannot_be_taken_before_the_function_binds_it(
        starting: tuple[LocalRuntime, threading.Thread]) -> None:
    runtime, thread = starting
    port = wait_for(lambda: child_port(runtime, "slow-start"), 30, interval=0.02)
    assert port, "slow-start was never started"
    with socket.socket() as other, pytest.raises(OSError) as refused:
        other.bind(("127.0.0.1", port))  # what any other process does with a number it was handed
    assert refused.value.errno == errno.EADDRINUSE
    thread.join(90)
    assert runtime.ready["not_ready"] == {}
    assert call("GET", f"{runtime.gateway}/function/slow-start").json() == {"function": "slow-start"}


def test_a_function_whose_port_another_process_answers_is_not_ready_says_why_once_and_recovers(
        starting: tuple[LocalRuntime, threading.Thread]) -> None:
    runtime, thread = starting
    port = wait_for(lambda: child_port(runtime, "slow-start"), 30, interval=0.02)
    assert port, "slow-start was never started"
    impostor = Impostor(port)
    try:
        thread.join(90)
        reason = runtime.ready.get("not_ready", {}).get("slow-start", "")
        assert "Address already in use" in reason, runtime.ready
        assert call("GET", f"{runtime.gateway}/function/slow-start").status == 503
        listed = {f["name"]: f for f in call("GET", f"{runtime.gateway}/system/functions").json()}
        assert listed["slow-start"]["availableReplicas"] == 0 and listed["echo"]["availableReplicas"] == 1
        assert wait_for(lambda: sample(f"{runtime.gateway}/metrics", "ha_ingestor_function_restarts_total",
                                       function="slow-start") >= 2, 30)
    finally:
        impostor.close()
    answered = wait_for(lambda: call("GET", f"{runtime.gateway}/function/slow-start").status == 200, 60, 0.5)
    assert answered, runtime.log.read_text()[-3000:]
    log = [json.loads(line) for line in runtime.log.read_text().splitlines() if line.startswith("{")]
    said = [e for e in log if e.get("logger") == "localfaas.supervisor" and e.get("function") == "slow-start"]
    assert [e["msg"] for e in said] == ["function not ready; restarting it with backoff until it is",
                                        "function ready again"]
    assert "Address already in use" in said[0]["reason"]


def test_ctrl_c_with_a_call_in_flight_stops_in_seconds_and_says_which_part_was_slow(tmp_path: Path) -> None:
    runtime = LocalRuntime(tmp_path, stack=STACK).start()
    url = f"{runtime.gateway}/function/slow-start?sleep=120"

    def slow_call() -> None:
        with contextlib.suppress(OSError):  # the stopping gateway cuts it
            call("GET", url, timeout=150)

    threading.Thread(target=slow_call, daemon=True).start()
    time.sleep(1)  # the call reaches the function (the gateway's slow stop below shows it did)
    assert runtime.stop(timeout=25) == 0
    slow = [json.loads(line) for line in runtime.log.read_text().splitlines() if '"slow to stop"' in line]
    assert [(entry["part"], entry["seconds"] < 15) for entry in slow] == [("gateway", True)]
