"""Invocations, errors and connector outcomes read from Prometheus text as the template and connector write it."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, generate_latest

from ingestor import subjects
from ingestor.health import promtext


def exposition() -> str:
    registry = CollectorRegistry()
    requests = Counter("ha_ingestor_function_requests_total", "", ["function", "status"], registry=registry)
    requests.labels("validate", "200").inc(7)
    requests.labels("validate", "422").inc(2)
    requests.labels("validate", "503").inc(1)
    messages = Counter("ha_ingestor_connector_messages_total", "", ["function", "topic", "outcome"], registry=registry)
    messages.labels("validate", subjects.RAW, "acked").inc(7)
    messages.labels("validate", subjects.RAW, "dlq_bad_input").inc(2)
    return generate_latest(registry).decode()


def test_errors_are_answers_4xx_and_5xx() -> None:
    assert promtext.requests_by_function(exposition()) == {"validate": {"invocations": 10, "errors": 3}}


def test_connector_outcomes_are_per_function_and_topic() -> None:
    assert promtext.connector_outcomes(exposition()) == {("validate", subjects.RAW): {"acked": 7,
                                                                                         "dlq_bad_input": 2}}


def test_text_that_is_not_an_exposition_gives_no_figures() -> None:
    assert promtext.requests_by_function("<html>502 Bad Gateway</html>") == {}
