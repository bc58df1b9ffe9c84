"""stack.yml as faas-cli reads it, and the errors that stop the runtime before it starts."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ingestor import subjects
from localfaas import stack
from localfaas.scaletozero import idle_after
from tests.support.runtime import REPO


def write(tmp_path: Path, functions: str) -> Path:
    (tmp_path / "fn").mkdir(exist_ok=True)
    (tmp_path / "fn" / "handler.py").write_text("def handle(event, context): return None\n")
    path = tmp_path / "stack.yml"
    path.write_text("version: 1.0\nprovider: {name: openfaas, gateway: http://x}\nfunctions:\n" + functions)
    return path


def test_variables_expand_with_defaults_like_faas_cli() -> None:
    env = {"SET": "value", "EMPTY": ""}
    assert stack.substitute("${SET} ${UNSET:-fallback} ${EMPTY:-d} ${UNSET}.", env) == "value fallback d ."


def test_the_project_stack_declares_validate_and_normalize_on_their_topics() -> None:
    loaded = stack.load(REPO / "stack.yml", env={"NATS_URL": "nats://127.0.0.1:1"})
    assert loaded.functions["validate"].topics == [subjects.RAW]
    assert loaded.functions["normalize"].topics == [subjects.VALID]
    assert loaded.functions["validate"].environment["NATS_URL"] == "nats://127.0.0.1:1"
    assert loaded.copy == [REPO / "functions" / "common"]
    assert all(f.limits and f.requests for f in loaded.functions.values())


def test_a_cron_function_has_its_schedule(tmp_path: Path) -> None:
    path = write(tmp_path, "  tick:\n    lang: python3-ingestor\n    handler: ./fn\n    image: t\n"
                           "    annotations: {topic: cron-function, schedule: '*/5 * * * *'}\n")
    assert stack.load(path).functions["tick"].schedule == "*/5 * * * *"


@pytest.mark.parametrize(("functions", "message"), [
    ("  Bad_Name:\n    lang: python3-ingestor\n    handler: ./fn\n", "function name"),
    ("  f:\n    lang: python3\n    handler: ./fn\n", "lang must be python3-ingestor"),
    ("  f:\n    lang: python3-ingestor\n    handler: ./missing\n", "has no handler.py"),
    ("  f:\n    lang: python3-ingestor\n    handler: ./fn\n    annotations: {topic: cron-function, schedule: 'nope'}\n",
     "5-field cron"),
    ("  f:\n    lang: python3-ingestor\n    handler: ./fn\n"
     "    annotations: {topic: 'cron-function,ha.x', schedule: '* * * * *'}\n", "no other topic"),
    ("  f:\n    lang: python3-ingestor\n    handler: ./fn\n    secrets: token\n", "secrets must be a list"),
    ("  f:\n    lang: python3-ingestor\n    handler: ./fn\n    environment: {REQUIRE_CONNECTOR_SIGNATURE: 'true'}\n",
     "needs the connector-key secret"),
    ("  f:\n    lang: python3-ingestor\n    handler: ./fn\n    environment: {REQUIRE_CONNECTOR_SIGNATURE: 'sure'}\n"
     "    secrets: [connector-key]\n", "must be true or false"),
])
def test_invalid_stacks_are_refused_with_a_clear_reason(tmp_path: Path, functions: str, message: str) -> None:
    with pytest.raises(stack.StackError, match=message):
        stack.load(write(tmp_path, functions))


def test_a_zero_duration_that_is_not_a_duration_is_refused_naming_the_function_and_label(tmp_path: Path) -> None:
    spec = stack.FunctionSpec(name="query", handler=tmp_path, image="query",
                              labels={"com.openfaas.scale.zero": "true", "com.openfaas.scale.zero-duration": "soon"})
    with pytest.raises(stack.StackError, match="query: label com.openfaas.scale.zero-duration .* got 'soon'"):
        idle_after(spec)
    two_minutes = {**spec.labels, "com.openfaas.scale.zero-duration": "2m"}
    assert idle_after(dataclasses.replace(spec, labels=two_minutes)) == 120
    assert idle_after(dataclasses.replace(spec, labels={"com.openfaas.scale.zero": "false"})) is None
