"""How the connector reads a function's answer, names its consumers and spaces its retries."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from ha_connector.catalog import duration, timeout_of
from ha_connector.invoke import Outcome, Result
from ha_connector.topics import backoff, grouped
from ingestor import subjects


@pytest.mark.parametrize(("status", "error", "outcome"), [
    (200, None, Outcome.OK), (202, None, Outcome.OK),
    (400, None, Outcome.BAD_INPUT), (413, None, Outcome.BAD_INPUT), (422, None, Outcome.BAD_INPUT),
    (408, None, Outcome.FAILED), (500, None, Outcome.FAILED), (502, None, Outcome.FAILED),
    (504, None, Outcome.FAILED),
    (503, None, Outcome.UNAVAILABLE), (429, None, Outcome.UNAVAILABLE),
    (None, "timeout", Outcome.FAILED), (None, "gateway unreachable: ClientConnectorError", Outcome.UNAVAILABLE),
])
def test_each_answer_maps_to_one_outcome(status: int | None, error: str | None, outcome: Outcome) -> None:
    assert Result(status, error=error).outcome is outcome


def test_the_reason_carries_the_functions_error_body() -> None:
    result = Result(422, b'{"error": {"code": "no_valid_event", "message": "m"}}')
    assert result.reason == 'HTTP 422: {"error": {"code": "no_valid_event", "message": "m"}}'


def test_consumer_names_hold_no_subject_wildcards_or_dots() -> None:
    assert subjects.durable_name("validate", subjects.RAW) == "validate--ha_events_raw"
    assert subjects.durable_name("f", "ha.*.x.>") == "f--ha_star_x_all"


def test_the_function_a_consumer_feeds_is_read_back_from_its_name() -> None:
    assert subjects.function_of(subjects.durable_name("weather-enrich", subjects.NORMALIZED)) == "weather-enrich"
    assert subjects.function_of("health-dlq-reader") is None


def test_backoff_doubles_from_its_base_and_caps_at_a_minute() -> None:
    assert [backoff(1.0, n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert backoff(0.2, 2) == pytest.approx(0.4)
    assert backoff(1.0, 30) == 60.0


@pytest.mark.parametrize(("raw", "seconds"), [("250ms", 0.25), ("30s", 30), ("2m", 120), ("1h", 3600), ("7", 7)])
def test_durations_read_like_openfaas(raw: str, seconds: float) -> None:
    assert duration(raw) == seconds


def test_timeout_defaults_to_thirty_seconds() -> None:
    assert timeout_of({}) == 30
    assert timeout_of({"com.ha-ingestor.timeout": "5s"}) == 5


def fetched(*sizes: int, subject: str = "s") -> list[Any]:
    return [SimpleNamespace(subject=subject, data=b"x" * size, n=i) for i, size in enumerate(sizes)]


def numbers(groups: list[list[Any]]) -> list[list[int]]:
    return [[m.n for m in group] for group in groups]


def test_without_a_backlog_each_message_is_its_own_call() -> None:
    assert numbers(grouped(fetched(10, 10, 10), calls=4, most=4)) == [[0], [1], [2]]


def test_a_function_that_does_not_coalesce_gets_each_message_alone() -> None:
    assert numbers(grouped(fetched(*[10] * 6), calls=4, most=1)) == [[0], [1], [2], [3], [4], [5]]


def test_a_backlog_is_shared_among_the_calls_up_to_coalesce_each() -> None:
    assert numbers(grouped(fetched(*[10] * 16), calls=4, most=4)) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11],
                                                                        [12, 13, 14, 15]]
    assert numbers(grouped(fetched(*[10] * 6), calls=4, most=4)) == [[0, 1], [2, 3], [4, 5]]


def test_messages_of_other_subjects_go_in_other_calls() -> None:
    msgs = fetched(10, 10) + fetched(10, 10, subject="t")
    assert [[m.subject for m in g] for g in grouped(msgs, calls=1, most=4)] == [["s", "s"], ["t", "t"]]


def test_a_coalesced_body_stays_within_its_byte_bound_and_a_larger_message_goes_alone() -> None:
    assert numbers(grouped(fetched(40, 40, 40, 200, 10), calls=1, most=8, max_bytes=120)) == [[0, 1], [2], [3], [4]]
