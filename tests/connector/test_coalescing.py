"""The topic connector coalesces a backlog: several queued messages per call for a function that opts in
(`com.ha-ingestor.coalesce`), each message still settled by its own outcome; nothing changes without a backlog or
without the annotation. Through the real local runtime and nats-server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from ingestor import envelope, subjects
from tests.support.jetstream import JetStreamClient
from tests.support.polling import wait_for
from tests.support.runtime import REPO, LocalRuntime

pytestmark = pytest.mark.integration

STACK = REPO / "tests" / "connector" / "stack.coalesce.yml"
TOPICS = {"coalescing": "ha.ext.test.coalescing", "plain": "ha.ext.test.plain"}


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    workdir = tmp_path_factory.mktemp("coalesce")
    with LocalRuntime(workdir, stack=STACK, env={"TEST_HANDLED_DIR": str(workdir)}) as rt:
        yield rt  # tests/conftest.py's `js` connects to this runtime


def handled(runtime: LocalRuntime, function: str, prefix: str) -> list[dict[str, Any]]:
    """The batches `function` handled whose id starts with `prefix`, in order: {"batch", "call", "coalesced"}."""
    path = runtime.workdir / function
    lines = path.read_text().splitlines() if path.exists() else []
    return [line for line in map(json.loads, lines) if line["batch"].startswith(prefix)]


def calls(runtime: LocalRuntime, function: str, prefix: str) -> list[list[str]]:
    """The batches of each call, in order of the calls."""
    by_call: dict[str, list[str]] = {}
    for line in handled(runtime, function, prefix):
        by_call.setdefault(line["call"], []).append(line["batch"])
    return list(by_call.values())


def publish(js: JetStreamClient, function: str, batch_id: str, asks: dict[str, Any] | None = None) -> None:
    js.publish(TOPICS[function], envelope.encode(batch_id, [asks or {"n": 1}]), msg_id=batch_id)


def backlog_behind_a_held_call(runtime: LocalRuntime, js: JetStreamClient, function: str, prefix: str,
                               asks: list[dict[str, Any] | None]) -> list[str]:
    """A call held for a while (one call at a time) and, meanwhile, messages queued behind it: their ids."""
    publish(js, function, f"{prefix}-hold", {"hold_s": 1.5})
    wait_for(lambda: handled(runtime, function, f"{prefix}-hold"), 30)
    ids = [f"{prefix}-{i}" for i in range(len(asks))]
    for batch_id, ask in zip(ids, asks, strict=True):
        publish(js, function, batch_id, ask)
    return ids


def settled(js: JetStreamClient, function: str) -> bool:
    return js.backlog(subjects.durable_name(function, TOPICS[function])) == (0, 0)


def dead_letters(js: JetStreamClient, function: str, prefix: str) -> list[dict[str, Any]]:
    return [m for m in js.messages(subjects.DLQ) if m["stage"] == function
            and m["entries"][0]["payload"]["batch_id"].startswith(prefix)]


def test_a_backlog_is_delivered_in_coalesced_calls_and_each_message_handled_once(
        runtime: LocalRuntime, js: JetStreamClient) -> None:
    ids = backlog_behind_a_held_call(runtime, js, "coalescing", "backlog", [None] * 8)
    wait_for(lambda: len(handled(runtime, "coalescing", "backlog-")) >= 9 and settled(js, "coalescing"), 30)
    assert sorted(line["batch"] for line in handled(runtime, "coalescing", "backlog-")) == sorted(
        ["backlog-hold", *ids])
    assert calls(runtime, "coalescing", "backlog-")[1:] == [ids[:4], ids[4:]]
    assert all(line["coalesced"] for line in handled(runtime, "coalescing", "backlog-")[1:])
    assert dead_letters(js, "coalescing", "backlog-") == []


def test_a_refused_batch_of_a_coalesced_call_dead_letters_only_its_own_message(
        runtime: LocalRuntime, js: JetStreamClient) -> None:
    ids = backlog_behind_a_held_call(runtime, js, "coalescing", "refused", [None, {"refuse": True}, None, None])
    wait_for(lambda: dead_letters(js, "coalescing", "refused-") and settled(js, "coalescing"), 30)
    (letter,) = dead_letters(js, "coalescing", "refused-")
    assert letter["kind"] == "bad_input" and letter["status"] == 422
    assert letter["entries"][0]["payload"]["batch_id"] == ids[1]
    assert "batch refused-1 refused as asked" in letter["entries"][0]["reason"]
    assert calls(runtime, "coalescing", "refused-")[1:] == [ids[:2], *([i] for i in ids)]  # then one by one


def test_a_coalesced_call_answered_503_leaves_every_message_to_be_retried_and_loses_none(
        runtime: LocalRuntime, js: JetStreamClient) -> None:
    ids = backlog_behind_a_held_call(runtime, js, "coalescing", "down", [None, {"unavailable": 2}, None, None])
    wait_for(lambda: len(handled(runtime, "coalescing", ids[1])) >= 3 and settled(js, "coalescing"), 30)
    assert calls(runtime, "coalescing", "down-")[1] == ids[:2]  # the coalesced call, failed at its second batch
    alone = [line["batch"] for line in handled(runtime, "coalescing", "down-") if not line["coalesced"]]
    assert sorted(set(alone)) == sorted(["down-hold", *ids]) and alone.count(ids[1]) == 2  # 503, then 200
    assert dead_letters(js, "coalescing", "down-") == []


def test_a_message_without_a_backlog_is_called_alone_as_one_envelope(
        runtime: LocalRuntime, js: JetStreamClient) -> None:
    publish(js, "coalescing", "single-1")
    wait_for(lambda: handled(runtime, "coalescing", "single-") and settled(js, "coalescing"), 30)
    assert [(line["batch"], line["coalesced"]) for line in handled(runtime, "coalescing", "single-")] == [
        ("single-1", False)]


def test_a_function_without_the_annotation_is_never_coalesced(runtime: LocalRuntime, js: JetStreamClient) -> None:
    ids = backlog_behind_a_held_call(runtime, js, "plain", "plain", [None] * 6)
    wait_for(lambda: len(handled(runtime, "plain", "plain-")) >= 7 and settled(js, "plain"), 30)
    assert calls(runtime, "plain", "plain-") == [["plain-hold"], *([i] for i in ids)]
    assert not any(line["coalesced"] for line in handled(runtime, "plain", "plain-"))
