"""The python3-ingestor template entry, run as the process the runtime and of-watchdog start."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestor import signedcalls
from tests.support.function import served
from tests.support.http import call
from tests.support.runtime import REPO

SECRET = "sk-live-0123456789abcdef"


@pytest.fixture(scope="module")
def boom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    secrets = tmp_path_factory.mktemp("secrets")
    (secrets / "api-key").write_text(SECRET)
    log = secrets.parent / "boom.log"
    env = {"SECRETS_DIR": str(secrets), "MAX_BODY_BYTES": "1000"}
    with served(REPO / "tests" / "fake_functions" / "boom", "boom", log, env) as url:
        yield url, log


def test_a_dict_body_is_sent_as_json_with_its_status(boom: tuple[str, Path]) -> None:
    reply = call("POST", f"{boom[0]}/dict")
    assert reply.status == 201
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json() == {"created": True}


def test_a_text_body_keeps_its_headers(boom: tuple[str, Path]) -> None:
    reply = call("GET", f"{boom[0]}/text")
    assert (reply.status, reply.body, reply.headers["Content-Type"]) == (200, b"plain text", "text/plain")


def test_a_none_result_is_an_empty_200(boom: tuple[str, Path]) -> None:
    reply = call("GET", f"{boom[0]}/none")
    assert (reply.status, reply.body) == (200, b"")


def test_the_handlers_start_runs_once_when_the_process_starts(boom: tuple[str, Path]) -> None:
    call("GET", f"{boom[0]}/none")
    assert call("GET", f"{boom[0]}/starts").json() == {"starts": 1}


def test_a_handler_exception_is_a_json_500_without_trace_or_secret(boom: tuple[str, Path]) -> None:
    reply = call("POST", f"{boom[0]}/raise")
    assert reply.status == 500
    assert reply.json() == {"error": {"code": "internal_error", "message": "the function failed; see its logs"}}
    log = boom[1].read_text()
    assert "exploded holding [REDACTED]" in log
    assert SECRET not in log


def test_a_bad_request_error_is_a_json_4xx_with_the_secret_redacted(boom: tuple[str, Path]) -> None:
    reply = call("POST", f"{boom[0]}/bad")
    assert reply.status == 400
    assert reply.json() == {"error": {"code": "bad_thing", "message": "bad input near [REDACTED]"}}


def test_a_body_over_max_body_bytes_is_a_json_413(boom: tuple[str, Path]) -> None:
    reply = call("POST", f"{boom[0]}/dict", b"x" * 1001)
    assert reply.status == 413
    assert reply.json()["error"]["code"] == "request_entity_too_large"


def test_the_root_path_is_answered_as_every_other_path(boom: tuple[str, Path]) -> None:
    """The root (every connector's call) skips Flask's routing: its answers must not tell."""
    root, other = call("POST", f"{boom[0]}/", b"{}"), call("POST", f"{boom[0]}/text", b"{}")
    assert (root.status, root.body) == (other.status, other.body) == (200, b"plain text")
    assert {k: v for k, v in root.headers.items() if k != "Date"} == \
        {k: v for k, v in other.headers.items() if k != "Date"}
    assert call("PUT", f"{boom[0]}/?kind=dict", b"{}").json() == {"created": True}


def test_the_root_path_keeps_the_error_contract(boom: tuple[str, Path]) -> None:
    failed = call("POST", f"{boom[0]}/?kind=raise", b"{}")
    assert (failed.status, failed.json()["error"]["code"]) == (500, "internal_error")
    bad = call("POST", f"{boom[0]}/?kind=bad", b"{}")
    assert (bad.status, bad.json()) == (400, {"error": {"code": "bad_thing", "message": "bad input near [REDACTED]"}})
    too_large = call("POST", f"{boom[0]}/", b"x" * 1001)
    assert (too_large.status, too_large.json()["error"]["code"]) == (413, "request_entity_too_large")


def test_health_reports_the_handlers_own_check(boom: tuple[str, Path]) -> None:
    reply = call("GET", f"{boom[0]}/_/health")
    assert reply.status == 503
    assert reply.json() == {"status": "degraded", "reason": "test"}


def test_logs_are_one_json_object_per_line(boom: tuple[str, Path]) -> None:
    import json
    lines = [json.loads(line) for line in boom[1].read_text().splitlines() if line.strip()]
    assert lines and all({"ts", "level", "service", "msg"} <= set(entry) for entry in lines)
    assert {entry["service"] for entry in lines} == {"boom"}


def test_readiness_names_the_function_that_answers(boom: tuple[str, Path]) -> None:
    reply = call("GET", f"{boom[0]}/_/ready")
    assert (reply.status, reply.json()) == (200, {"function": "boom"})


def test_a_signed_only_function_refuses_unsigned_calls_but_not_its_own_paths(tmp_path: Path) -> None:
    (tmp_path / "connector-key").write_text("key-for-the-template-test-0123456789\n")
    env = {"SECRETS_DIR": str(tmp_path), signedcalls.REQUIRED: "true"}
    with served(REPO / "tests" / "fake_functions" / "boom", "boom", tmp_path / "boom.log", env) as url:
        for path in ("/dict", "/"):
            refused = call("POST", f"{url}{path}", b"{}")
            assert refused.status == 401 and refused.json()["error"]["code"] == "unsigned_call"
        signed = signedcalls.sign("key-for-the-template-test-0123456789", "POST", "/dict", "", b"{}")
        assert call("POST", f"{url}/dict", b"{}", signed).status == 201
        signed = signedcalls.sign("key-for-the-template-test-0123456789", "POST", "", "kind=dict", b"{}")
        assert call("POST", f"{url}/?kind=dict", b"{}", signed).status == 201
        assert call("GET", f"{url}/_/ready").status == 200 and call("GET", f"{url}/_/metrics").status == 200
        assert call("GET", f"{url}/_/health").json() == {"status": "degraded", "reason": "test"}  # its own check


def test_a_signed_only_function_without_its_key_refuses_every_call(tmp_path: Path) -> None:
    """Fail closed: a deployment that forgot the secret must not fall back to accepting anyone."""
    env = {"SECRETS_DIR": str(tmp_path), signedcalls.REQUIRED: "true", "CONNECTOR_KEY": ""}
    with served(REPO / "tests" / "fake_functions" / "boom", "boom", tmp_path / "boom.log", env) as url:
        reply = call("POST", f"{url}/dict", b"{}", signedcalls.sign("any-key-at-all", "POST", "/dict", "", b"{}"))
        assert reply.status == 503 and reply.json()["error"]["code"] == "connector_key_missing"


def test_a_function_using_nats_does_not_load_aiohttp_which_it_can_still_import(tmp_path: Path) -> None:
    """nats-py's WebSocket transport is the only user of aiohttp in a function (9 MB of its RSS)."""
    with served(REPO / "tests" / "fake_functions" / "modules", "modules", tmp_path / "modules.log", {}) as url:
        assert call("GET", f"{url}/").json() == {"loaded": ["nats"]}
        assert call("GET", f"{url}/import/aiohttp").json() == {"loaded": ["aiohttp", "nats"]}


def test_a_body_read_in_many_pieces_reaches_the_handler_whole(tmp_path: Path) -> None:
    """A coalesced call's body (up to 512 KiB) takes several of waitress's reads (RECV_BYTES each), split at
    every boundary alike: the handler gets it byte for byte."""
    body = bytes(range(256)) * 2048 + b"tail"  # 512 KiB and 4 bytes: no read ends on a round size
    with served(REPO / "tests" / "fake_functions" / "echo", "echo", tmp_path / "log", {}) as url:
        reply = call("POST", f"{url}/", body)
    assert reply.status == 200
    assert base64.b64decode(reply.json()["body"]) == body
